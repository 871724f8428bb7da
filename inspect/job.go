package inspect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/arqredis"
)

// JobDetail is everything stored under one job id.
type JobDetail struct {
	JobID, Queue string
	Status       client.JobStatus
	// Def is the job record (nil when absent or unreadable: DefErr, a
	// *RecordError).
	Def    *client.JobDef
	DefErr error
	// Result is the kept result (nil when absent or unreadable:
	// ResultErr, a *RecordError).
	Result    *client.JobResult
	ResultErr error
	// Score is the queue score, nil when not queued.
	Score      *int64
	InProgress bool
	// AbortRequested is when an abort was asked (zero: not asked, or a
	// worker has taken the request).
	AbortRequested time.Time
	// Retry is the try a worker has reached (arq:retry:<id>), 0 if none.
	Retry int
	// JobSize and ResultSize are the stored records' sizes in bytes.
	JobSize, ResultSize int
}

// Job reads everything stored under a job id in one pipeline; queue "" is
// the client's. Status follows arq's Job.status, as client.Job.Status.
func (in *Inspector) Job(ctx context.Context, jobID, queue string) (JobDetail, error) {
	queue = in.queue(queue)
	k, err := in.r.JobKeys(ctx, queue, jobID)
	if err != nil {
		return JobDetail{}, err
	}
	d := JobDetail{JobID: jobID, Queue: queue, InProgress: k.InProgress, Retry: int(k.Retry),
		JobSize: len(k.Job), ResultSize: len(k.Result)}
	if k.AbortRequestedMS > 0 {
		d.AbortRequested = arqcompat.MSToTime(k.AbortRequestedMS)
	}
	if k.Queued {
		s := k.Score
		d.Score = &s
	}
	if k.Job != nil {
		if rec, err := arqcompat.DecodeJob(in.c.Serializer(), k.Job); err != nil {
			d.DefErr = in.recordError(arqcompat.JobKey(jobID), k.Job, err)
		} else {
			def := jobDefFrom(jobID, rec)
			def.Score = d.Score
			d.Def = &def
		}
	}
	if k.Result != nil {
		if rec, err := arqcompat.DecodeResult(in.c.Serializer(), k.Result); err != nil {
			d.ResultErr = in.recordError(arqcompat.ResultKey(jobID), k.Result, err)
		} else {
			d.Result = jobResultFrom(jobID, rec)
		}
	}
	d.Status = client.JobStatus(k.Status(arqcompat.TimestampMS(in.now())))
	return d, nil
}

// AbortsSwept reports whether some worker sweeps arq:abort: false when it
// holds a request older than arq's abort_job_max_age (60 s) plus slack,
// which a worker with allow_abort_jobs would have dropped. ok is false
// when the set is empty (nothing to tell).
func (in *Inspector) AbortsSwept(ctx context.Context) (swept, ok bool, err error) {
	ms, ok, err := in.r.OldestAbortRequest(ctx)
	if err != nil || !ok {
		return false, false, err
	}
	age := arqcompat.TimestampMS(in.now()) - ms
	return age < (arqredis.AbortJobMaxAge+30)*1000, true, nil
}

// RequestAbort asks the workers to abort a job without waiting, with the
// steps of arq's Job.abort: a deferred job is re-scored to 1, then the id
// is added to arq:abort. Only workers with allow_abort_jobs act on it.
func (in *Inspector) RequestAbort(ctx context.Context, jobID, queue string) error {
	queue = in.queue(queue)
	now := in.now()
	score, queued, err := in.r.Score(ctx, queue, jobID)
	if err != nil {
		return err
	}
	defer in.Invalidate()
	return in.r.RequestAbort(ctx, queue, jobID, now, queued && score > arqcompat.TimestampMS(now))
}

// ErrNotFailed is returned by Reenqueue for a job whose result is a success.
var ErrNotFailed = errors.New("the job did not fail")

// ErrNoCall is returned by Reenqueue for a result that holds no call: the
// worker could not deserialize the job (arq's DeserializationError), so it
// stored the result for function '<unknown>' without arguments.
var ErrNoCall = errors.New("the worker could not deserialize the job, so its result holds no function or arguments to enqueue again")

// Reenqueue enqueues a failed job again, under a new id, with the function,
// arguments and queue of its kept result.
func (in *Inspector) Reenqueue(ctx context.Context, jobID string) (*client.Job, error) {
	info, err := in.c.Job(jobID, "").ResultInfo(ctx)
	if err != nil {
		return nil, err
	}
	if info.Success {
		return nil, fmt.Errorf("job %s: %w", jobID, ErrNotFailed)
	}
	if info.Function == "<unknown>" {
		return nil, fmt.Errorf("job %s: %w", jobID, ErrNoCall)
	}
	queue := info.QueueName
	if queue == "" || queue == unknownQueue {
		queue = in.c.QueueName()
	}
	var kw any
	if info.Kwargs != nil {
		kw = info.Kwargs
	}
	defer in.Invalidate()
	return in.c.EnqueueRequest(ctx, client.Request{Function: info.Function, Args: info.Args, Kwargs: kw,
		Options: client.EnqueueOptions{QueueName: queue}})
}

// DeleteResult deletes a kept result; false when there was none.
func (in *Inspector) DeleteResult(ctx context.Context, jobID string) (bool, error) {
	defer in.Invalidate()
	return in.r.DeleteResult(ctx, jobID)
}
