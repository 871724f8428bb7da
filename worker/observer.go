package worker

import (
	"context"
	"time"
)

// Outcome is how a claimed job ended, for an Observer.
type Outcome string

// The outcomes of a job run.
const (
	OutcomeComplete Outcome = "complete" // the function returned
	OutcomeFailed   Outcome = "failed"   // it raised/returned an error, or ran out of tries
	OutcomeRetried  Outcome = "retried"  // it asked for a retry (or was cancelled and will run again)
	OutcomeAborted  Outcome = "aborted"  // aborted through arq:abort
	OutcomeTimeout  Outcome = "timeout"  // it ran past its timeout
	// OutcomeCancelled: still running at shutdown, cancelled and left
	// queued to run again.
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeExpired: the job record was gone when it was claimed (its
	// expiry passed); the function did not run.
	OutcomeExpired Outcome = "expired"
	// OutcomeUnknownFunction: no function of that name; it did not run.
	OutcomeUnknownFunction Outcome = "unknown_function"
)

// JobEvent describes one job run for an Observer.
type JobEvent struct {
	Queue, Function, JobID string
	Try                    int
	// Scheduled is the job's queue score: its enqueue time, or when it was
	// deferred to. Start minus Scheduled is how long it waited.
	Scheduled time.Time
	// Start is when the function started; zero when it never started
	// (expired, unknown_function).
	Start time.Time
	// Outcome, Duration (of the function's run) and Err (the job's error,
	// if any) are set for JobEnded.
	Outcome  Outcome
	Duration time.Duration
	Err      error
}

// Observer sees the jobs a worker runs: the seam for metrics and tracing
// (package arqprom implements it with Prometheus, package otelarq with
// OpenTelemetry), so that package worker depends on neither. Its methods
// are called from the worker's job goroutines, concurrently, and must not
// block.
type Observer interface {
	// JobStarted is called just before the job's function runs; the
	// context it returns is the one the function runs with (a span can be
	// carried in it).
	JobStarted(ctx context.Context, ev *JobEvent) context.Context
	// JobEnded is called once for every claimed job, with the context
	// JobStarted returned when it was called, else the worker's.
	JobEnded(ctx context.Context, ev *JobEvent)
	// RedisError is called when a Redis command of the worker fails.
	RedisError(ctx context.Context, queue string, err error)
}

// Observers returns an Observer calling each of obs in turn.
func Observers(obs ...Observer) Observer { return multiObserver(obs) }

type multiObserver []Observer

func (m multiObserver) JobStarted(ctx context.Context, ev *JobEvent) context.Context {
	for _, o := range m {
		ctx = o.JobStarted(ctx, ev)
	}
	return ctx
}

func (m multiObserver) JobEnded(ctx context.Context, ev *JobEvent) {
	for _, o := range m {
		o.JobEnded(ctx, ev)
	}
}

func (m multiObserver) RedisError(ctx context.Context, queue string, err error) {
	for _, o := range m {
		o.RedisError(ctx, queue, err)
	}
}
