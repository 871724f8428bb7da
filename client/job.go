package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
)

// JobStatus is arq's JobStatus.
type JobStatus string

const (
	StatusDeferred   JobStatus = "deferred"
	StatusQueued     JobStatus = "queued"
	StatusInProgress JobStatus = "in_progress"
	StatusComplete   JobStatus = "complete"
	StatusNotFound   JobStatus = "not_found"
)

var (
	// ErrJobNotFound: the job has neither a definition nor a result.
	ErrJobNotFound = errors.New("job not found")
	// ErrResultNotFound: Result was asked for a job that is neither queued
	// nor finished with a kept result (arq's ResultNotFound).
	ErrResultNotFound = errors.New("not waiting for job result because the job is not in queue; is the worker function configured to keep result?")
	// ErrResultTimeout: the result did not arrive within the timeout.
	ErrResultTimeout = errors.New("timed out waiting for job result")
	// ErrJobAborted is matched by errors.Is when a job's result is a
	// cancellation (asyncio.CancelledError), as for an aborted job.
	ErrJobAborted = errors.New("job was cancelled")
)

// JobFailedError is returned by Result for a job that failed. errors.As
// with a **arqcompat.Exception gives the Python exception (class and args).
type JobFailedError struct {
	JobID  string
	Result *JobResult
	// Exception is the Python exception, or nil when the stored result is
	// not an exception (arq's SerializationError case).
	Exception *arqcompat.Exception
}

func (e *JobFailedError) Error() string {
	if e.Exception != nil {
		return fmt.Sprintf("job %s failed: %s", e.JobID, e.Exception.Error())
	}
	return fmt.Sprintf("job %s failed: %s", e.JobID, arqcompat.Repr(e.Result.Result))
}

func (e *JobFailedError) Unwrap() error {
	if e.Exception != nil {
		return e.Exception
	}
	return nil
}

func (e *JobFailedError) Is(target error) bool {
	return target == ErrJobAborted && e.Exception != nil && arqcompat.IsCancellation(e.Exception)
}

// Job is a handle on a job, as arq's Job.
type Job struct {
	ID    string
	Queue string
	c     *Client
}

// Status reads the status with arq's rules: a kept result is complete, an
// in-progress key in_progress, a queue score deferred or queued by the
// clock, else not_found.
func (j *Job) Status(ctx context.Context) (JobStatus, error) {
	st, err := j.c.store.JobState(ctx, j.Queue, j.ID)
	if err != nil {
		return "", err
	}
	return JobStatus(st.Status(arqcompat.TimestampMS(j.c.now()))), nil
}

// ResultOptions: Timeout 0 waits forever (bounded by ctx); PollDelay
// defaults to arq's 0.5 s.
type ResultOptions struct {
	Timeout   time.Duration
	PollDelay time.Duration
}

// Result waits for the job's result as arq's Job.result: it returns the
// value of a successful job; a *JobFailedError for a failed one;
// ErrResultNotFound when the job is not queued and has no result;
// ErrResultTimeout after the timeout.
func (j *Job) Result(ctx context.Context, opts ResultOptions) (any, error) {
	r, err := j.waitResult(ctx, opts)
	if err != nil {
		return nil, err
	}
	if r.Success {
		return r.Result, nil
	}
	fe := &JobFailedError{JobID: j.ID, Result: r}
	fe.Exception, _ = r.Result.(*arqcompat.Exception)
	return nil, fe
}

// ResultInto is Result followed by arqcompat.Assign into dst (a pointer).
func (j *Job) ResultInto(ctx context.Context, dst any, opts ResultOptions) error {
	v, err := j.Result(ctx, opts)
	if err != nil {
		return err
	}
	if err := arqcompat.Assign(dst, v); err != nil {
		return fmt.Errorf("job %s result: %w", j.ID, err)
	}
	return nil
}

func (j *Job) waitResult(ctx context.Context, opts ResultOptions) (*JobResult, error) {
	poll := opts.PollDelay
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	var wake <-chan struct{} // the result key was written (push wake-up)
	if j.c.results != nil {
		var release func()
		wake, release = j.c.results.Wait(ctx, arqcompat.ResultKey(j.ID))
		defer release()
	}
	start := time.Now()
	for {
		before := time.Now()
		data, queued, err := j.c.store.PollResult(ctx, j.Queue, j.ID)
		if err != nil {
			return nil, err
		}
		if data != nil {
			return j.c.decodeResult(j.ID, data)
		}
		if !queued {
			return nil, fmt.Errorf("job %s: %w", j.ID, ErrResultNotFound)
		}
		if opts.Timeout > 0 && before.Sub(start) > opts.Timeout {
			return nil, fmt.Errorf("job %s: %w after %s", j.ID, ErrResultTimeout, opts.Timeout)
		}
		wait := max(0, poll-time.Since(before))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}

// ResultInfo returns the stored result without waiting, or ErrJobNotFound.
func (j *Job) ResultInfo(ctx context.Context) (*JobResult, error) {
	data, err := j.c.store.GetResult(ctx, j.ID)
	if errors.Is(err, arqredis.ErrNotFound) {
		return nil, fmt.Errorf("job %s result: %w", j.ID, ErrJobNotFound)
	}
	if err != nil {
		return nil, err
	}
	return j.c.decodeResult(j.ID, data)
}

// Info returns all arq knows of the job: its result if there is one, else
// its definition, with the current queue score; ErrJobNotFound otherwise.
func (j *Job) Info(ctx context.Context) (*JobResult, error) {
	info, err := j.ResultInfo(ctx)
	if err != nil && !errors.Is(err, ErrJobNotFound) {
		return nil, err
	}
	if info == nil {
		data, err := j.c.store.GetJob(ctx, j.ID)
		if errors.Is(err, arqredis.ErrNotFound) {
			return nil, fmt.Errorf("job %s: %w", j.ID, ErrJobNotFound)
		}
		if err != nil {
			return nil, err
		}
		rec, err := arqcompat.DecodeJob(j.c.ser, data)
		if err != nil {
			return nil, fmt.Errorf("job %s: unable to deserialize job: %w", j.ID, err)
		}
		info = &JobResult{JobDef: jobDefFrom(j.ID, rec)}
	}
	score, ok, err := j.c.store.Score(ctx, j.Queue, j.ID)
	if err != nil {
		return nil, err
	}
	if ok {
		info.Score = &score
	}
	info.JobID = j.ID
	return info, nil
}

// IsFinished reports whether the info is a finished job's result.
func (r *JobResult) IsFinished() bool { return !r.FinishTime.IsZero() }

// Abort asks the worker to abort the job with arq's steps: a deferred job
// is re-scored to 1 so that a worker picks it up at once, the id is added
// to arq:abort with the current time, and the result is awaited. It
// returns true only when the job ended cancelled. A worker running with
// allow_abort_jobs off never cancels, so this returns false once the
// timeout passes or the job finishes.
func (j *Job) Abort(ctx context.Context, opts ResultOptions) (bool, error) {
	info, err := j.Info(ctx)
	if err != nil && !errors.Is(err, ErrJobNotFound) {
		return false, err
	}
	now := j.c.now()
	rescore := info != nil && info.Score != nil && *info.Score > arqcompat.TimestampMS(now)
	if err := j.c.store.RequestAbort(ctx, j.Queue, j.ID, now, rescore); err != nil {
		return false, err
	}
	_, err = j.Result(ctx, opts)
	switch {
	case errors.Is(err, ErrJobAborted):
		return true, nil
	case err == nil, errors.Is(err, ErrResultNotFound), errors.Is(err, ErrResultTimeout):
		return false, nil
	default:
		var fe *JobFailedError
		if errors.As(err, &fe) {
			return false, nil
		}
		return false, err
	}
}
