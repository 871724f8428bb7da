package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
)

// startPush starts the push wake-up of the poll loop: a Watcher on the
// queue key that signals w.pushed on every write to it (arq's enqueue_job
// ends with a ZADD there). Writes to other keys under the same prefix,
// such as the worker's own health check, do not wake it. A server that
// refuses tracking leaves the worker polling every PollDelay, with one log
// line saying so. The returned function stops it.
func (w *Worker) startPush(ctx context.Context) func() {
	if w.s.NoPushWakeup {
		return func() {}
	}
	queue := w.s.QueueName
	watcher, err := w.store.Watch(ctx, arqredis.WatchOptions{
		Prefix: queue, Logger: w.log, Name: "push wake-up for " + queue,
		OnInvalidate: func(keys []string) {
			if keys == nil || slices.Contains(keys, queue) {
				select {
				case w.claim.pushed <- struct{}{}:
				default:
				}
			}
		}})
	if err != nil {
		if errors.Is(err, arqredis.ErrTrackingUnsupported) {
			w.log.WarnContext(ctx, fmt.Sprintf("push wake-up unavailable (%v), polling every %s", err, w.s.PollDelay), "error", err)
		}
		return func() {}
	}
	return func() { _ = watcher.Close() }
}

// idleWait is how long an idle worker may sleep: until the safety poll at
// PollDelay after before, or until the next deferred job is due, whichever
// comes first. A push wake-up ends it earlier.
func (w *Worker) idleWait(before time.Time) time.Duration {
	wait := w.s.PollDelay - time.Since(before)
	if due := w.claim.nextDue.Load(); due > 0 {
		wait = min(wait, time.Until(time.UnixMilli(due)))
	}
	return wait
}

// noteDue reads when the next deferred job is due, after a claim that
// found nothing although a peek or the last claim said it might.
func (w *Worker) noteDue(ctx context.Context, now time.Time) error {
	s, ok, err := w.store.NextDue(ctx, w.s.QueueName, now)
	if err != nil {
		return err
	}
	if !ok || s <= arqcompat.TimestampMS(now) {
		s = 0
	}
	w.claim.nextDue.Store(s)
	return nil
}

// peek is the idle poll: may a claim find a job no worker runs? One
// command when the queue holds nothing ready (RDB.Head), which also tells
// when the next deferred job is due.
func (w *Worker) peek(ctx context.Context) (bool, error) {
	claimable, due, err := w.store.Head(ctx, w.s.QueueName, time.Now(), headLength)
	if err != nil {
		return false, err
	}
	if !claimable {
		w.claim.nextDue.Store(due)
	}
	return claimable, nil
}

// headLength is how many jobs of the queue's head the idle peek reads.
const headLength = 16

// Herd control. Every idle worker of a queue is woken by each enqueue;
// were they all to claim, each job would cost one claim script per worker.
// A worker whose peek found a job that its claim then lost to another
// worker delays its reaction to the next wake-ups (herdDelay, doubling up
// to maxHerdDelay); one that wins halves it. One worker ends up reacting
// at once while the others, a moment later, peek (cheap, no script) and
// see the job already running. A worker alone on its queue never loses,
// so never waits.
const (
	minHerdDelay = 200 * time.Microsecond
	maxHerdDelay = 4 * time.Millisecond
)

// herdOutcome records a claim after a peek that said a job was claimable.
func (w *Worker) herdOutcome(won bool) {
	d := time.Duration(w.claim.herdDelay.Load())
	if won {
		d /= 2
		if d < minHerdDelay {
			d = 0
		}
	} else {
		d = min(max(2*d, minHerdDelay), maxHerdDelay)
	}
	w.claim.herdDelay.Store(int64(d))
}

// herdWait is the delay before reacting to a push wake-up.
func (w *Worker) herdWait() {
	if d := time.Duration(w.claim.herdDelay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-w.stopped:
		}
		t.Stop()
	}
}
