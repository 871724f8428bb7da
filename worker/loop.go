// The poll loop: it claims jobs for free slots (claim.go, own.go), sleeps
// until a wake-up (wake.go), and runs the maintenance steps
// (maintenance.go) on its own goroutine. The slots are counted under
// Worker.mu (claimed, mine, reserved, handed) and held in Worker.slots.

package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// loop is arq's main: poll, then in burst mode stop once nothing is left.
// Unlike arq it polls again at once while the last poll found jobs, so a
// full queue drains at the speed of Redis rather than queue_read_limit
// jobs per poll_delay; an idle worker sleeps until a push wake-up, the
// next deferred job or PollDelay (see startPush).
func (w *Worker) loop(ctx context.Context) error {
	backoff := time.Duration(0)
	woke := false // a push wake-up or a due time ended the last wait
	for !w.isStopped() {
		before := time.Now()
		found, size, err := w.pollIteration(ctx, woke)
		woke = false
		if err == nil && w.s.Burst {
			if w.s.MaxBurstJobs > 0 && w.slots.jobsStarted() >= w.s.MaxBurstJobs {
				w.slots.wait()
				return nil
			}
			// every slot busy (found without a claim's size): their jobs
			// are still in the queue, so it is not empty; ask again once
			// a slot frees
			if size < 0 && !found {
				size, err = w.store.QueueSize(ctx, w.s.QueueName)
			}
			if err == nil && size == 0 {
				w.slots.wait()
				return nil
			}
		}
		wait := w.s.PollDelay - time.Since(before)
		var wake <-chan struct{} // what may end the wait early, besides a stop
		var push <-chan struct{} // an idle worker's push wake-up
		due := false             // the wait ends when the next deferred job is due
		switch {
		case err != nil:
			if w.isStopped() {
				return nil
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			if ctx.Err() == nil { // else the poll was cut by the shutdown, not by Redis
				w.redisError(ctx, slog.LevelError, fmt.Sprintf("redis error while polling, retrying in %s: %v", backoff, err), err)
			}
			wait = backoff
		case found && w.slots.free() == 0:
			// every slot busy: poll again as soon as one frees up, or after
			// PollDelay for aborts, health check and cron
			backoff, wake, wait = 0, w.slots.freedC(), max(wait, time.Millisecond)
		case found:
			backoff = 0
			continue // more jobs may be ready
		default:
			backoff = 0
			push = w.claim.pushed
			wait, due = w.idleWait(before)
			due = due && !w.s.NoPushWakeup // with push off, a due time is a plain poll
		}
		if wait <= 0 {
			woke = due
		} else {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				if woke = due; woke {
					w.herdWait()
				}
			case <-push:
				woke = true
				if !w.claim.selfWake.Swap(false) {
					w.herdWait()
				}
			case <-wake:
				// jobs that finish together release their slots microseconds
				// apart (their outcomes share one write): let them land, so
				// one claim round trip starts several jobs instead of one
				if w.slots.free() < max(2, w.s.MaxJobs/2) {
					time.Sleep(claimGather)
				}
			case <-w.stopped:
			}
			t.Stop()
		}
	}
	return nil
}

// maxClaimBatch caps the jobs one claim takes. A worker with 1,000 free
// slots would otherwise decode 1,000 jobs at once, each on its own
// goroutine, and its peak memory would hold them all; claims of 100 follow
// each other at once while they find jobs, so the cap costs no throughput.
const maxClaimBatch = 100

// claimGather is how long the loop waits, after a slot frees while all
// were busy, for more slots to free before claiming.
const claimGather = 250 * time.Microsecond

// pollIteration claims ready jobs up to the free slots and starts them,
// then handles aborts, the health check and cron. found reports that the
// claim left ready jobs, or that none could be claimed because every slot
// was busy: either way more may be ready. woke says a push wake-up or a
// deferred job's due time ended the wait before it. size is the queue's
// ZCARD when it was read (burst mode), else -1.
func (w *Worker) pollIteration(ctx context.Context, woke bool) (found bool, size int64, err error) {
	size = -1
	w.claim.mu.Lock()
	limit := w.reserve(nil)
	if w.claim.allowPick.Load() && limit <= 0 && w.slots.free() <= 0 {
		found = true
	}
	if limit > 0 && w.own != nil {
		jobs, err := w.claimOwn(ctx, limit)
		if err != nil {
			w.unreserve(limit)
			w.claim.mu.Unlock()
			return false, size, err
		}
		w.admit(limit, nil, jobs, true)
		w.exec.launch(ctx, jobs)
		found = len(jobs) > 0
	} else if limit > 0 {
		// after a claim that left jobs, or a wake-up when this worker is
		// the one of its herd that reacts at once, claim straight away;
		// otherwise peek first (one cheap command when nothing is ready)
		ready := w.claim.lastFound.Load()
		reacting := !ready
		peeked := !ready && !(woke && w.claim.herdDelay.Load() == 0)
		if peeked {
			if ready, err = w.peek(ctx); err != nil {
				w.unreserve(limit)
				w.claim.mu.Unlock()
				return false, size, err
			}
		} else {
			ready = true
		}
		if !ready {
			w.unreserve(limit)
		} else {
			args := w.claimArgs(limit, w.s.Burst)
			rep, err := w.store.Claim(ctx, args)
			if err == nil {
				w.noteHeld(rep.Held, args.Now)
			}
			if err == nil && !rep.More {
				w.claim.nextDue.Store(rep.NextDue)
			} else if err == nil && len(rep.Jobs) == 0 {
				err = w.noteDue(ctx, time.Now())
			}
			if err != nil {
				w.unreserve(limit)
				w.claim.mu.Unlock()
				return false, size, err
			}
			if reacting && !w.s.NoPushWakeup {
				if len(rep.Jobs) > 0 {
					w.herdOutcome(true)
				} else {
					w.herdSaw(rep.Busy)
				}
			}
			size = rep.Size
			w.admit(limit, nil, rep.Jobs, rep.More)
			w.exec.launch(ctx, rep.Jobs) // blocks at most until handed slots are released
			found = len(rep.Jobs) > 0 && rep.More
		}
	}
	w.claim.mu.Unlock()
	if w.own != nil && w.s.Burst {
		size = w.ownPending()
	}
	return found, size, w.maint.tick(ctx)
}
