// Part: the claimer. It runs the poll loop (run): claims jobs for free
// slots in arq's way or, with OnlyOwnFunctions or a MaxConcurrency,
// targeted (own.go), sleeps until a push wake-up, a due deferred job or
// PollDelay (wake.go), runs maintenance's tick after each poll, and in
// burst mode ends once the queue is empty. It also gives the finish writer
// the arguments of the claims that ride on finish transactions. It owns
// all claiming state, in claimer: who may claim (allowPick), what the last
// claim found, the next due time, herd control, the jobs held as being
// aborted and the targeted claiming state (owner). Slots are the slots
// part's, reserved through it; the claimed jobs go to the executor.

package worker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goarq/goarq/internal/arqredis"
)

// claimer is the worker's claimer part (see the file's comment).
type claimer struct {
	w        *Worker // settings, store and the other parts
	stopPush func()  // stops the push wake-up (start)
	// own is the state of targeted claiming (OnlyOwnFunctions,
	// MaxConcurrency); nil: arq's claim
	own *owner
	// mu is held by whoever claims in arq's own way, one claim at a time:
	// the poll loop, or (targeted claims) the writer claiming in the same
	// round trip as a finish write. Slots are counted by reservations
	// (reserve, in slots), so the writer's claims in arq's way do
	// not take it and may be in flight beside the loop's.
	mu sync.Mutex
	// lastFound: the last claim found jobs and may have left more, so the
	// idle peek is skipped
	lastFound atomic.Bool
	// allowPick is arq's allow_pick_jobs: off while waiting for running
	// jobs to complete before a shutdown
	allowPick atomic.Bool
	// pushed receives when the queue key was written (push wake-up), or
	// when this worker's own finish left a job ready (wakeSelf)
	pushed chan struct{}
	// selfWake: the last signal on pushed came from wakeSelf, so the
	// loop reacts without the herd delay
	selfWake atomic.Bool
	// nextDue is the ms timestamp of the next deferred job; 0: none known
	nextDue atomic.Int64
	// herdDelay (ns) delays the reaction to push wake-ups; see herdOutcome
	herdDelay atomic.Int64
	// busySeen are the ready jobs in progress that the last idle peek or
	// claim saw (herdSaw); guarded by mu
	busySeen []string

	// held are the jobs the claims left alone as being aborted (scored 1,
	// not yet in arq:abort), with when they were first seen, and heldNext
	// when to look again; under heldMu
	heldMu   sync.Mutex
	held     map[string]time.Time
	heldNext time.Time
}

func newClaimer(w *Worker) *claimer {
	c := &claimer{w: w, pushed: make(chan struct{}, 1), own: newOwner(w.s.OnlyOwnFunctions, w.funcs)}
	c.allowPick.Store(true)
	return c
}

// pause is arq's allow_pick_jobs = False: no more claims, while the
// worker waits for its running jobs to complete before a shutdown.
func (c *claimer) pause() { c.allowPick.Store(false) }

// claimArgs are the arguments of a claim of at most max jobs.
func (c *claimer) claimArgs(max int, wantSize bool) arqredis.ClaimArgs {
	w := c.w
	now := time.Now()
	return arqredis.ClaimArgs{Queue: w.s.QueueName, Now: now, ReadLimit: w.s.QueueReadLimit, Max: max,
		InProgress: w.inProgressTimeout, AllowAbort: w.s.AllowAbortJobs, WantSize: wantSize, Allow: c.heldLongEnough(now)}
}

// abortHold is how long a claim leaves alone a job that arq's Job.abort
// has re-scored to 1 but not yet added to arq:abort. Job.abort does the
// two in separate round trips; arq's worker, polling every poll_delay,
// almost never looks in between, but a worker woken by the re-score would
// claim the job and run what its caller is aborting. Held, the job is
// claimed as aborted (arq's "aborted before start") once the abort
// request lands, which the worker looks for at growing intervals
// (heldRecheckMin to heldRecheckMax); a job still not in arq:abort after
// abortHold (an abort that never completed) runs as arq's worker would run
// it. No arq code path scores a job 1 otherwise.
const (
	abortHold      = time.Second
	heldRecheckMin = 2 * time.Millisecond
	heldRecheckMax = 50 * time.Millisecond
)

// heldLongEnough are the held jobs a claim may now take.
func (c *claimer) heldLongEnough(now time.Time) []string {
	c.heldMu.Lock()
	defer c.heldMu.Unlock()
	var ids []string
	for id, since := range c.held {
		if now.Sub(since) >= abortHold {
			ids = append(ids, id)
		}
	}
	return ids
}

// noteHeld takes the jobs a claim at now held, and sets when to look
// again. Entries not seen again are forgotten after a few abortHolds.
func (c *claimer) noteHeld(ids []string, now time.Time) {
	c.heldMu.Lock()
	defer c.heldMu.Unlock()
	if len(ids) == 0 && len(c.held) == 0 {
		return
	}
	if c.held == nil {
		c.held = map[string]time.Time{}
	}
	oldest := now
	for _, id := range ids {
		since, ok := c.held[id]
		if !ok {
			since = now
			c.held[id] = now
		}
		oldest = minTime(oldest, since)
	}
	for id, since := range c.held {
		if now.Sub(since) > 4*abortHold && !slices.Contains(ids, id) {
			delete(c.held, id)
		}
	}
	if len(ids) > 0 {
		c.heldNext = now.Add(min(max(now.Sub(oldest), heldRecheckMin), heldRecheckMax))
	}
}

// heldRecheck is when the idle loop should look again at held jobs; zero
// for none. It is taken once: the claim that looks sets the next one.
func (c *claimer) heldRecheck() time.Time {
	c.heldMu.Lock()
	defer c.heldMu.Unlock()
	t := c.heldNext
	c.heldNext = time.Time{}
	return t
}

// reserve sets aside the slots of a claim of at most maxClaimBatch jobs
// (slots.reserve); none while picking is paused or the worker stops.
// finishing are the ids of the jobs whose finish transaction the claim
// rides on. The claim's reply goes to admit; finishing jobs whose slots
// it did not need release them as usual.
func (c *claimer) reserve(finishing []string) int {
	w := c.w
	if !c.allowPick.Load() || w.isStopped() {
		return 0
	}
	return w.slots.reserve(maxClaimBatch, finishing)
}

// admit counts in the jobs a claim of reserved slots took (slots.settle).
// more is the claim's report that ready jobs may remain. finishing are the
// ids given to the claim's reserve.
func (c *claimer) admit(reserved int, finishing []string, jobs []arqredis.Claimed, more bool) {
	c.settle(reserved, finishing, jobs)
	c.lastFound.Store(len(jobs) > 0 && more)
}

// settle ends the reservation of a claim (slots.settle).
func (c *claimer) settle(reserved int, finishing []string, jobs []arqredis.Claimed) {
	w := c.w
	ids := make([]string, len(jobs))
	for i, c := range jobs {
		ids[i] = c.ID
	}
	w.slots.settle(reserved, finishing, ids)
}

// rider is the claim that rides on a finish transaction (writer.flush):
// in arq's way (claim) or targeted (own; claimer.mu is held until rode),
// or none, with the slots reserved for it.
type rider struct {
	claim     *arqredis.ClaimArgs
	own       *arqredis.OwnClaimArgs
	reserved  int
	finishing []string // the ids of the transaction's jobs
}

func (rd *rider) active() bool { return rd.claim != nil || rd.own != nil }

// rider prepares the claim that rides on the finish transaction of
// finishes (ids: their job ids), while claims find jobs: for the slots the
// batch frees and any already free (see reserve). Targeted claims go one
// at a time: none rides while the poll loop claims.
func (c *claimer) rider(finishes []arqredis.Finish, ids []string) rider {
	rd := rider{finishing: ids}
	if c.own != nil {
		c.ownFinishing(finishes)
	}
	switch {
	case !c.lastFound.Load():
	case c.own == nil:
		if rd.reserved = c.reserve(ids); rd.reserved > 0 {
			a := c.claimArgs(rd.reserved, false)
			rd.claim = &a
		}
	case c.mu.TryLock():
		if rd.reserved = c.reserve(ids); rd.reserved > 0 {
			if a, ok := c.ownFlushClaim(rd.reserved, finishes); ok {
				rd.own = &a
			} else {
				c.settle(rd.reserved, ids, nil)
				rd.reserved = 0
			}
		}
		if rd.own == nil {
			c.mu.Unlock()
		}
	}
	return rd
}

// rode takes the reply of the finish transaction a rider's claim rode on
// (skipped: a targeted claim's skipped ids) and admits the jobs it
// claimed, with the slots reserved for it; the rider is spent. A claim
// that failed claimed nothing, except when its reply was lost, and then
// its jobs run again once their in-progress keys expire, as after any lost
// claim reply.
func (c *claimer) rode(ctx context.Context, rd *rider, rep arqredis.FinishReply, skipped []arqredis.Skip) []arqredis.Claimed {
	if rd.own != nil {
		c.ownClaimed(rep.Claimed, skipped, rd.own.Now)
		defer c.mu.Unlock()
	} else {
		c.noteHeld(rep.Held, rd.claim.Now)
	}
	rd.claim, rd.own = nil, nil
	if err := rep.ClaimErr; err != nil && !arqredis.Transient(err) {
		c.w.log.ErrorContext(ctx, fmt.Sprintf("claiming jobs with a finish write failed: %v", err), "error", err)
	}
	if len(rep.Claimed) == 0 {
		c.settle(rd.reserved, rd.finishing, nil)
		return nil
	}
	c.admit(rd.reserved, rd.finishing, rep.Claimed, rep.More || c.own != nil)
	return rep.Claimed
}

// unreserve gives back the slots reserved for a claim that claimed
// nothing and had no finishing jobs.
func (c *claimer) unreserve(reserved int) { c.w.slots.settle(reserved, nil, nil) }

// start starts the push wake-up (startPush), which stop stops.
func (c *claimer) start(ctx context.Context) { c.stopPush = c.startPush(ctx) }

// stop stops the push wake-up, once run has returned.
func (c *claimer) stop() { c.stopPush() }

// run is arq's main: poll, then in burst mode stop once nothing is left.
// Unlike arq it polls again at once while the last poll found jobs, so a
// full queue drains at the speed of Redis rather than queue_read_limit
// jobs per poll_delay; an idle worker sleeps until a push wake-up, the
// next deferred job or PollDelay (see startPush).
func (c *claimer) run(ctx context.Context) error {
	w := c.w
	backoff := time.Duration(0)
	woke := false // a push wake-up or a due time ended the last wait
	for !w.isStopped() {
		before := time.Now()
		found, size, err := c.poll(ctx, woke)
		if err == nil {
			err = w.maint.tick(ctx) // after each poll, as arq's heart_beat
		}
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
			push = c.pushed
			wait, due = c.idleWait(before)
			due = due && !w.s.NoPushWakeup // with push off, a due time is a plain poll
		}
		if wait <= 0 {
			woke = due
		} else {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				if woke = due; woke {
					c.herdWait()
				}
			case <-push:
				woke = true
				if !c.selfWake.Swap(false) {
					c.herdWait()
				}
			case <-wake:
				// jobs that finish together release their slots microseconds
				// apart (their outcomes share one write): let them land, so
				// one claim round trip starts several jobs instead of one
				if w.slots.free() < max(2, w.s.MaxJobs/2) {
					time.Sleep(claimGather)
				}
			case <-w.shut.C():
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

// poll claims ready jobs up to the free slots and starts them. found
// reports that the
// claim left ready jobs, or that none could be claimed because every slot
// was busy: either way more may be ready. woke says a push wake-up or a
// deferred job's due time ended the wait before it. size is the queue's
// ZCARD when it was read (burst mode), else -1.
func (c *claimer) poll(ctx context.Context, woke bool) (found bool, size int64, err error) {
	w := c.w
	size = -1
	c.mu.Lock()
	limit := c.reserve(nil)
	if c.allowPick.Load() && limit <= 0 && w.slots.free() <= 0 {
		found = true
	}
	if limit > 0 && c.own != nil {
		jobs, err := c.claimOwn(ctx, limit)
		if err != nil {
			c.unreserve(limit)
			c.mu.Unlock()
			return false, size, err
		}
		c.admit(limit, nil, jobs, true)
		w.exec.launch(ctx, jobs)
		found = len(jobs) > 0
	} else if limit > 0 {
		// after a claim that left jobs, or a wake-up when this worker is
		// the one of its herd that reacts at once, claim straight away;
		// otherwise peek first (one cheap command when nothing is ready)
		ready := c.lastFound.Load()
		reacting := !ready
		peeked := !ready && !(woke && c.herdDelay.Load() == 0)
		if peeked {
			if ready, err = c.peek(ctx); err != nil {
				c.unreserve(limit)
				c.mu.Unlock()
				return false, size, err
			}
		} else {
			ready = true
		}
		if !ready {
			c.unreserve(limit)
		} else {
			args := c.claimArgs(limit, w.s.Burst)
			rep, err := w.store.Claim(ctx, args)
			if err == nil {
				c.noteHeld(rep.Held, args.Now)
			}
			if err == nil && !rep.More {
				c.nextDue.Store(rep.NextDue)
			} else if err == nil && len(rep.Jobs) == 0 {
				err = c.noteDue(ctx, time.Now())
			}
			if err != nil {
				c.unreserve(limit)
				c.mu.Unlock()
				return false, size, err
			}
			if reacting && !w.s.NoPushWakeup {
				if len(rep.Jobs) > 0 {
					c.herdOutcome(true)
				} else {
					c.herdSaw(rep.Busy)
				}
			}
			size = rep.Size
			c.admit(limit, nil, rep.Jobs, rep.More)
			w.exec.launch(ctx, rep.Jobs) // blocks at most until handed slots are released
			found = len(rep.Jobs) > 0 && rep.More
		}
	}
	c.mu.Unlock()
	if c.own != nil && w.s.Burst {
		size = c.ownPending()
	}
	return found, size, nil
}
