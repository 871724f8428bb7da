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

// noteDue records when the next deferred job is due after a poll that
// started no job: from the peek's earliest score when it lies in the
// future, else (running jobs stay in the queue) from a NextDue read.
// peek is the cheap idle poll, one command: may a claim find a job? The
// lowest score of the queue tells, and when it lies in the future it is
// when the next deferred job is due.
func (w *Worker) peek(ctx context.Context) (bool, error) {
	now := time.Now()
	score, ok, err := w.store.Earliest(ctx, w.s.QueueName)
	if err != nil {
		return false, err
	}
	if ok && score <= arqcompat.TimestampMS(now) {
		return true, nil
	}
	return false, w.noteDue(ctx, score, true, now)
}

func (w *Worker) noteDue(ctx context.Context, earliest int64, known bool, now time.Time) error {
	if !known {
		s, ok, err := w.store.NextDue(ctx, w.s.QueueName, now)
		if err != nil {
			return err
		}
		if !ok {
			s = 0
		}
		earliest = s
	}
	if earliest <= arqcompat.TimestampMS(now) {
		earliest = 0
	}
	w.claim.nextDue.Store(earliest)
	return nil
}
