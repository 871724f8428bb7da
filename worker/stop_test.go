package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

// A job whose start overlaps a shutdown with JobCompletionWait (it
// registers after the wait ended and running jobs were cancelled) is
// cancelled too and left queued: Run does not wait out its timeout, and no
// TimeoutError is recorded.
func TestJobStartingDuringShutdownIsCancelled(t *testing.T) {
	c, rdb, mr := setup(t)
	slow, _ := waitsForCancel("slow")
	if _, err := c.EnqueueRequest(context.Background(), client.Request{Function: "slow", Options: client.EnqueueOptions{JobID: "slow"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := worker.New(worker.Settings{Functions: []worker.Function{slow}, RedisClient: rdb, Logger: testutil.QuietLogger(),
		PollDelay: 5 * time.Millisecond, JobTimeout: 5 * time.Second, JobCompletionWait: 50 * time.Millisecond,
		OnJobStart: func(context.Context, *worker.Job) {
			cancel()                           // the shutdown begins while the job starts
			time.Sleep(300 * time.Millisecond) // and its completion wait ends before the job registers
		}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %s: it waited out the job's timeout", took.Round(time.Millisecond))
	}
	if mr.Exists("arq:result:slow") || !mr.Exists("arq:job:slow") {
		t.Error("the job was not left queued")
	}
	if st := w.Stats(); st.Retried != 1 || st.Failed != 0 {
		t.Errorf("stats %+v, want the job retried", st)
	}
}

// A Worker runs once: a second Run returns ErrRunTwice instead of
// panicking, and Stop ends a Run as a cancelled context does.
func TestStopAndRunTwice(t *testing.T) {
	c, rdb, mr := setup(t)
	slow, started := waitsForCancel("slow")
	if _, err := c.EnqueueRequest(context.Background(), client.Request{Function: "slow", Options: client.EnqueueOptions{JobID: "slow"}}); err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Settings{Functions: []worker.Function{slow}, RedisClient: rdb, Logger: testutil.QuietLogger(), PollDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- w.Run(context.Background()) }()
	<-started
	w.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if mr.Exists("arq:result:slow") || !mr.Exists("arq:job:slow") {
		t.Error("Stop did not leave the running job queued")
	}
	if err := w.Run(context.Background()); !errors.Is(err, worker.ErrRunTwice) {
		t.Fatalf("second Run: %v, want ErrRunTwice", err)
	}
	w.Stop() // harmless after Run
}
