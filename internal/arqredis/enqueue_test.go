package arqredis_test

import (
	"context"
	"testing"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
	"github.com/goarq/goarq/internal/redistest"
)

// EnqueueOne, the single-job path, writes exactly what a batch of one
// writes, loads the script itself on a server that does not know it, and
// refuses a taken id.
func TestEnqueueOneWritesWhatABatchOfOneWrites(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t, nil)
	ctx := context.Background()
	r := arqredis.New(c, nil)
	job := func(id string) arqredis.Enqueue {
		return arqredis.Enqueue{JobID: id, Queue: "q", Score: 1234, ExpiresMS: 60_000, Data: []byte("record of " + id)}
	}

	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	ok, err := r.EnqueueOne(ctx, job("one"))
	if err != nil || !ok {
		t.Fatalf("EnqueueOne on a server without the script: %v, %v; want enqueued", ok, err)
	}
	oks, err := r.Enqueue(ctx, []arqredis.Enqueue{job("batch")})
	if err != nil || !oks[0] {
		t.Fatalf("Enqueue: %v, %v", oks, err)
	}
	for _, id := range []string{"one", "batch"} {
		key := arqcompat.JobKey(id)
		if got, err := c.Get(ctx, key).Result(); err != nil || got != "record of "+id {
			t.Fatalf("%s = %q, %v", key, got, err)
		}
		if ttl, err := c.PTTL(ctx, key).Result(); err != nil || ttl.Milliseconds() <= 0 || ttl.Milliseconds() > 60_000 {
			t.Fatalf("%s TTL %v, %v; want at most 60 s", key, ttl, err)
		}
		if score, err := c.ZScore(ctx, "q", id).Result(); err != nil || score != 1234 {
			t.Fatalf("score of %s = %v, %v", id, score, err)
		}
	}

	taken := job("one")
	taken.Data = []byte("another record")
	if ok, err := r.EnqueueOne(ctx, taken); err != nil || ok {
		t.Fatalf("EnqueueOne of a queued id: %v, %v; want not enqueued", ok, err)
	}
	if err := c.Set(ctx, arqcompat.ResultKey("done"), "result", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.EnqueueOne(ctx, job("done")); err != nil || ok {
		t.Fatalf("EnqueueOne of an id with a kept result: %v, %v; want not enqueued", ok, err)
	}
	if got, err := c.Get(ctx, arqcompat.JobKey("one")).Result(); err != nil || got != "record of one" {
		t.Fatalf("the refused enqueue overwrote the job: %q, %v", got, err)
	}
	if n, err := c.ZCard(ctx, "q").Result(); err != nil || n != 2 {
		t.Fatalf("queue holds %d jobs, %v; want 2", n, err)
	}
}

// A batch on a server that does not know the script (a fresh or restarted
// Redis) loads it and runs every job once; a job whose keys the caller made
// is written under them, the job's default TTL is one day.
func TestEnqueueBatchLoadsTheScriptAndTakesCallersKeys(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t, nil)
	ctx := context.Background()
	r := arqredis.New(c, nil)
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	jobs := []arqredis.Enqueue{
		{JobID: "a", Queue: "q", Score: 1, ExpiresMS: arqredis.ExpiresExtraMS, Data: []byte("A")},
		{JobID: "b", Queue: "q", Score: 2, ExpiresMS: 5000, Data: []byte("B"),
			JobKey: arqcompat.JobKey("b"), ResultKey: arqcompat.ResultKey("b")},
	}
	oks, err := r.Enqueue(ctx, jobs)
	if err != nil || !oks[0] || !oks[1] {
		t.Fatalf("Enqueue on a server without the script: %v, %v", oks, err)
	}
	for id, want := range map[string]int64{"a": arqredis.ExpiresExtraMS, "b": 5000} {
		ttl, err := c.PTTL(ctx, arqcompat.JobKey(id)).Result()
		if err != nil || ttl.Milliseconds() <= want-5000 || ttl.Milliseconds() > want {
			t.Fatalf("TTL of %s: %v, %v; want about %d ms", id, ttl, err, want)
		}
	}
	if ids, err := c.ZRange(ctx, "q", 0, -1).Result(); err != nil || len(ids) != 2 || ids[0] != "a" || ids[1] != "b" {
		t.Fatalf("queue %v, %v", ids, err)
	}
	jobs[0].Data, jobs[1].Data = []byte("A2"), []byte("B2")
	if oks, err := r.Enqueue(ctx, jobs); err != nil || oks[0] || oks[1] {
		t.Fatalf("the same ids again: %v, %v; want neither enqueued", oks, err)
	}
}
