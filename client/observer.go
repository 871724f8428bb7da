package client

import (
	"context"
	"time"
)

// EnqueueEvent describes one enqueue for an EnqueueObserver.
type EnqueueEvent struct {
	Queue, Function, JobID string
	// Try is the _job_try asked for (0: None).
	Try int
	// Score is when the job may run.
	Score time.Time
	// Err is set for EnqueueEnded when the enqueue failed (ErrJobExists
	// for a duplicate id).
	Err error
}

// EnqueueObserver sees each job the client enqueues: the seam for tracing
// (package otelarq implements it with OpenTelemetry), so that package
// client depends on no tracing library. Set it in Options.EnqueueObserver.
type EnqueueObserver interface {
	// EnqueueStarted is called before the job is written; the context it
	// returns is passed to EnqueueEnded.
	EnqueueStarted(ctx context.Context, ev *EnqueueEvent) context.Context
	// EnqueueEnded is called once the write is done or has failed.
	EnqueueEnded(ctx context.Context, ev *EnqueueEvent)
}
