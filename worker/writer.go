package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeReq is one job's finish transaction, waiting to be written.
type writeReq struct {
	build   func(redis.Pipeliner)
	expires time.Time // when the job's in-progress key expires
	done    chan writeResult
}

// writeResult is how a finish transaction went: err is nil when it is in
// Redis, tries counts the attempts it took.
type writeResult struct {
	err   error
	tries int
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

// write queues a finish transaction and waits until it is written or given
// up. Jobs finishing at the same time share one MULTI/EXEC round trip: the
// writes of each job stay atomic (the batch is one transaction), and no
// job's slot is released before its outcome is in Redis or given up.
func (w *Worker) write(ctx context.Context, expires time.Time, build func(redis.Pipeliner)) writeResult {
	req := writeReq{build: build, expires: expires, done: make(chan writeResult, 1)}
	w.writes <- req
	return <-req.done
}

// writer is the goroutine that flushes finish transactions. It ends when
// w.writes is closed, after every job has released its slot.
func (w *Worker) writer(ctx context.Context) {
	defer close(w.writerDone)
	batch := make([]writeReq, 0, maxWriteBatch)
	for req := range w.writes {
		batch = append(batch[:0], req)
	more:
		for len(batch) < maxWriteBatch {
			select {
			case r, ok := <-w.writes:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		res, jobs := w.flush(ctx, batch)
		for _, r := range batch {
			r.done <- res
		}
		if len(jobs) > 0 {
			// the batch's jobs release their slots to these once they are
			// past after_job_end; the writer goes on meanwhile
			go func() {
				w.launch(ctx, jobs)
				w.claimMu.Unlock()
			}()
		}
	}
}

// flush writes a batch in one MULTI/EXEC. When the last claim found jobs
// and nobody else is claiming, the same transaction ends with the claim
// script for the slots this batch frees (and any already free): Redis runs
// it after the finish commands, so one round trip finishes jobs and claims
// their successors, with the atomicity of a separate claim. When it
// returns jobs, flush holds claimMu and has admitted them; the caller
// launches them once the batch has been answered, then unlocks.
//
// When the connection is lost (or Redis is loading, read-only after a
// failover, ...), flush tries again, without a claim, with backoff, for as
// long as every job in the batch still holds its in-progress key, so no
// other worker can have started it again; after that, or writeStopGrace
// after the worker stopped, it gives up and the jobs run again once their
// in-progress keys expire. The transaction is idempotent, so an attempt
// whose reply was lost does no harm when repeated.
func (w *Worker) flush(ctx context.Context, batch []writeReq) (res writeResult, jobs []claimed) {
	limit := batch[0].expires
	for _, r := range batch[1:] {
		if r.expires.Before(limit) {
			limit = r.expires
		}
	}
	claims := 0
	if w.lastFound.Load() && w.claimMu.TryLock() {
		if claims = w.claimLimit(w.freeSlots() + len(batch)); claims <= 0 {
			w.claimMu.Unlock()
		}
	}
	backoff := writeBackoffMin
	var stoppedAt time.Time
	for tries := 1; ; tries++ {
		var claim *redis.Cmd
		var claimAt time.Time
		cmds, err := w.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, r := range batch {
				r.build(p)
			}
			if claims > 0 {
				claimAt = time.Now()
				keys, args := w.claimArgs(claimAt, claims, false)
				claim = claimScript.EvalSha(ctx, p, keys, args...)
			}
			return nil
		})
		if claim != nil {
			claims = 0 // one claim attempt per batch
			err = firstErr(cmds[:len(cmds)-1])
			if jobs = w.piggybackClaimed(ctx, claim, claimAt); len(jobs) == 0 {
				w.claimMu.Unlock()
			}
		}
		if err == nil || !transient(err) {
			return writeResult{err: err, tries: tries}, jobs
		}
		if w.isStopped() {
			if stoppedAt.IsZero() {
				stoppedAt = time.Now()
			}
			limit = minTime(limit, stoppedAt.Add(writeStopGrace))
		}
		if time.Now().Add(backoff).After(limit) {
			return writeResult{err: err, tries: tries}, jobs
		}
		if tries == 1 {
			w.log.WarnContext(ctx, fmt.Sprintf("redis error recording the outcome of %d jobs, retrying until the connection returns: %v", len(batch), err),
				"jobs", len(batch), "error", err)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, writeBackoffMax)
	}
}

// piggybackClaimed reads the claim that rode on a finish transaction and
// admits the jobs it claimed. A claim that failed claimed nothing, except
// when its reply was lost, and then its jobs run again once their
// in-progress keys expire, as after any lost claim reply.
func (w *Worker) piggybackClaimed(ctx context.Context, claim *redis.Cmd, at time.Time) []claimed {
	if err := claim.Err(); err != nil {
		if redis.HasErrorPrefix(err, "NOSCRIPT") { // a fresh or restarted Redis: load it for next time
			err = claimScript.Load(ctx, w.rdb).Err()
		}
		if err != nil && !transient(err) {
			w.log.ErrorContext(ctx, fmt.Sprintf("claiming jobs with a finish write failed: %v", err), "error", err)
		}
		return nil
	}
	jobs, _, err := w.parseClaim(at, claim.Val())
	if err != nil {
		w.log.ErrorContext(ctx, err.Error(), "error", err)
		return nil
	}
	w.admit(len(jobs))
	return jobs
}

// firstErr is the first error among cmds.
func firstErr(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// transient reports whether a Redis error may go away by itself: a lost or
// refused connection, or a server that is loading, read-only or without a
// master. Errors Redis replies to a well-formed command with are not.
func transient(err error) bool {
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, context.Canceled) {
		return false
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return true
	}
	msg := re.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "ERR max number of clients"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
