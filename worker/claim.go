package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goarq/goarq/internal/arqredis"
)

// claimer is the state of claiming jobs: who may claim, and what the
// last claim found.
type claimer struct {
	// mu is held by whoever claims jobs: the poll loop, or the writer
	// claiming in the same round trip as a finish write
	mu sync.Mutex
	// lastFound: the last claim found jobs and may have left more, so the
	// idle peek is skipped
	lastFound atomic.Bool
	// started counts the jobs claimed, for max_burst_jobs
	started atomic.Int64
	// allowPick is arq's allow_pick_jobs: off while waiting for running
	// jobs to complete before a shutdown
	allowPick atomic.Bool
	// pushed receives when the queue key was written (push wake-up)
	pushed chan struct{}
	// nextDue is the ms timestamp of the next deferred job; 0: none known
	nextDue atomic.Int64
	// herdDelay (ns) delays the reaction to push wake-ups; see herdOutcome
	herdDelay atomic.Int64
	// busySeen are the ready jobs in progress that the last idle peek or
	// claim saw (herdSaw); guarded by mu
	busySeen []string
}

// claimArgs are the arguments of a claim of at most max jobs.
func (w *Worker) claimArgs(max int, wantSize bool) arqredis.ClaimArgs {
	return arqredis.ClaimArgs{Queue: w.s.QueueName, Now: time.Now(), ReadLimit: w.s.QueueReadLimit, Max: max,
		InProgress: w.inProgressTimeout, AllowAbort: w.s.AllowAbortJobs, WantSize: wantSize}
}

// claimLimit is how many jobs a claim may take when free slots are free:
// none while picking is paused or the worker stops, and no more than
// max_burst_jobs allows.
func (w *Worker) claimLimit(free int) int {
	if !w.claim.allowPick.Load() || w.isStopped() {
		return 0
	}
	if w.s.Burst && w.s.MaxBurstJobs > 0 {
		free = min(free, w.s.MaxBurstJobs-w.jobsStarted())
	}
	return free
}

// admit counts claimed jobs in: as started (max_burst_jobs), as holding a
// slot (Stats().Ongoing) and in the wait group Run waits on. more is the
// claim's report that ready jobs may remain. The caller holds claim.mu.
func (w *Worker) admit(jobs []arqredis.Claimed, more bool) {
	n := len(jobs)
	w.claim.started.Add(int64(n))
	w.mu.Lock()
	w.claimed += n
	for _, c := range jobs {
		w.mine[c.ID]++
	}
	w.mu.Unlock()
	w.wg.Add(n)
	w.claim.lastFound.Store(n > 0 && more)
}

// launch takes a slot for each admitted job and starts it. Each job is
// decoded on a short-lived goroutine: jobs decode in parallel, the claimer
// goes back to its work, and the decoding stack is freed before the
// handler's goroutine starts, so 1,000 waiting jobs do not hold 1,000
// grown stacks.
func (w *Worker) launch(ctx context.Context, jobs []arqredis.Claimed) {
	for range jobs {
		w.slots <- struct{}{} // blocks only while a finishing job has yet to release its slot
	}
	for _, c := range jobs {
		go w.decodeAndStart(context.WithoutCancel(ctx), c)
	}
}
