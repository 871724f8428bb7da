package history_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/sqlite"
	"github.com/goarq/goarq/worker"
)

// A Recorder copies every result any worker writes (Python arq or goarq)
// into a durable store, until its context ends.
func ExampleNewRecorder() {
	ctx := context.Background()
	cl, err := client.DialURL(ctx, "redis://localhost:6379/0", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	store, err := sqlite.Open(ctx, "history.db") // or postgres.Open(ctx, "postgres://…")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rec := history.NewRecorder(cl, store, history.RecorderOptions{Retention: history.Retention{MaxAge: 30 * 24 * time.Hour}})
	if err := rec.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// A recorder on the workers' machine can pace itself: during a burst it
// stores at most 12,000 results a second and leaves the rest of the CPU
// to the workers; the results wait in Redis (for keep_result) and it
// catches up after the burst, or at full speed once a minute behind.
func ExampleRecorderOptions_pacing() {
	ctx := context.Background()
	cl, err := client.DialURL(ctx, "redis://localhost:6379/0", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	store, err := sqlite.Open(ctx, "history.db")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rec := history.NewRecorder(cl, store, history.RecorderOptions{MaxRate: 12_000, MaxLag: time.Minute})
	if err := rec.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("held back for", rec.Stats().Paced)
}

// Query lists the recorded results newest first, a page at a time.
func ExampleStore_query() {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, "history.db")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	failed := false
	f := history.Filter{Function: "send_email", Success: &failed, Since: time.Now().Add(-2 * time.Hour), Limit: 100}
	for {
		page, err := store.Query(ctx, f)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range page.Records {
			fmt.Println(r.Finish(), r.JobID, r.Function+"("+r.Args+")", r.ExcClass, r.ExcMessage)
		}
		if page.Next.IsZero() {
			break
		}
		f.Before = page.Next
	}
}

// PlanRetry shows what a bulk retry would enqueue; Retry enqueues it, each
// job under a new id that the history links to the failure it retries.
func ExamplePlanRetry() {
	ctx := context.Background()
	cl, err := client.DialURL(ctx, "redis://localhost:6379/0", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	store, err := sqlite.Open(ctx, "history.db")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	plan, err := history.PlanRetry(ctx, store, history.Filter{ExcClass: "ValueError", Since: time.Now().Add(-2 * time.Hour)}, 1000)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range plan.Skipped {
		fmt.Println("not retried:", s.Record.JobID, s.Skip)
	}
	for _, r := range history.Retry(ctx, store, cl, plan) {
		fmt.Println(r.Origin.JobID, "->", r.NewJobID, r.Err)
	}
}

// An Observer records the jobs of a goarq worker whose results are not
// kept in Redis (keep_result 0), which a Recorder cannot see.
func ExampleNewObserver() {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, "history.db")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ob := history.NewObserver(store, history.ObserverOptions{})
	defer ob.Close() // after the worker stopped: flushes what is queued
	w, err := worker.New(worker.Settings{KeepResult: worker.Zero, Observer: ob, Functions: []worker.Function{
		worker.Func("ping", func(ctx context.Context) (string, error) { return "pong", nil }),
	}})
	if err != nil {
		log.Fatal(err)
	}
	_ = w.Run(ctx)
}

// Recorded tells which job ids a store holds, with the start time of each
// of their records: the recorder's SCAN backstop asks it so that results
// recorded already are not inserted again.
func ExampleStore_recorded() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "history")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "history.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Add(ctx, []history.Record{
		{JobID: "a1", Function: "send_email", StartMS: 1000, FinishMS: 1200, Success: true},
		{JobID: "a1", Function: "send_email", StartMS: 9000, FinishMS: 9100, Success: true}, // the id ran again
	}); err != nil {
		log.Fatal(err)
	}
	known, err := store.Recorded(ctx, []string{"a1", "b2"})
	if err != nil {
		log.Fatal(err)
	}
	starts := known["a1"]
	slices.Sort(starts)
	fmt.Println(starts, len(known["b2"]))
	// Output: [1000 9000] 0
}
