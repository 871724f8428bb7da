package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

func nowMS() int64 { return arqcompat.TimestampMS(time.Now()) }

// truncate is arq's: 80 characters, the last replaced by an ellipsis.
func truncate(s string) string {
	if utf8.RuneCountInString(s) > 80 {
		r := []rune(s)
		return string(r[:79]) + "…"
	}
	return s
}

// argsString is arq's args_to_string: kwargs sorted by name.
func argsString(args []any, kwargs *arqcompat.Dict) string {
	var parts []string
	for _, a := range args {
		parts = append(parts, arqcompat.Repr(a))
	}
	items := append([]arqcompat.Item{}, kwargs.Items()...)
	keyOf := func(it arqcompat.Item) string { s, _ := it.Key.(string); return s }
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && keyOf(items[j]) < keyOf(items[j-1]); j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
	for _, it := range items {
		parts = append(parts, keyOf(it)+"="+arqcompat.Repr(it.Value))
	}
	return truncate(strings.Join(parts, ", "))
}

func secs(ms int64) float64 { return float64(ms) / 1000 }

// runJob is arq's run_job.
func (w *Worker) runJob(ctx context.Context, id string, score int64) {
	startMS := nowMS()
	var get *redis.StringCmd
	var incr *redis.IntCmd
	var zrem *redis.IntCmd
	_, err := w.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, arqcompat.JobKey(id))
		incr = p.Incr(ctx, arqcompat.RetryKey(id))
		p.Expire(ctx, arqcompat.RetryKey(id), arqcompat.RetryKeyTTLSeconds*time.Second)
		if w.s.AllowAbortJobs {
			zrem = p.ZRem(ctx, arqcompat.AbortJobsSS, id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		// the in-progress key expires and another worker runs the job
		w.log.ErrorContext(ctx, fmt.Sprintf("job %s: starting failed, it will run again after its in-progress key expires: %v", id, err),
			"job_id", id, "error", err)
		return
	}
	jobTry := int(incr.Val())
	rec := arqcompat.JobRecord{Function: "<unknown>", Kwargs: &arqcompat.Dict{}}
	jobFailed := func(exc *arqcompat.Exception) {
		w.failed.Add(1)
		data := w.encodeResult(ctx, rec, jobTry, false, exc, startMS, nowMS(), id+":"+rec.Function, id)
		w.finishFailedJob(ctx, id, data)
	}

	raw, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		w.log.WarnContext(ctx, fmt.Sprintf("job %s expired", id), "job_id", id)
		jobFailed(arqcompat.NewException("arq.worker", "JobExecutionFailed", "job expired"))
		return
	}
	if rec, err = arqcompat.DecodeJob(w.s.Serializer, raw); err != nil {
		rec = arqcompat.JobRecord{Function: "<unknown>", Kwargs: &arqcompat.Dict{}}
		w.log.ErrorContext(ctx, fmt.Sprintf("deserializing job %s failed: %v", id, err), "job_id", id, "error", err)
		jobFailed(arqcompat.NewException("arq.jobs", "DeserializationError", "unable to deserialize job"))
		return
	}
	if zrem != nil && zrem.Val() > 0 {
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ⊘ %s:%s aborted before start", secs(nowMS()-rec.EnqueueTimeMS), id, rec.Function),
			"job_id", id, "function", rec.Function)
		jobFailed(arqcompat.NewException("asyncio.exceptions", "CancelledError"))
		return
	}
	fn, ok := w.funcs[rec.Function]
	if !ok {
		w.log.WarnContext(ctx, fmt.Sprintf("job %s, function %s not found", id, arqcompat.Repr(rec.Function)), "job_id", id, "function", rec.Function)
		jobFailed(arqcompat.NewException("arq.worker", "JobExecutionFailed", fmt.Sprintf("function %s not found", arqcompat.Repr(rec.Function))))
		return
	}
	ref := id + ":" + rec.Function
	keepInProgress := time.Duration(0)
	if fn.cron {
		ref = rec.Function
		keepInProgress = arqcompat.KeepCronjobProgress * time.Second
	}
	if rec.JobTry > int64(jobTry) {
		jobTry = int(rec.JobTry)
		if err := w.rdb.SetEx(ctx, arqcompat.RetryKey(id), fmt.Sprint(jobTry), arqcompat.RetryKeyTTLSeconds*time.Second).Err(); err != nil {
			w.log.ErrorContext(ctx, "setting the retry counter failed", "job_id", id, "error", err)
		}
	}
	maxTries := w.s.MaxTries
	if fn.MaxTries > 0 {
		maxTries = fn.MaxTries
	}
	if jobTry > maxTries {
		w.log.WarnContext(ctx, fmt.Sprintf("%6.2fs ! %s max retries %d exceeded", secs(nowMS()-rec.EnqueueTimeMS), ref, maxTries),
			"job_id", id, "function", rec.Function, "try", jobTry)
		w.failed.Add(1)
		data := w.encodeResult(ctx, rec, jobTry, false,
			arqcompat.NewException("arq.worker", "JobExecutionFailed", fmt.Sprintf("max %d retries exceeded", maxTries)),
			startMS, nowMS(), ref, id)
		w.finishFailedJob(ctx, id, data)
		return
	}

	timeout := w.s.JobTimeout
	if fn.Timeout > 0 {
		timeout = fn.Timeout
	}
	job := &Job{ID: id, Try: jobTry, EnqueueTime: rec.EnqueueTime(), Score: score, Function: rec.Function,
		Args: rec.Args, Kwargs: rec.Kwargs, Queue: w.s.QueueName}
	jctx := context.WithValue(ctx, jobKey{}, job)
	if w.s.OnJobStart != nil {
		w.s.OnJobStart(jctx, job)
	}

	startMS = nowMS()
	extra := ""
	if jobTry > 1 {
		extra = fmt.Sprintf(" try=%d", jobTry)
	}
	if startMS-score > 1200 {
		extra += fmt.Sprintf(" delayed=%.2fs", secs(startMS-score))
	}
	w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs → %s(%s)%s", secs(startMS-rec.EnqueueTimeMS), ref, argsString(rec.Args, rec.Kwargs), extra),
		"job_id", id, "function", rec.Function, "try", jobTry)

	result, herr, cause := w.callHandler(jctx, id, fn, job, timeout)
	finishedMS := nowMS()
	took := secs(finishedMS - startMS)

	var (
		finish    bool
		success   bool
		value     any
		incrScore int64
		hasResult bool
	)
	var retry *RetryError
	switch {
	case cause == nil && herr == nil:
		success, finish, value, hasResult = true, true, result, true
		shown := ""
		if result != nil && !w.s.NoLogResults {
			shown = truncate(arqcompat.Repr(toModel(result)))
		}
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ← %s ● %s", took, ref, shown), "job_id", id, "function", rec.Function, "duration", took)
		w.complete.Add(1)
	case cause == nil && !w.s.NoRetryJobs && errors.As(herr, &retry):
		deferMS := arqcompat.DurationMS(retry.Defer)
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ↻ %s retrying job in %.2fs", took, ref, secs(deferMS)), "job_id", id, "function", rec.Function)
		if deferMS != 0 {
			incrScore = deferMS + (nowMS() - score)
		}
		w.retried.Add(1)
	case errors.Is(cause, errAborted):
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ⊘ %s aborted", took, ref), "job_id", id, "function", rec.Function)
		value, finish, hasResult = arqcompat.NewException("asyncio.exceptions", "CancelledError"), true, true
		w.failed.Add(1)
	case errors.Is(cause, errShutdown) && !w.s.NoRetryJobs:
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ↻ %s cancelled, will be run again", took, ref), "job_id", id, "function", rec.Function)
		w.retried.Add(1)
	default:
		var exc *arqcompat.Exception
		switch {
		case errors.Is(cause, errTimeout):
			exc = arqcompat.NewException("builtins", "TimeoutError")
		case errors.Is(cause, errShutdown):
			exc = arqcompat.NewException("asyncio.exceptions", "CancelledError")
		case retry != nil: // retry_jobs off: arq stores the Retry exception
			exc = arqcompat.NewException("arq.worker", "Retry")
		default:
			exc = exceptionFor(herr)
		}
		attrs := []any{"job_id", id, "function", rec.Function, "error", herr}
		var pe *panicError
		if errors.As(herr, &pe) {
			attrs = append(attrs, "stack", string(pe.stack))
		}
		w.log.ErrorContext(ctx, fmt.Sprintf("%6.2fs ! %s failed, %s: %s", took, ref, exc.Class.Name, exc.Message()), attrs...)
		value, finish, hasResult = exc, true, true
		w.failed.Add(1)
	}

	keepForever := w.s.KeepResultForever
	if fn.KeepResultForever != nil {
		keepForever = *fn.KeepResultForever
	}
	keep := w.keepResult
	switch {
	case fn.KeepResult > 0:
		keep = fn.KeepResult
	case fn.KeepResult < 0:
		keep = 0
	}
	var data []byte
	if hasResult && (keepForever || keep > 0) {
		data = w.encodeResult(ctx, rec, jobTry, success, value, startMS, finishedMS, ref, id)
	}
	if w.s.OnJobEnd != nil {
		w.s.OnJobEnd(jctx, job)
	}
	w.finishJob(ctx, id, finish, data, keep, keepForever, incrScore, keepInProgress)
	if w.s.AfterJobEnd != nil {
		w.s.AfterJobEnd(jctx, job)
	}
}

// callHandler runs the handler in its own goroutine so that a handler that
// ignores its context cannot hold the worker past the timeout, an abort or
// shutdown: the job's outcome is decided then, and the handler's eventual
// return is discarded. cause is why the context ended early, or nil.
func (w *Worker) callHandler(ctx context.Context, id string, fn *Function, job *Job, timeout time.Duration) (any, error, error) {
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tctx, tcancel := context.WithTimeoutCause(cctx, timeout, errTimeout)
	defer tcancel()
	rj := &runningJob{cancel: cancel}
	w.mu.Lock()
	w.running[id] = rj
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, id)
		w.mu.Unlock()
	}()
	if w.isStopped() && w.s.JobCompletionWait <= 0 {
		cancel(errShutdown) // a shutdown that came while the job was being started
	}

	type outcome struct {
		v   any
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- outcome{nil, &panicError{value: r, stack: debug.Stack()}}
			}
		}()
		v, err := fn.handler(tctx, job)
		done <- outcome{v, err}
	}()
	select {
	case o := <-done:
		if cause := context.Cause(tctx); cause != nil && tctx.Err() != nil && (o.err != nil || rj.aborting.Load()) {
			// the handler returned because its context ended
			return nil, o.err, cause
		}
		return o.v, o.err, nil
	case <-tctx.Done():
		cause := context.Cause(tctx)
		// give a handler that honours its context a moment to return
		t := time.NewTimer(50 * time.Millisecond)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			w.log.Warn(fmt.Sprintf("job %s: handler did not return after cancellation (%v); its result will be ignored", id, cause), "job_id", id)
		}
		return nil, context.Cause(tctx), cause
	}
}

// toModel converts a handler's return value for logging.
func toModel(v any) any {
	if nv, err := arqcompat.Normalize(v); err == nil {
		return nv
	}
	return v
}

// encodeResult is serialize_result with its fallback and its logging.
func (w *Worker) encodeResult(ctx context.Context, rec arqcompat.JobRecord, try int, success bool, value any, startMS, finishMS int64, ref, id string) []byte {
	r := arqcompat.ResultRecord{JobRecord: rec, Success: success, Result: value, StartMS: startMS, FinishMS: finishMS,
		Queue: w.s.QueueName, JobID: id}
	r.JobTry = int64(try)
	data, cause := arqcompat.EncodeResultFallback(w.s.Serializer, r)
	if cause != nil && data != nil {
		w.log.WarnContext(ctx, fmt.Sprintf("error serializing result of %s: %v", ref, cause), "job_id", id, "error", cause)
	} else if data == nil {
		w.log.ErrorContext(ctx, fmt.Sprintf("error serializing result of %s even after replacing result: %v", ref, cause), "job_id", id)
	}
	return data
}

// finishJob is arq's finish_job transaction.
func (w *Worker) finishJob(ctx context.Context, id string, finish bool, data []byte, keep time.Duration, forever bool, incrScore int64, keepInProgress time.Duration) {
	_, err := w.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		var del []string
		if keepInProgress == 0 {
			del = append(del, arqcompat.InProgressKey(id))
		} else {
			p.PExpire(ctx, arqcompat.InProgressKey(id), keepInProgress)
		}
		if finish {
			if data != nil {
				if forever {
					p.Set(ctx, arqcompat.ResultKey(id), data, 0)
				} else {
					p.Do(ctx, "SET", arqcompat.ResultKey(id), data, "PX", keep.Milliseconds())
				}
			}
			del = append(del, arqcompat.RetryKey(id), arqcompat.JobKey(id))
			p.ZRem(ctx, arqcompat.AbortJobsSS, id)
			p.ZRem(ctx, w.s.QueueName, id)
		} else if incrScore != 0 {
			p.ZIncrBy(ctx, w.s.QueueName, float64(incrScore), id)
		}
		if len(del) > 0 {
			p.Del(ctx, del...)
		}
		return nil
	})
	if err != nil {
		w.log.ErrorContext(ctx, fmt.Sprintf("job %s: recording the outcome failed, the job will run again after its in-progress key expires: %v", id, err),
			"job_id", id, "error", err)
	}
}

// finishFailedJob is arq's finish_failed_job (the worker-level keep_result).
func (w *Worker) finishFailedJob(ctx context.Context, id string, data []byte) {
	_, err := w.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, arqcompat.RetryKey(id), arqcompat.InProgressKey(id), arqcompat.JobKey(id))
		p.ZRem(ctx, arqcompat.AbortJobsSS, id)
		p.ZRem(ctx, w.s.QueueName, id)
		if data != nil && (w.s.KeepResultForever || w.keepResult > 0) {
			if w.s.KeepResultForever {
				// arq sends PX 0 here, which Redis rejects; a result kept forever is meant
				p.Set(ctx, arqcompat.ResultKey(id), data, 0)
			} else {
				p.Do(ctx, "SET", arqcompat.ResultKey(id), data, "PX", w.keepResult.Milliseconds())
			}
		}
		return nil
	})
	if err != nil {
		w.log.ErrorContext(ctx, fmt.Sprintf("job %s: recording the failure failed: %v", id, err), "job_id", id, "error", err)
	}
}
