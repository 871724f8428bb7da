// The claimer's push wake-up, idle wait, idle peek and herd control; the
// state they use is claimer's.

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
// queue key that signals pushed on every write to it (arq's enqueue_job
// ends with a ZADD there). Writes to other keys under the same prefix,
// such as the worker's own health check, do not wake it. A server that
// refuses tracking leaves the worker polling every PollDelay, with one log
// line saying so. The returned function stops it.
func (c *claimer) startPush(ctx context.Context) func() {
	w := c.w
	if w.s.NoPushWakeup {
		return func() {}
	}
	queue := w.s.QueueName
	watcher, err := w.store.Watch(ctx, arqredis.WatchOptions{
		Prefix: queue, Logger: w.log, Name: "push wake-up for " + queue,
		OnInvalidate: func(keys []string) {
			if keys == nil || slices.Contains(keys, queue) {
				select {
				case c.pushed <- struct{}{}:
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

// wakeSelf wakes the poll loop as a push would, for a job this worker's
// finish left ready at once (see readyAgain), once the job has released
// its slot: nothing else would, since that finish wrote nothing to the
// queue key. The worker that ran the job is the one to run it again: the
// job's slot is free, so other idle workers need not learn of it, and the
// loop skips the herd delay. (A stopping worker claims nothing: other
// idle workers find such a job at their safety poll, PollDelay.) Without push wake-ups the worker polls every PollDelay,
// as arq's does, and finds it there.
//
// A Python arq worker's retry with no delay writes nothing to the queue key
// either: an idle goarq worker learns of that job at its safety poll
// (PollDelay), and the arq worker runs it at its own next poll, as arq
// does without goarq.
func (c *claimer) wakeSelf() {
	w := c.w
	if w.s.NoPushWakeup {
		return
	}
	c.selfWake.Store(true)
	select {
	case c.pushed <- struct{}{}:
	default:
	}
}

// idleWait is how long an idle worker may sleep: until the safety poll at
// PollDelay after before, or until the next deferred job is due, whichever
// comes first (due reports the latter). A push wake-up ends it earlier.
//
// A job is due once arq's timestamp_ms(), a rounded millisecond, reaches
// its score: half a millisecond before the score's own instant. Go's
// timers fire up to a millisecond late when the process is idle, so
// aiming at that earliest instant makes the start, on average, land on
// the score itself.
//
// Jobs held as being aborted (see abortHold) end it at their next look.
func (c *claimer) idleWait(before time.Time) (wait time.Duration, due bool) {
	w := c.w
	wait = w.s.PollDelay - time.Since(before)
	if s := c.nextDue.Load(); s > 0 {
		if until := time.Until(time.UnixMilli(s).Add(-time.Millisecond / 2)); until < wait {
			wait, due = until, true
		}
	}
	if t := c.heldRecheck(); !t.IsZero() {
		if until := time.Until(t); until < wait {
			wait, due = until, true
		}
	}
	return wait, due
}

// noteDue reads when the next deferred job is due, after a claim that
// found nothing but could not tell (it stopped at the read limit).
func (c *claimer) noteDue(ctx context.Context, now time.Time) error {
	w := c.w
	s, ok, err := w.store.NextDue(ctx, w.s.QueueName, now)
	if err != nil {
		return err
	}
	if !ok || s <= arqcompat.TimestampMS(now) {
		s = 0
	}
	c.nextDue.Store(s)
	return nil
}

// peek is the idle poll: may a claim find a job no worker runs? One
// command when the queue holds nothing ready (RDB.Head), which also tells
// when the next deferred job is due. The caller holds c.mu.
//
// A worker that herd control holds back leaves a job that became ready
// less than its herd delay ago to the worker that reacts at once, which
// has most likely yet to claim it, and looks again when that delay has
// passed (a claim from here would mostly find the job gone).
func (c *claimer) peek(ctx context.Context) (bool, error) {
	w := c.w
	now := time.Now()
	h, err := w.store.Head(ctx, w.s.QueueName, now, headLength)
	if err != nil {
		return false, err
	}
	if !h.Claimable {
		c.nextDue.Store(h.NextDue)
		if !w.s.NoPushWakeup {
			c.herdSaw(h.Busy)
		}
		return false, nil
	}
	if d := time.Duration(c.herdDelay.Load()); d > 0 && h.FreeScore > 0 && !w.s.NoPushWakeup {
		settled := h.FreeScore + (d + time.Millisecond - 1).Milliseconds()
		if settled > arqcompat.TimestampMS(now) {
			if h.NextDue > 0 && h.NextDue < settled {
				settled = h.NextDue
			}
			c.nextDue.Store(settled)
			return false, nil
		}
	}
	return true, nil
}

// headLength is how many jobs of the queue's head the idle peek reads.
const headLength = 16

// Herd control. Every idle worker of a queue is woken by each enqueue and
// by each finish (both write the queue key); were they all to claim, each
// job would cost one claim script per worker. A worker beaten to a job
// delays its reaction to the next wake-ups (herdDelay, doubling up to
// maxHerdDelay); one that wins a job halves it. Beaten means that its peek
// or a claim that found nothing saw a ready job in progress that it had
// not seen before and does not run itself.
// One worker ends up reacting at once, claiming without a peek; the others
// wait, and the wake-ups that arrive meanwhile (the job's finish, often)
// fold into one peek: cheap, no script. A worker alone on its queue is
// never beaten, so never waits.
const (
	minHerdDelay = 200 * time.Microsecond
	maxHerdDelay = 10 * time.Millisecond
)

// herdOutcome records a job won, or a job another worker was quicker to.
func (c *claimer) herdOutcome(won bool) {
	d := time.Duration(c.herdDelay.Load())
	if won {
		d /= 2
		if d < minHerdDelay {
			d = 0
		}
	} else {
		d = min(max(2*d, minHerdDelay), maxHerdDelay)
	}
	c.herdDelay.Store(int64(d))
}

// herdSaw takes the ready jobs in progress that an idle peek or a claim
// that found nothing saw. The caller holds c.mu.
func (c *claimer) herdSaw(busy []string) {
	w := c.w
	beaten := false
	for _, id := range busy {
		if !w.slots.holds(id) && !slices.Contains(c.busySeen, id) {
			beaten = true
			break
		}
	}
	c.busySeen = append(c.busySeen[:0], busy...)
	if beaten {
		c.herdOutcome(false)
	}
}

// herdWait is the delay before reacting to a wake-up. Wake-ups that arrive
// meanwhile are folded into this one: the peek that follows sees them.
func (c *claimer) herdWait() {
	w := c.w
	if d := time.Duration(c.herdDelay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-w.shut.C():
		}
		t.Stop()
		select {
		case <-c.pushed:
		default:
		}
	}
}
