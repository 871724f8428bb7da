// Part: the finish writer. It owns the queue of finish transactions
// waiting to be written and the goroutines that write them in batches
// (flushers), each batch one MULTI/EXEC that may end with a claim for the
// slots the batch frees (the claim's slots come from slots, its arguments
// from the claimer, its jobs go to the executor). A job's finish is
// submitted and the job's goroutine ends: no goroutine waits for the write.
// Once it is written (or given up) the flusher tells the job (written),
// which releases its slot. start starts the flushers; stop, called once
// every job has released its slot, ends them.

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

// writer is the finish writer (see the file's comment).
type writer struct {
	w      *Worker // settings, store and the other parts
	mu     sync.Mutex
	queue  []writeReq    // finish transactions waiting to be written; under mu
	closed bool          // stop was called; under mu
	ready  chan struct{} // receives when the queue has requests or stop was called
	done   chan struct{} // closed when the flushers end
	// one is held by the flusher writing while only one may (batchMode)
	one sync.Mutex
	// runUS is a moving average of the jobs' run time in µs (noteRunTime)
	runUS atomic.Int64
}

func newWriter(w *Worker) *writer {
	return &writer{w: w, ready: make(chan struct{}, 1), done: make(chan struct{})}
}

// writeReq is one job's finish transaction, waiting to be written.
type writeReq struct {
	ctx     context.Context // the job's, for the log line
	finish  arqredis.Finish
	expires time.Time // when the job's in-progress key expires
	what    string    // names the write in the log line
	then    written   // is told once the write is done or given up
}

// written is told that a job's finish was written or given up, on the
// flusher's goroutine: it must not block. again reports that the write
// left the job ready to run again at once (see readyAgain).
type written interface {
	written(again bool)
}

// writeResult is how a finish transaction went: err is nil when it is in
// Redis, tries counts the attempts it took, and lapsed reports that the
// job's claim was gone at the first attempt (its in-progress key expired
// or was taken over), so nothing was written. again reports that the job
// is ready to run again at once (see readyAgain).
type writeResult struct {
	err    error
	tries  int
	lapsed bool
	again  bool
	// skipped are the batch's finishes that did not apply (flush's
	// result for the whole batch)
	skipped []arqredis.Skipped
}

// maxWriteBatch bounds how many jobs' finish transactions share one
// MULTI/EXEC.
const maxWriteBatch = 256

// Retrying a finish write that failed on a lost connection: the backoff
// between attempts, and how long after a stop (signal, burst end) the
// writer still tries before leaving the jobs to run again.
const (
	writeBackoffMin = 50 * time.Millisecond
	writeBackoffMax = 2 * time.Second
	writeStopGrace  = 5 * time.Second
)

// submit queues a finish transaction and returns at once; then is told
// once it is written or given up, after what became of it was logged when
// it did not go through at the first attempt. Jobs finishing at the same
// time share one MULTI/EXEC round trip: the writes of each job stay atomic
// (the batch is one transaction), and no job's slot is released before its
// outcome is in Redis or given up.
func (wr *writer) submit(ctx context.Context, expires time.Time, f arqredis.Finish, what string, then written) {
	wr.mu.Lock()
	wr.queue = append(wr.queue, writeReq{ctx: ctx, finish: f, expires: expires, what: what, then: then})
	wr.mu.Unlock()
	wr.signal()
}

func (wr *writer) signal() {
	select {
	case wr.ready <- struct{}{}:
	default:
	}
}

// take waits for finish transactions and appends up to limit of them to
// batch; ok is false once the writer stops with none left.
func (wr *writer) take(batch []writeReq, limit int) (_ []writeReq, ok bool) {
	for {
		wr.mu.Lock()
		if n := min(len(wr.queue), limit); n > 0 {
			batch = append(batch, wr.queue[:n]...)
			rest := copy(wr.queue, wr.queue[n:])
			clear(wr.queue[rest:])
			wr.queue = wr.queue[:rest]
			wr.mu.Unlock()
			if rest > 0 {
				wr.signal() // for the other flusher
			}
			return batch, true
		}
		closed := wr.closed
		wr.mu.Unlock()
		if closed {
			wr.signal() // the other flusher stops too
			return batch, false
		}
		<-wr.ready
	}
}

// logWrite reports a write that failed or needed retries.
func (wr *writer) logWrite(ctx context.Context, id, what string, res writeResult) {
	w := wr.w
	if res.lapsed {
		w.log.WarnContext(ctx, fmt.Sprintf("job %s: the %s was not recorded: the job's in-progress key expired or another worker claimed it again, so the job runs again",
			id, what), "job_id", id)
		return
	}
	if res.err != nil {
		w.log.ErrorContext(ctx, fmt.Sprintf("job %s: recording the %s failed after %d tries, the job will run again after its in-progress key expires: %v",
			id, what, res.tries, res.err), "job_id", id, "error", res.err, "tries", res.tries)
		return
	}
	w.log.InfoContext(ctx, fmt.Sprintf("job %s: %s recorded after %d tries, once the connection to redis returned", id, what, res.tries),
		"job_id", id, "tries", res.tries)
}

// start starts the goroutines that flush finish transactions (see
// flushers); they run until stop.
func (wr *writer) start(ctx context.Context) {
	var wg sync.WaitGroup
	for range flushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr.flusher(ctx)
		}()
	}
	go func() {
		wg.Wait()
		close(wr.done)
	}()
}

// stop ends the flushers once they have written what is queued. It is
// called after every job has released its slot: no job writes after it.
func (wr *writer) stop() {
	wr.mu.Lock()
	wr.closed = true
	wr.mu.Unlock()
	wr.signal()
	<-wr.done
}

// flushers is how many flushers there are: two, of which batchMode says
// whether both may write at once.
const flushers = 2

// batchMode is how the next batch is written: one reports whether one
// finish transaction at a time is best now, and limit bounds the batch. With few slots, the jobs of one batch finish while the previous
// batch's transaction, with the claim of their successors, is in flight:
// the second flusher writes them at once, so Redis works on one batch
// while the worker runs the other. With many slots one batch keeps Redis
// busy, and every extra claim would read past all the jobs in progress at
// the head of the queue again (one EXISTS each): one at a time. Unless
// the jobs run long (slowJobs): then they finish in waves, and each job's
// successor waits for its wave's round trip, so the flushers write
// batches of at most slowWriteBatch two at a time, and a slot waits for a
// small round trip rather than for the whole wave's. (10 ms jobs at
// max_jobs 100 drained about 5-10% faster so, measured side by side; the
// extra claims cost nothing that matters while Redis idles between waves.)
func (wr *writer) batchMode() (one bool, limit int) {
	if wr.slowJobs() {
		return false, slowWriteBatch
	}
	return wr.w.s.MaxJobs > maxJobsForTwoFlushers, maxWriteBatch
}

const (
	maxJobsForTwoFlushers = 32
	// slowWriteBatch bounds a batch while jobs are slow
	slowWriteBatch = 25
	// slowJobMinUS is the average run time, µs, from which jobs are slow
	slowJobMinUS = 1000
)

// noteRunTime adds a job's run time to the moving average.
func (wr *writer) noteRunTime(ms int64) {
	old := wr.runUS.Load()
	wr.runUS.Store(old + (ms*1000-old)/8) // an update lost to a race only delays the average
}

// slowJobs reports that jobs run long compared with a round trip.
func (wr *writer) slowJobs() bool { return wr.runUS.Load() >= slowJobMinUS }

// flusher takes the finish transactions waiting, up to maxWriteBatch, and
// writes them in one MULTI/EXEC, until stop.
func (wr *writer) flusher(ctx context.Context) {
	batch := make([]writeReq, 0, maxWriteBatch)
	for {
		one, limit := wr.batchMode()
		if one {
			wr.one.Lock()
		}
		var ok bool
		var res writeResult
		var jobs []arqredis.Claimed
		var lapsed []int
		if batch, ok = wr.take(batch[:0], limit); ok {
			res, jobs, lapsed = wr.flush(ctx, batch)
		}
		if one {
			wr.one.Unlock()
		}
		if !ok {
			return
		}
		for i, r := range batch {
			rr := res
			rr.lapsed = slices.Contains(lapsed, i)
			rr.again = res.err == nil && readyAgain(r.finish, i, res.skipped)
			if rr.err != nil || rr.tries > 1 || rr.lapsed {
				wr.logWrite(r.ctx, r.finish.JobID, r.what, rr)
			}
			r.then.written(rr.again)
		}
		clear(batch) // hold no job once it is told
		if len(jobs) > 0 {
			// they take the slots the batch's jobs release once past
			// after_job_end; the writer goes on meanwhile
			go wr.w.exec.launch(ctx, jobs)
		}
	}
}

// flush writes a batch in one MULTI/EXEC. While claims find jobs, the
// same transaction ends with a claim for the slots this batch frees and
// any already free (see reserve); flush admits the jobs it claimed, and
// the caller launches them once the batch has been answered.
//
// When the connection is lost (or Redis is loading, read-only after a
// failover, ...), flush tries again, without a claim, with backoff, for as
// long as every job in the batch still holds its in-progress key, so no
// other worker can have started it again; after that, or writeStopGrace
// after the worker stopped, it gives up and the jobs run again once their
// in-progress keys expire. Each job's finish applies only while its
// in-progress key holds its claim's token, so an attempt whose reply was
// lost applied once and is a no-op when repeated (by flush, or by go-redis
// itself on a new connection): a job the repeat skips was finished by that
// attempt. lapsed are the indexes of the jobs whose claim was gone (see
// lapsedOf): nothing was written for them.
func (wr *writer) flush(ctx context.Context, batch []writeReq) (res writeResult, jobs []arqredis.Claimed, lapsed []int) {
	w := wr.w
	limit := batch[0].expires
	finishes := make([]arqredis.Finish, len(batch))
	ids := make([]string, len(batch))
	for i, r := range batch {
		finishes[i] = r.finish
		ids[i] = r.finish.JobID
		if r.expires.Before(limit) {
			limit = r.expires
		}
	}
	rd := w.claim.rider(finishes, ids)
	backoff := writeBackoffMin
	var stoppedAt time.Time
	for tries := 1; ; tries++ {
		var rep arqredis.FinishReply
		var skipped []arqredis.Skip
		if rd.own != nil {
			rep, skipped = w.store.WriteFinishesOwn(ctx, finishes, *rd.own)
		} else {
			rep = w.store.WriteFinishes(ctx, finishes, rd.claim)
		}
		if rd.active() {
			jobs = w.claim.rode(ctx, &rd, rep, skipped) // one claim attempt per batch
		}
		err := rep.Err
		if err == nil {
			lapsed = lapsedOf(batch, rep.Skipped, tries)
		}
		if err == nil || !arqredis.Transient(err) {
			return writeResult{err: err, tries: tries, skipped: rep.Skipped}, jobs, lapsed
		}
		if w.isStopped() {
			if stoppedAt.IsZero() {
				stoppedAt = time.Now()
			}
			limit = minTime(limit, stoppedAt.Add(writeStopGrace))
		}
		if time.Now().Add(backoff).After(limit) {
			return writeResult{err: err, tries: tries}, jobs, nil
		}
		if tries == 1 {
			w.redisError(ctx, slog.LevelWarn, fmt.Sprintf("redis error recording the outcome of %d jobs, retrying until the connection returns: %v", len(batch), err),
				err, "jobs", len(batch))
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, writeBackoffMax)
	}
}

// lapsedOf are the jobs of a batch whose finish most likely did not apply
// because their claim was gone rather than because an earlier attempt
// (whose reply was lost) applied it: the write came after the in-progress
// key's TTL, or the key holds another claim and flush made no earlier
// attempt. It only decides a log line: either way nothing more is to be
// written. (go-redis repeats a command on a new connection by itself, so
// "no earlier attempt" is a guess.)
func lapsedOf(batch []writeReq, skipped []arqredis.Skipped, tries int) []int {
	var out []int
	now := time.Now()
	for _, s := range skipped {
		if (s.Taken && tries == 1) || now.After(batch[s.Index].expires) {
			out = append(out, s.Index)
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// readyAgain reports whether a finish that was written, the batch's i-th,
// left its job ready to run at once: a retry with no delay (Retry(0), a
// job that cancelled itself, one cancelled by a shutdown), whose finish
// deletes the in-progress key and, as arq's finish_job, leaves the queue
// key alone (no ZINCRBY without an increment), so Redis sends no push to
// any worker (see wakeSelf). A finish skipped because the job's key holds
// another claim does not count: that claim runs it. One skipped because
// the key is gone does: an earlier attempt whose reply was lost applied
// it, or the key expired, and either way the job is ready.
func readyAgain(f arqredis.Finish, i int, skipped []arqredis.Skipped) bool {
	if f.Failed || f.Done || f.IncrScore != 0 || f.KeepInProgress > 0 {
		return false
	}
	return !slices.ContainsFunc(skipped, func(s arqredis.Skipped) bool { return s.Index == i && s.Taken })
}
