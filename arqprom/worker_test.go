package arqprom_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/arqprom"
	"github.com/goarq/goarq/client"
	itest "github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/internal/workertest"
	"github.com/goarq/goarq/worker"
)

// functions are the jobs every outcome test runs.
func functions() []worker.Function {
	return []worker.Function{
		worker.Func("ok", func(ctx context.Context) int { return 1 }),
		worker.Func("fail", func(ctx context.Context) error { return errors.New("boom") }),
		worker.Func("retry_once", func(ctx context.Context) error {
			if j, _ := worker.JobFromContext(ctx); j.Try == 1 {
				return worker.Retry(0)
			}
			return nil
		}),
		worker.Func("slow", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}, worker.WithTimeout(50*time.Millisecond)),
	}
}

// enqueueEveryOutcome enqueues jobs for the outcomes a burst worker meets:
// complete (2), failed, retried then complete, timeout, unknown_function,
// expired (a queue entry without a job record) and aborted before start.
func enqueueEveryOutcome(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	c := client.New(rdb, client.Options{})
	for _, f := range []string{"ok", "ok", "fail", "retry_once", "slow", "nope"} {
		if _, err := c.Enqueue(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	past := float64(arqcompat.TimestampMS(time.Now().Add(-2 * time.Second)))
	rdb.ZAdd(ctx, arqcompat.DefaultQueueName, redis.Z{Score: past, Member: "expired-id"})
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: "ok", Options: client.EnqueueOptions{JobID: "abort-me"}}); err != nil {
		t.Fatal(err)
	}
	rdb.ZAdd(ctx, arqcompat.AbortJobsSS, redis.Z{Score: float64(arqcompat.TimestampMS(time.Now())), Member: "abort-me"})
}

func runBurst(t *testing.T, rdb redis.UniversalClient, obs worker.Observer) {
	t.Helper()
	workertest.RunBurst(t, rdb, worker.Settings{Functions: functions(), AllowAbortJobs: true, Observer: obs})
}

func TestWorkerObserverCountsEveryOutcome(t *testing.T) {
	_, rdb := itest.Redis(t)
	enqueueEveryOutcome(t, rdb)
	reg := prometheus.NewRegistry()
	obs, err := arqprom.NewWorkerObserver(reg)
	if err != nil {
		t.Fatal(err)
	}
	runBurst(t, rdb, obs)
	q := arqcompat.DefaultQueueName
	for _, c := range []struct {
		fn, outcome string
		want        float64
	}{
		{"ok", "complete", 2}, {"fail", "failed", 1}, {"retry_once", "retried", 1}, {"retry_once", "complete", 1},
		{"slow", "timeout", 1}, {"nope", "unknown_function", 1}, {"<unknown>", "expired", 1}, {"ok", "aborted", 1},
	} {
		got := counterValue(t, reg, "arq_worker_jobs_total", map[string]string{"queue": q, "function": c.fn, "outcome": c.outcome})
		if got != c.want {
			t.Errorf("jobs_total{function=%s,outcome=%s} = %v, want %v", c.fn, c.outcome, got, c.want)
		}
	}
	if n := histCount(t, reg, "arq_worker_job_duration_seconds", map[string]string{"queue": q, "function": "ok"}); n != 2 {
		t.Errorf("duration observations of ok: %d, want 2 (the aborted one never ran)", n)
	}
	if n := histCount(t, reg, "arq_worker_job_wait_seconds", map[string]string{"queue": q, "function": "retry_once"}); n != 2 {
		t.Errorf("wait observations of retry_once: %d, want 2", n)
	}
	if v := gaugeValue(t, reg, "arq_worker_jobs_running", map[string]string{"queue": q}); v != 0 {
		t.Errorf("jobs_running after the burst: %v", v)
	}
}
