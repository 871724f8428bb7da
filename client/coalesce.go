package client

import (
	"context"
	"sync"

	"github.com/goarq/goarq/internal/arqredis"
)

// coalescer sends the single enqueues of concurrent callers together. A
// call that finds fewer than maxInFlight enqueues in flight sends its own
// script at once, exactly as a lone caller would; a call that finds them
// all busy waits, and when one of them ends, the jobs that waited meanwhile
// go in one pipeline (each job still one atomic script, with its own
// outcome). Under load this trades one write and one read per job, on both
// sides, for one per batch; a lone caller pays two mutex operations.
//
// The batch is sent by one of its own callers (the first), on its context
// without its cancellation: a caller whose context ends while its job is
// waiting leaves without it being sent; once its job is taken into a
// batch, it waits for the batch, as it would wait for its own command.
type coalescer struct {
	store *arqredis.RDB

	mu       sync.Mutex
	inFlight int
	waiting  []*waitingEnqueue
}

// maxInFlight is how many enqueues (single or batched) may be in flight at
// once before callers wait to be batched: enough to keep Redis busy while
// a batch's replies are read.
const maxInFlight = 2

type waitingEnqueue struct {
	job   arqredis.Enqueue
	ctx   context.Context
	taken bool // in a batch; under coalescer.mu
	// set before done is signalled
	batch []*waitingEnqueue // non-nil: this caller sends the batch
	ok    bool
	err   error
	done  chan struct{}
}

func (q *coalescer) enqueue(ctx context.Context, j arqredis.Enqueue) (bool, error) {
	q.mu.Lock()
	if q.inFlight < maxInFlight {
		q.inFlight++
		q.mu.Unlock()
		ok, err := q.store.EnqueueOne(ctx, j)
		q.handOver()
		return ok, err
	}
	w := &waitingEnqueue{job: j, ctx: ctx, done: make(chan struct{}, 1)}
	q.waiting = append(q.waiting, w)
	q.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		q.mu.Lock()
		if !w.taken {
			for i, o := range q.waiting {
				if o == w {
					q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
					break
				}
			}
			q.mu.Unlock()
			return false, ctx.Err()
		}
		q.mu.Unlock()
		<-w.done
	}
	if w.batch != nil {
		q.send(w.batch)
		q.handOver()
	}
	return w.ok, w.err
}

// handOver ends an enqueue in flight: its slot goes to the jobs waiting,
// as one batch sent by the first of them, or is freed.
func (q *coalescer) handOver() {
	q.mu.Lock()
	batch := q.waiting
	if len(batch) == 0 {
		q.inFlight--
		q.mu.Unlock()
		return
	}
	q.waiting = nil
	for _, w := range batch {
		w.taken = true
	}
	q.mu.Unlock()
	batch[0].batch = batch
	batch[0].done <- struct{}{}
}

// send writes a batch and gives each caller its outcome.
func (q *coalescer) send(batch []*waitingEnqueue) {
	lead := batch[0]
	ctx := context.WithoutCancel(lead.ctx)
	if len(batch) == 1 {
		lead.ok, lead.err = q.store.EnqueueOne(ctx, lead.job)
		return
	}
	jobs := make([]arqredis.Enqueue, len(batch))
	for i, w := range batch {
		jobs[i] = w.job
	}
	oks, errs := make([]bool, len(batch)), make([]error, len(batch))
	q.store.EnqueueEach(ctx, jobs, oks, errs)
	for i, w := range batch {
		w.ok, w.err = oks[i], errs[i]
		if i > 0 {
			w.done <- struct{}{}
		}
	}
}
