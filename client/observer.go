package client

import (
	"context"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
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

// observeEnqueue starts the observer's view of one enqueue; ended takes
// the enqueue's error.
func (c *Client) observeEnqueue(ctx context.Context, r Request) (context.Context, func(error)) {
	queue := r.Options.QueueName
	if queue == "" {
		queue = c.queue
	}
	now := c.now()
	score := now.Add(r.Options.DeferBy)
	if !r.Options.DeferUntil.IsZero() {
		score = r.Options.DeferUntil
	}
	ev := &EnqueueEvent{Queue: queue, Function: r.Function, JobID: r.Options.JobID, Try: r.Options.JobTry, Score: score}
	ctx = c.obs.EnqueueStarted(ctx, ev)
	return ctx, func(err error) {
		ev.Err = err
		c.obs.EnqueueEnded(ctx, ev)
	}
}

// observeMany reports a batch: each job once, a skipped id as ErrJobExists.
func (c *Client) observeMany(ctx context.Context, reqs []Request, preps []arqredis.Enqueue, ok []bool, err error) {
	for i, p := range preps {
		ev := &EnqueueEvent{Queue: p.Queue, Function: reqs[i].Function, JobID: p.JobID, Try: reqs[i].Options.JobTry,
			Score: arqcompat.MSToTime(p.Score)}
		jctx := c.obs.EnqueueStarted(ctx, ev)
		switch {
		case err != nil:
			ev.Err = err
		case i < len(ok) && !ok[i]:
			ev.Err = ErrJobExists
		}
		c.obs.EnqueueEnded(jctx, ev)
	}
}
