package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/client"
)

// gate holds single EVALSHA commands until released, and counts the
// pipelines that pass it with their sizes.
type gate struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	piped   []int
}

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" {
			g.entered <- struct{}{}
			<-g.release
		}
		return next(ctx, cmd)
	}
}

func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() == "evalsha" { // not a connection's handshake
			g.mu.Lock()
			g.piped = append(g.piped, len(cmds))
			g.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

var _ redis.Hook = (*gate)(nil)

// Callers that find every in-flight slot taken wait and go out together in
// one pipeline, each with its own outcome: a written job, a taken id
// (ErrJobExists), a Redis error for a queue key of the wrong type; a caller
// whose context ends while it waits leaves with ctx.Err() and its job is
// never written.
func TestConcurrentEnqueuesGoOutTogetherWithTheirOwnOutcomes(t *testing.T) {
	ctx := context.Background()
	c, mr, rdb := newClient(t, client.Options{}, nil)
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: "f", Options: client.EnqueueOptions{JobID: "taken"}}); err != nil {
		t.Fatal(err)
	}
	mr.Set("not-a-zset", "x")
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	rdb.AddHook(g)

	type outcome struct {
		job *client.Job
		err error
	}
	results := map[string]chan outcome{}
	start := func(ctx context.Context, id, queue string) {
		ch := make(chan outcome, 1)
		results[id] = ch
		go func() {
			job, err := c.EnqueueRequest(ctx, client.Request{Function: "f", Args: []any{id},
				Options: client.EnqueueOptions{JobID: id, QueueName: queue}})
			ch <- outcome{job, err}
		}()
	}
	for i := range client.MaxInFlight { // these hold every slot, at the gate
		start(ctx, fmt.Sprintf("first%d", i), "")
		<-g.entered
	}
	cancelled, cancel := context.WithCancel(ctx)
	start(ctx, "a", "")
	start(ctx, "taken", "")
	start(cancelled, "gone", "")
	start(ctx, "wrongtype", "not-a-zset")
	start(ctx, "b", "")
	waitFor(t, func() bool { return client.WaitingEnqueues(c) == 5 })
	cancel()
	if o := <-results["gone"]; !errors.Is(o.err, context.Canceled) {
		t.Fatalf("a waiting caller whose context ended: %v, want context.Canceled", o.err)
	}
	delete(results, "gone")
	close(g.release)

	for id, ch := range results {
		o := <-ch
		switch id {
		case "taken":
			if !errors.Is(o.err, client.ErrJobExists) {
				t.Errorf("taken: %v, want ErrJobExists", o.err)
			}
		case "wrongtype":
			if o.err == nil || errors.Is(o.err, client.ErrJobExists) || !strings.Contains(o.err.Error(), "WRONGTYPE") {
				t.Errorf("wrongtype: %v, want Redis's WRONGTYPE", o.err)
			}
		default:
			if o.err != nil || o.job.ID != id {
				t.Errorf("%s: %+v, %v", id, o.job, o.err)
			}
			if _, err := rdb.ZScore(ctx, "arq:queue", id).Result(); err != nil {
				t.Errorf("%s not queued: %v", id, err)
			}
		}
	}
	if mr.Exists("arq:job:gone") {
		t.Error("the job of a caller that left was written")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.piped) != 1 || g.piped[0] != 4 {
		t.Errorf("pipelines sent: %v, want one of the 4 jobs that waited", g.piped)
	}
}

// A lone caller's enqueue is one EVALSHA of its own, never a pipeline.
func TestALoneEnqueueIsOneCommand(t *testing.T) {
	ctx := context.Background()
	c, _, rdb := newClient(t, client.Options{}, nil)
	g := &gate{entered: make(chan struct{}, 10), release: make(chan struct{})}
	close(g.release)
	rdb.AddHook(g)
	for range 5 {
		if _, err := c.Enqueue(ctx, "f"); err != nil {
			t.Fatal(err)
		}
	}
	if len(g.entered) != 5 || len(g.piped) != 0 {
		t.Fatalf("%d single commands, pipelines %v; want 5 and none", len(g.entered), g.piped)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
