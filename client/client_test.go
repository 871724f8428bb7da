package client_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
)

// newClient is a client with opts on a fresh miniredis; a non-nil now
// replaces its clock.
func newClient(t *testing.T, opts client.Options, now func() time.Time) (*client.Client, *miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr, rdb := testutil.Redis(t)
	c := client.New(rdb, opts)
	if now != nil {
		client.WithClock(c, now)
	}
	return c, mr, rdb
}

func TestEnqueueWritesWhatArqWrites(t *testing.T) {
	for _, watchMulti := range []bool{false, true} {
		t.Run(fmt.Sprintf("WatchMulti=%v", watchMulti), func(t *testing.T) { testEnqueue(t, watchMulti) })
	}
}

func testEnqueue(t *testing.T, watchMulti bool) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	c, mr, rdb := newClient(t, client.Options{WatchMulti: watchMulti}, func() time.Time { return now })

	job, err := c.EnqueueRequest(ctx, client.Request{Function: "add", Args: []any{1, 2}, Kwargs: map[string]any{"x": "y"},
		Options: client.EnqueueOptions{JobID: "j1", DeferBy: 90 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != "j1" || job.Queue != "arq:queue" {
		t.Fatalf("job %+v", job)
	}
	score, _ := rdb.ZScore(ctx, "arq:queue", "j1").Result()
	if int64(score) != now.UnixMilli()+90_000 {
		t.Errorf("score %v", score)
	}
	if ttl := mr.TTL("arq:job:j1"); ttl != 90*time.Second+24*time.Hour {
		t.Errorf("job key TTL %s, want deferral + expires_extra_ms", ttl)
	}
	raw, _ := rdb.Get(ctx, "arq:job:j1").Bytes()
	rec, err := arqcompat.DecodeJob(c.Serializer(), raw)
	if err != nil || rec.Function != "add" || rec.EnqueueTimeMS != now.UnixMilli() || rec.JobTry != 0 ||
		!arqcompat.Equal(arqcompat.Tuple(rec.Args), arqcompat.Tuple{int64(1), int64(2)}) {
		t.Fatalf("record %+v %v", rec, err)
	}

	// a queued id, or one with a kept result, is not enqueued again
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: "add", Options: client.EnqueueOptions{JobID: "j1"}}); !errors.Is(err, client.ErrJobExists) {
		t.Errorf("duplicate: %v", err)
	}
	mr.Set("arq:result:j2", "x")
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: "add", Options: client.EnqueueOptions{JobID: "j2"}}); !errors.Is(err, client.ErrJobExists) {
		t.Errorf("duplicate of a kept result: %v", err)
	}
	if mr.Exists("arq:job:j2") {
		t.Error("a duplicate wrote the job key")
	}

	_, err = c.EnqueueRequest(ctx, client.Request{Function: "f", Options: client.EnqueueOptions{DeferBy: time.Second, DeferUntil: now}})
	if !errors.Is(err, client.ErrInvalidRequest) {
		t.Errorf("both defers: %v", err)
	}
	_, err = c.EnqueueRequest(ctx, client.Request{Function: "f", Options: client.EnqueueOptions{Expires: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEnqueueManySkipsDuplicates(t *testing.T) {
	ctx := context.Background()
	c, mr, _ := newClient(t, client.Options{}, nil)
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: "f", Options: client.EnqueueOptions{JobID: "b"}}); err != nil {
		t.Fatal(err)
	}
	jobs, err := c.EnqueueMany(ctx, []client.Request{
		{Function: "f", Options: client.EnqueueOptions{JobID: "a"}},
		// other bytes than the first "b": within one millisecond the same
		// bytes count as a re-sent enqueue (see enqueueScript), not a duplicate
		{Function: "f", Args: []any{"again"}, Options: client.EnqueueOptions{JobID: "b"}},
		{Function: "f", Args: []any{"x"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if jobs[0] == nil || jobs[1] != nil || jobs[2] == nil {
		t.Fatalf("jobs %v", jobs)
	}
	members, _ := mr.ZMembers("arq:queue")
	if len(members) != 3 {
		t.Errorf("queue %v", members)
	}
}

func TestStatusByArqRules(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	c, mr, _ := newClient(t, client.Options{}, func() time.Time { return now })
	j := c.Job("s", "")
	check := func(want client.JobStatus) {
		t.Helper()
		got, err := j.Status(ctx)
		if err != nil || got != want {
			t.Fatalf("status %q %v, want %q", got, err, want)
		}
	}
	check(client.StatusNotFound)
	mr.ZAdd("arq:queue", float64(now.UnixMilli()+1), "s")
	check(client.StatusDeferred)
	mr.ZAdd("arq:queue", float64(now.UnixMilli()), "s")
	check(client.StatusQueued)
	mr.Set("arq:in-progress:s", "1")
	check(client.StatusInProgress)
	mr.Set("arq:result:s", "x")
	check(client.StatusComplete)
}

func TestResultOfFailedJobExposesTheException(t *testing.T) {
	ctx := context.Background()
	c, mr, _ := newClient(t, client.Options{}, nil)
	data, _ := arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "f"}, Success: false, JobID: "f1",
		Result: arqcompat.NewException("builtins", "ValueError", "boom"),
	})
	mr.Set("arq:result:f1", string(data))
	_, err := c.Job("f1", "").Result(ctx, client.ResultOptions{})
	var exc *arqcompat.Exception
	if !errors.As(err, &exc) || exc.Class.Name != "ValueError" || exc.Message() != "boom" {
		t.Fatalf("err %v", err)
	}
	if !errors.Is(err, arqcompat.NewException("builtins", "ValueError")) {
		t.Error("errors.Is does not match the class")
	}
	if errors.Is(err, client.ErrJobAborted) {
		t.Error("a ValueError is not an abort")
	}
	// neither queued nor finished: ResultNotFound, as arq
	if _, err := c.Job("nope", "").Result(ctx, client.ResultOptions{}); !errors.Is(err, client.ErrResultNotFound) {
		t.Errorf("unknown job: %v", err)
	}
	// queued, no result yet: the timeout
	mr.ZAdd("arq:queue", 1, "waiting")
	_, err = c.Job("waiting", "").Result(ctx, client.ResultOptions{Timeout: 30 * time.Millisecond, PollDelay: 10 * time.Millisecond})
	if !errors.Is(err, client.ErrResultTimeout) {
		t.Errorf("timeout: %v", err)
	}
	// garbage in a result key is a clear error, not a panic
	mr.Set("arq:result:junk", "\x80\x04garbage")
	if _, err := c.Job("junk", "").Result(ctx, client.ResultOptions{}); err == nil || !errors.Is(err, arqcompat.ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
}

func TestResultInto(t *testing.T) {
	ctx := context.Background()
	c, mr, _ := newClient(t, client.Options{}, nil)
	data, _ := arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "f"}, Success: true, JobID: "ok",
		Result: arqcompat.NewDict("name", "x", "sizes", arqcompat.Tuple{int64(1), int64(2)}),
	})
	mr.Set("arq:result:ok", string(data))
	var out struct {
		Name  string `json:"name"`
		Sizes []int  `json:"sizes"`
	}
	if err := c.Job("ok", "").ResultInto(ctx, &out, client.ResultOptions{}); err != nil || out.Name != "x" || len(out.Sizes) != 2 {
		t.Fatalf("%+v %v", out, err)
	}
	var n int
	if err := c.Job("ok", "").ResultInto(ctx, &n, client.ResultOptions{}); err == nil {
		t.Error("a dict fit in an int")
	}
}

// go-redis re-sends the enqueue script when a connection drops before the
// reply; if the first attempt landed, the second finds its own bytes and
// must report the job enqueued, not ErrJobExists. A different job under
// the same id is still a duplicate.
func TestEnqueueRetryOfTheSameJobIsNotADuplicate(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_700_000_000_000)
	c, _, rdb := newClient(t, client.Options{}, func() time.Time { return now })
	req := client.Request{Function: "add", Args: []any{1, 2}, Options: client.EnqueueOptions{JobID: "j"}}
	for try := 1; try <= 2; try++ {
		if job, err := c.EnqueueRequest(ctx, req); err != nil || job.ID != "j" {
			t.Fatalf("try %d: %v, %v", try, job, err)
		}
	}
	if n, _ := rdb.ZCard(ctx, "arq:queue").Result(); n != 1 {
		t.Errorf("%d queue entries", n)
	}
	req.Args = []any{1, 3}
	if _, err := c.EnqueueRequest(ctx, req); !errors.Is(err, client.ErrJobExists) {
		t.Errorf("another job under the same id: %v", err)
	}
	jobs, err := c.EnqueueMany(ctx, []client.Request{
		{Function: "add", Args: []any{1, 2}, Options: client.EnqueueOptions{JobID: "j"}},
		{Function: "add", Args: []any{1, 3}, Options: client.EnqueueOptions{JobID: "j"}},
	})
	if err != nil || jobs[0] == nil || jobs[1] != nil {
		t.Errorf("EnqueueMany: %v, %v", jobs, err)
	}
}

// Ids the client makes are uuid4().hex, distinct, and the job is written
// under the key of its id; concurrent enqueues (which reuse record
// buffers and draw ids from one source) each write their own record.
func TestGeneratedIDsAndRecordsUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	c, _, rdb := newClient(t, client.Options{}, nil)
	uuid4 := regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)
	const callers, each = 8, 25 // 200 ids: several refills of the id source
	ids := make([][]string, callers)
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var kw any
				if i%2 == 1 {
					kw = map[string]any{"caller": g}
				}
				job, err := c.EnqueueRequest(ctx, client.Request{Function: fmt.Sprintf("f%d", g), Args: []any{g, i, strings.Repeat("x", g*40)}, Kwargs: kw})
				if err != nil {
					t.Error(err)
					return
				}
				ids[g] = append(ids[g], job.ID)
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for g, list := range ids {
		for i, id := range list {
			if !uuid4.MatchString(id) || seen[id] {
				t.Fatalf("id %q: want a new uuid4 hex", id)
			}
			seen[id] = true
			raw, err := rdb.Get(ctx, arqcompat.JobKey(id)).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			rec, err := arqcompat.DecodeJob(c.Serializer(), raw)
			if err != nil {
				t.Fatal(err)
			}
			wantKw := arqcompat.NewDict()
			if i%2 == 1 {
				wantKw = arqcompat.NewDict("caller", int64(g))
			}
			if rec.Function != fmt.Sprintf("f%d", g) || !arqcompat.Equal(arqcompat.Tuple(rec.Args), arqcompat.Tuple{int64(g), int64(i), strings.Repeat("x", g*40)}) ||
				!arqcompat.Equal(rec.Kwargs, wantKw) {
				t.Fatalf("job %s of caller %d, call %d: record %+v", id, g, i, rec)
			}
			if _, err := rdb.ZScore(ctx, "arq:queue", id).Result(); err != nil {
				t.Fatalf("%s not queued: %v", id, err)
			}
		}
	}
	if len(seen) != callers*each {
		t.Fatalf("%d ids, want %d", len(seen), callers*each)
	}
}
