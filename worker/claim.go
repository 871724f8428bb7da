package worker

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goarq/goarq/internal/arqredis"
)

// claimer is the state of claiming jobs: who may claim, and what the
// last claim found.
type claimer struct {
	// mu is held by whoever claims in arq's own way, one claim at a time:
	// the poll loop, or (targeted claims) the writer claiming in the same
	// round trip as a finish write. Slots are counted by reservations
	// (reserve, under Worker.mu), so the writer's claims in arq's way do
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

// claimArgs are the arguments of a claim of at most max jobs.
func (w *Worker) claimArgs(max int, wantSize bool) arqredis.ClaimArgs {
	now := time.Now()
	return arqredis.ClaimArgs{Queue: w.s.QueueName, Now: now, ReadLimit: w.s.QueueReadLimit, Max: max,
		InProgress: w.inProgressTimeout, AllowAbort: w.s.AllowAbortJobs, WantSize: wantSize, Allow: w.heldLongEnough(now)}
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
func (w *Worker) heldLongEnough(now time.Time) []string {
	w.claim.heldMu.Lock()
	defer w.claim.heldMu.Unlock()
	var ids []string
	for id, since := range w.claim.held {
		if now.Sub(since) >= abortHold {
			ids = append(ids, id)
		}
	}
	return ids
}

// noteHeld takes the jobs a claim at now held, and sets when to look
// again. Entries not seen again are forgotten after a few abortHolds.
func (w *Worker) noteHeld(ids []string, now time.Time) {
	w.claim.heldMu.Lock()
	defer w.claim.heldMu.Unlock()
	if len(ids) == 0 && len(w.claim.held) == 0 {
		return
	}
	if w.claim.held == nil {
		w.claim.held = map[string]time.Time{}
	}
	oldest := now
	for _, id := range ids {
		since, ok := w.claim.held[id]
		if !ok {
			since = now
			w.claim.held[id] = now
		}
		oldest = minTime(oldest, since)
	}
	for id, since := range w.claim.held {
		if now.Sub(since) > 4*abortHold && !slices.Contains(ids, id) {
			delete(w.claim.held, id)
		}
	}
	if len(ids) > 0 {
		w.claim.heldNext = now.Add(min(max(now.Sub(oldest), heldRecheckMin), heldRecheckMax))
	}
}

// heldRecheck is when the idle loop should look again at held jobs; zero
// for none. It is taken once: the claim that looks sets the next one.
func (w *Worker) heldRecheck() time.Time {
	w.claim.heldMu.Lock()
	defer w.claim.heldMu.Unlock()
	t := w.claim.heldNext
	w.claim.heldNext = time.Time{}
	return t
}

// reserve sets aside the slots of a claim of at most maxClaimBatch jobs
// (slots.reserve); none while picking is paused or the worker stops.
// finishing are the ids of the jobs whose finish transaction the claim
// rides on. The claim's reply goes to admit; finishing jobs whose slots
// it did not need release them as usual.
func (w *Worker) reserve(finishing []string) int {
	if !w.claim.allowPick.Load() || w.isStopped() {
		return 0
	}
	return w.slots.reserve(maxClaimBatch, finishing)
}

// admit counts in the jobs a claim of reserved slots took (slots.settle).
// more is the claim's report that ready jobs may remain. finishing are the
// ids given to the claim's reserve.
func (w *Worker) admit(reserved int, finishing []string, jobs []arqredis.Claimed, more bool) {
	w.settle(reserved, finishing, jobs)
	w.claim.lastFound.Store(len(jobs) > 0 && more)
}

// settle ends the reservation of a claim (slots.settle).
func (w *Worker) settle(reserved int, finishing []string, jobs []arqredis.Claimed) {
	ids := make([]string, len(jobs))
	for i, c := range jobs {
		ids[i] = c.ID
	}
	w.slots.settle(reserved, finishing, ids)
}

// unreserve gives back the slots reserved for a claim that claimed
// nothing and had no finishing jobs.
func (w *Worker) unreserve(reserved int) { w.slots.settle(reserved, nil, nil) }
