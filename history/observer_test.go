package history_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/sqlite"
	"github.com/goarq/goarq/inspect"
	"github.com/goarq/goarq/internal/workertest"
	"github.com/goarq/goarq/worker"
)

// A goarq worker that keeps no results (keep_result 0) still records its
// jobs through the Observer: the call, the outcome, the exception; and a
// recorded failure can be retried (its call decodes).
func TestObserverRecordsResultsThatAreNotKept(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cl := client.New(rdb, client.Options{})
	if _, err := cl.Enqueue(ctx, "add", 1, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Enqueue(ctx, "fail", "bad"); err != nil {
		t.Fatal(err)
	}
	ob := history.NewObserver(store, history.ObserverOptions{})
	workertest.RunBurst(t, rdb, worker.Settings{KeepResult: worker.Zero, Observer: ob, Functions: []worker.Function{
		worker.Func("add", func(ctx context.Context, a, b int) (int, error) { return a + b, nil }),
		worker.Func("fail", func(ctx context.Context, msg string) error { return worker.PythonError("builtins", "ValueError", msg) }),
	}})
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	for _, k := range mr.Keys() {
		if strings.HasPrefix(k, arqcompat.ResultKeyPrefix) {
			t.Fatalf("a result was kept: %s", k)
		}
	}
	p, err := store.Query(ctx, history.Filter{})
	if err != nil || len(p.Records) != 2 {
		t.Fatalf("recorded %+v, %v", p.Records, err)
	}
	byFn := map[string]history.Record{}
	for _, r := range p.Records {
		byFn[r.Function] = r
	}
	if r := byFn["add"]; !r.Success || r.Args != "1, 2" || r.Source != "observer" || r.StartMS == 0 {
		t.Errorf("add = %+v", r)
	}
	f := byFn["fail"]
	if f.Success || f.ExcClass != "ValueError" || f.ExcMessage != "bad" || f.Args != "'bad'" {
		t.Errorf("fail = %+v", f)
	}
	plan, err := history.PlanRetry(ctx, store, history.Filter{}, 10)
	if err != nil || len(plan.Enqueue) != 1 {
		t.Fatalf("plan = %+v, %v", plan, err)
	}
	done := history.Retry(ctx, store, cl, plan)
	if len(done) != 1 || done[0].Err != nil {
		t.Fatalf("retry = %+v", done)
	}
	jobs, _ := inspect.New(cl, inspect.Options{}).QueuedJobs(ctx, "")
	if len(jobs) != 1 || jobs[0].Function != "fail" || arqcompat.ReprArgs(jobs[0].Args, jobs[0].Kwargs) != "'bad'" || jobs[0].JobID != done[0].NewJobID {
		t.Fatalf("queued %+v", jobs)
	}
}
