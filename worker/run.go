package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
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

// argsString is arq's args_to_string: ReprArgs with kwargs sorted by name,
// truncated.
func argsString(args []any, kwargs *arqcompat.Dict) string {
	sorted := &arqcompat.Dict{}
	if kwargs.Len() > 0 {
		items := append([]arqcompat.Item{}, kwargs.Items()...)
		name := func(k any) string { s, _ := k.(string); return s } // Python kwargs names are str
		sort.SliceStable(items, func(i, j int) bool { return name(items[i].Key) < name(items[j].Key) })
		for _, it := range items {
			_ = sorted.Set(it.Key, it.Value) // keys came from a Dict: hashable
		}
	}
	return truncate(arqcompat.ReprArgs(args, sorted))
}

func secs(ms int64) float64 { return float64(ms) / 1000 }

// decodeAndStart decodes a claimed job, then starts it. The decoding runs
// first, in this small frame, and startJob's large frame comes after it
// returns, so the two never stack up: a fresh goroutine's first stack
// holds either, and does not have to grow (and be copied) for every job.
func (w *Worker) decodeAndStart(ctx context.Context, c claimed) {
	var rec arqcompat.JobRecord
	var err error
	if c.job != nil {
		rec, err = arqcompat.DecodeJob(w.s.Serializer, c.job)
	}
	w.startJob(ctx, c, rec, err)
}

// startJob is arq's run_job after the claim script's start step, up to the
// decoded, checked call; decoded and err are the job's decoding. It runs on a
// goroutine that ends there; the handler and every Redis write run in the
// job's own fresh goroutine, which releases the job's slot exactly once.
func (w *Worker) startJob(ctx context.Context, c claimed, decoded arqcompat.JobRecord, err error) {
	id, score, jobTry := c.id, c.score, c.try
	startMS := nowMS()
	rec := arqcompat.JobRecord{Function: "<unknown>", Kwargs: &arqcompat.Dict{}}
	jobFailed := func(exc *arqcompat.Exception) {
		w.failed.Add(1)
		data := w.encodeResult(ctx, rec, jobTry, false, exc, startMS, nowMS(), id+":"+rec.Function, id)
		go func() {
			w.finishFailedJob(ctx, id, c.expires, data)
			w.release()
		}()
	}
	if c.job == nil {
		w.log.WarnContext(ctx, fmt.Sprintf("job %s expired", id), "job_id", id)
		jobFailed(arqcompat.NewException("arq.worker", "JobExecutionFailed", "job expired"))
		return
	}
	if err != nil {
		w.log.ErrorContext(ctx, fmt.Sprintf("deserializing job %s failed: %v", id, err), "job_id", id, "error", err)
		jobFailed(arqcompat.NewException("arq.jobs", "DeserializationError", "unable to deserialize job"))
		return
	}
	rec = decoded
	if c.aborted {
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
	setTry := rec.JobTry > int64(jobTry)
	if setTry {
		jobTry = int(rec.JobTry)
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
		go func() {
			if setTry {
				w.setRetry(ctx, id, jobTry)
			}
			w.finishFailedJob(ctx, id, c.expires, data)
			w.release()
		}()
		return
	}

	timeout := w.s.JobTimeout
	if fn.Timeout > 0 {
		timeout = fn.Timeout
	}
	job := &Job{ID: id, Try: jobTry, EnqueueTime: rec.EnqueueTime(), Score: score, Function: rec.Function,
		Args: rec.Args, Kwargs: rec.Kwargs, Queue: w.s.QueueName}
	jctx := context.WithValue(ctx, jobKey{}, job)
	r := &jobRun{w: w, id: id, score: score, try: jobTry, rec: rec, fn: fn, ref: ref, job: job, jctx: jctx,
		expires: c.expires, keepInProgress: keepInProgress, returned: make(chan struct{})}
	go func() {
		if setTry {
			w.setRetry(ctx, id, jobTry)
		}
		r.run(timeout)
	}()
}

// setRetry raises the retry counter to an enqueuer's _job_try, as arq does.
func (w *Worker) setRetry(ctx context.Context, id string, try int) {
	if err := w.rdb.SetEx(ctx, arqcompat.RetryKey(id), fmt.Sprint(try), arqcompat.RetryKeyTTLSeconds*time.Second).Err(); err != nil {
		w.log.ErrorContext(ctx, "setting the retry counter failed", "job_id", id, "error", err)
	}
}

// logStart is arq's "→" line.
func (r *jobRun) logStart(ctx context.Context) {
	w, rec, jobTry, score, startMS := r.w, r.rec, r.try, r.score, r.startMS
	if w.log.Enabled(ctx, slog.LevelInfo) { // skip formatting when nobody reads the line
		extra := ""
		if jobTry > 1 {
			extra = fmt.Sprintf(" try=%d", jobTry)
		}
		if startMS-score > 1200 {
			extra += fmt.Sprintf(" delayed=%.2fs", secs(startMS-score))
		}
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs → %s(%s)%s", secs(startMS-rec.EnqueueTimeMS), r.ref, argsString(rec.Args, rec.Kwargs), extra),
			"job_id", r.id, "function", rec.Function, "try", jobTry)
	}
}

// jobRun is one running handler. Its outcome is decided once: by the
// handler's return, or, when the handler ignores a cancelled context, by
// the watcher after a short grace period; the later of the two is dropped.
type jobRun struct {
	w              *Worker
	id, ref        string
	score          int64
	try            int
	rec            arqcompat.JobRecord
	fn             *Function
	job            *Job
	jctx           context.Context
	startMS        int64
	expires        time.Time // when the in-progress key expires
	keepInProgress time.Duration
	rj             *runningJob
	once           sync.Once
	returned       chan struct{}
}

// handlerGrace is how long a cancelled handler may take to return before
// its outcome is decided without it.
const handlerGrace = 50 * time.Millisecond

func (r *jobRun) run(timeout time.Duration) {
	w := r.w
	if w.s.OnJobStart != nil {
		w.s.OnJobStart(r.jctx, r.job)
	}
	r.startMS = nowMS()
	r.logStart(r.jctx)
	cctx, cancel := context.WithCancelCause(r.jctx)
	tctx, tcancel := context.WithTimeoutCause(cctx, timeout, errTimeout)
	r.rj = &runningJob{cancel: cancel}
	w.mu.Lock()
	w.running[r.id] = r.rj
	w.mu.Unlock()
	if w.isStopped() && w.s.JobCompletionWait <= 0 {
		cancel(errShutdown) // a shutdown that came while the job was being started
	}
	stopWatch := context.AfterFunc(tctx, func() {
		t := time.NewTimer(handlerGrace)
		defer t.Stop()
		select {
		case <-r.returned:
			return // the handler's own return decides
		case <-t.C:
		}
		r.once.Do(func() {
			cause := context.Cause(tctx)
			w.log.Warn(fmt.Sprintf("job %s: handler did not return after cancellation (%v); its result will be ignored", r.id, cause), "job_id", r.id)
			r.finalize(nil, cause, cause)
		})
	})
	defer func() {
		stopWatch()
		tcancel()
		cancel(nil)
	}()

	var v any
	var herr error
	func() {
		defer func() {
			if p := recover(); p != nil {
				herr = &panicError{value: p, stack: debug.Stack()}
			}
		}()
		v, herr = r.fn.handler(tctx, r.job)
	}()
	close(r.returned)
	var cause error
	if tctx.Err() != nil && (herr != nil || r.rj.aborting.Load()) {
		cause = context.Cause(tctx) // the handler returned because its context ended
	}
	r.once.Do(func() { r.finalize(v, herr, cause) })
}

// finalize classifies the outcome as arq's run_job does, records it and
// releases the job's slot. It runs on the handler's goroutine after the
// handler returned; classify, with its logging, and record run one after
// the other so that their frames do not stack up on that goroutine.
func (r *jobRun) finalize(result any, herr, cause error) {
	w := r.w
	ctx := context.WithoutCancel(r.jctx)
	w.mu.Lock()
	delete(w.running, r.id)
	w.mu.Unlock()
	defer w.release()
	finishedMS := nowMS()
	o := r.classify(ctx, result, herr, cause, finishedMS)
	r.record(ctx, o, finishedMS)
}

// outcome is what finishing a job writes.
type outcome struct {
	finish, success, hasResult bool
	value                      any
	incrScore                  int64
}

// classify decides a job's outcome from its handler's return, logs it and
// counts it, as arq's run_job does.
//
//go:noinline
func (r *jobRun) classify(ctx context.Context, result any, herr, cause error, finishedMS int64) outcome {
	w := r.w
	id, ref, fnName := r.id, r.ref, r.rec.Function
	took := secs(finishedMS - r.startMS)
	var o outcome
	var retry *RetryError
	switch {
	case cause == nil && herr == nil:
		o.success, o.finish, o.value, o.hasResult = true, true, result, true
		if w.log.Enabled(ctx, slog.LevelInfo) {
			shown := ""
			if result != nil && !w.s.NoLogResults {
				shown = truncate(arqcompat.Repr(toModel(result)))
			}
			w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ← %s ● %s", took, ref, shown), "job_id", id, "function", fnName, "duration", took)
		}
		w.complete.Add(1)
	case cause == nil && !w.s.NoRetryJobs && errors.As(herr, &retry):
		deferMS := arqcompat.DurationMS(retry.Defer)
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ↻ %s retrying job in %.2fs", took, ref, secs(deferMS)), "job_id", id, "function", fnName)
		if deferMS != 0 {
			o.incrScore = deferMS + (nowMS() - r.score)
		}
		w.retried.Add(1)
	case errors.Is(cause, errAborted):
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ⊘ %s aborted", took, ref), "job_id", id, "function", fnName)
		o.value, o.finish, o.hasResult = arqcompat.NewException("asyncio.exceptions", "CancelledError"), true, true
		w.failed.Add(1)
	case errors.Is(cause, errShutdown) && !w.s.NoRetryJobs:
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ↻ %s cancelled, will be run again", took, ref), "job_id", id, "function", fnName)
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
		attrs := []any{"job_id", id, "function", fnName, "error", herr}
		var pe *panicError
		if errors.As(herr, &pe) {
			attrs = append(attrs, "stack", string(pe.stack))
		}
		w.log.ErrorContext(ctx, fmt.Sprintf("%6.2fs ! %s failed, %s: %s", took, ref, exc.Class.Name, exc.Message()), attrs...)
		o.value, o.finish, o.hasResult = exc, true, true
		w.failed.Add(1)
	}
	return o
}

// record encodes the result as the function's keep settings ask and
// writes the outcome, between the on_job_end and after_job_end hooks.
func (r *jobRun) record(ctx context.Context, o outcome, finishedMS int64) {
	w, fn := r.w, r.fn
	keepForever := fn.keepResultForever(w.s.KeepResultForever)
	keep := w.keepResult
	switch {
	case fn.KeepResult > 0:
		keep = fn.KeepResult
	case fn.KeepResult < 0:
		keep = 0
	}
	var data []byte
	if o.hasResult && (keepForever || keep > 0) {
		data = w.encodeResult(ctx, r.rec, r.try, o.success, o.value, r.startMS, finishedMS, r.ref, r.id)
	}
	if w.s.OnJobEnd != nil {
		w.s.OnJobEnd(r.jctx, r.job)
	}
	w.finishJob(ctx, r.id, r.expires, o.finish, data, keep, keepForever, o.incrScore, r.keepInProgress)
	if w.s.AfterJobEnd != nil {
		w.s.AfterJobEnd(r.jctx, r.job)
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
	if cause != nil {
		w.logEncodeFailure(ctx, data != nil, cause, ref, id)
	}
	return data
}

// logEncodeFailure logs as serialize_result does when a result could not
// be serialized (replaced reports that the fallback was stored instead).
//
//go:noinline
func (w *Worker) logEncodeFailure(ctx context.Context, replaced bool, cause error, ref, id string) {
	if replaced {
		w.log.WarnContext(ctx, fmt.Sprintf("error serializing result of %s: %v", ref, cause), "job_id", id, "error", cause)
	} else {
		w.log.ErrorContext(ctx, fmt.Sprintf("error serializing result of %s even after replacing result: %v", ref, cause), "job_id", id)
	}
}

// finishJob is arq's finish_job transaction.
func (w *Worker) finishJob(ctx context.Context, id string, expires time.Time, finish bool, data []byte, keep time.Duration, forever bool, incrScore int64, keepInProgress time.Duration) {
	res := w.write(ctx, expires, func(p redis.Pipeliner) {
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
	})
	w.logWrite(ctx, id, "outcome", res)
}

// logWrite says what became of a finish write that did not go through at
// the first attempt: recorded once the connection returned, or given up,
// so the job runs again when its in-progress key expires.
func (w *Worker) logWrite(ctx context.Context, id, what string, res writeResult) {
	switch {
	case res.err != nil:
		w.log.ErrorContext(ctx, fmt.Sprintf("job %s: recording the %s failed after %d tries, the job will run again after its in-progress key expires: %v",
			id, what, res.tries, res.err), "job_id", id, "error", res.err, "tries", res.tries)
	case res.tries > 1:
		w.log.InfoContext(ctx, fmt.Sprintf("job %s: %s recorded after %d tries, once the connection to redis returned", id, what, res.tries),
			"job_id", id, "tries", res.tries)
	}
}

// finishFailedJob is arq's finish_failed_job (the worker-level keep_result).
func (w *Worker) finishFailedJob(ctx context.Context, id string, expires time.Time, data []byte) {
	res := w.write(ctx, expires, func(p redis.Pipeliner) {
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
	})
	w.logWrite(ctx, id, "failure", res)
}
