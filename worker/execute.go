// Part: the executor. It runs claimed jobs: decode, the on_job_start hook,
// the handler, the outcome (conclude), the on_job_end hook, the finish
// handed to the finish writer, then, once it is written, the
// after_job_end hook and the release of the job's slot. It owns the running jobs (for aborts and shutdown) and
// the counters of complete, failed and retried jobs. It has nothing to
// start: it runs while jobs hold slots; Run stops it by waiting for every
// slot to be released (slots.wait), after the claimer stopped.
//
// A job uses two goroutines, so that 1,000 jobs waiting in their handlers
// hold 1,000 stacks of 2 KB (see launch, handle and end): a short-lived one
// decodes and begins the job (the deep work before the handler); the
// job's own runs the handler, concludes, hands the finish to the writer
// and ends. No goroutine waits for the write: the writer tells the job
// once it is done (written), and the job's end runs on the writer's
// goroutine, or, with an after_job_end hook or an Observer (which may
// block), on a third goroutine.

package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
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

// executor is the worker's executor part (see the file's comment).
type executor struct {
	w       *Worker // settings, store and the other parts
	mu      sync.Mutex
	running map[string]*runningJob // handlers in flight, for abort and shutdown
	counts  struct{ complete, failed, retried atomic.Int64 }
}

func newExecutor(w *Worker) *executor {
	return &executor{w: w, running: map[string]*runningJob{}}
}

// launch takes a handler token for each admitted job and starts it. Each
// job is decoded on a short-lived goroutine: jobs decode in parallel, the
// caller (the claimer, the finish writer) goes back to its work, and the
// decoding stack is freed before the handler's goroutine starts, so 1,000
// waiting jobs do not hold 1,000 grown stacks.
func (x *executor) launch(ctx context.Context, jobs []arqredis.Claimed) {
	for range jobs {
		x.w.slots.acquire() // blocks only while a finishing job has yet to release its slot
	}
	for _, c := range jobs {
		go x.decodeAndStart(context.WithoutCancel(ctx), c)
	}
}

// release frees a job's slot; called exactly once per claimed job.
func (x *executor) release(id string) {
	x.w.claim.released(id)
	x.w.slots.release(id)
}

// abort cancels the running jobs of ids as aborted and returns the ids it
// found running.
func (x *executor) abort(ids []string) []string {
	var aborted []string
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		if r, ok := x.running[id]; ok {
			r.aborting.Store(true)
			r.cancel(errAborted)
			aborted = append(aborted, id)
		}
	}
	return aborted
}

// cancelAll cancels every running job with cause.
func (x *executor) cancelAll(cause error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, r := range x.running {
		r.cancel(cause)
	}
}

// stats are the counters, with ongoing the jobs holding a slot.
func (x *executor) stats(ongoing int) Stats {
	return Stats{Complete: int(x.counts.complete.Load()), Failed: int(x.counts.failed.Load()), Retried: int(x.counts.retried.Load()), Ongoing: ongoing}
}

// decodeAndStart decodes a claimed job, then starts it. The decoding runs
// first, in this small frame, and startJob's large frame comes after it
// returns, so the two never stack up: a fresh goroutine's first stack
// holds either, and does not have to grow (and be copied) for every job.
func (x *executor) decodeAndStart(ctx context.Context, c arqredis.Claimed) {
	w := x.w
	var rec arqcompat.JobRecord
	var err error
	if c.Job != nil {
		rec, err = arqcompat.DecodeJob(w.s.Serializer, c.Job)
	}
	x.startJob(ctx, c, rec, err)
}

// startJob is arq's run_job after the claim script's start step, up to the
// decoded, checked call; decoded and err are the job's decoding. It runs on
// the short-lived goroutine that decoded the job, which also begins it
// (hooks, contexts, the start log line); the handler runs on the job's own
// fresh goroutine (see handle), and the job's slot is released exactly
// once, after its outcome is written.
func (x *executor) startJob(ctx context.Context, c arqredis.Claimed, decoded arqcompat.JobRecord, err error) {
	w := x.w
	id, jobTry := c.ID, c.Try
	startMS := nowMS()
	rec := arqcompat.JobRecord{Function: "<unknown>", Kwargs: &arqcompat.Dict{}}
	// failBeforeRun is arq's finish_failed_job path, for a job whose
	// function never runs.
	failBeforeRun := func(exc *arqcompat.Exception, ref string, setTry bool, out Outcome) {
		x.counts.failed.Add(1)
		if o := w.s.Observer; o != nil {
			o.JobEnded(ctx, &JobEvent{Queue: w.s.QueueName, Function: rec.Function, JobID: id, Try: jobTry,
				Scheduled: time.UnixMilli(c.Score), Outcome: out, Err: exc})
		}
		data := x.encodeResult(ctx, ref, x.resultRecord(rec, id, jobTry, false, exc, startMS))
		f := arqredis.Finish{JobID: id, Queue: w.s.QueueName, Token: c.Token, Failed: true, Result: data,
			Keep: w.keepResult, KeepForever: w.s.KeepResultForever}
		if setTry {
			x.setRetry(ctx, id, jobTry) // before the finish
		}
		w.writer.submit(ctx, c.Expires, f, "failure", releaser{x, id})
	}
	if c.Job == nil {
		w.log.WarnContext(ctx, fmt.Sprintf("job %s expired", id), "job_id", id)
		failBeforeRun(excJobExecutionFailed("job expired"), id+":"+rec.Function, false, OutcomeExpired)
		return
	}
	if err != nil {
		w.log.ErrorContext(ctx, fmt.Sprintf("deserializing job %s failed: %v", id, err), "job_id", id, "error", err)
		failBeforeRun(excDeserialization(), id+":"+rec.Function, false, OutcomeFailed)
		return
	}
	rec = decoded
	if c.Aborted {
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ⊘ %s:%s aborted before start", secs(nowMS()-rec.EnqueueTimeMS), id, rec.Function),
			"job_id", id, "function", rec.Function)
		failBeforeRun(excCancelled(), id+":"+rec.Function, false, OutcomeAborted)
		return
	}
	fn, ok := w.funcs[rec.Function]
	if !ok {
		w.log.WarnContext(ctx, fmt.Sprintf("job %s, function %s not found", id, arqcompat.Repr(rec.Function)), "job_id", id, "function", rec.Function)
		failBeforeRun(excJobExecutionFailed(fmt.Sprintf("function %s not found", arqcompat.Repr(rec.Function))), id+":"+rec.Function, false, OutcomeUnknownFunction)
		return
	}
	setTry := rec.JobTry > int64(jobTry)
	if setTry {
		jobTry = int(rec.JobTry)
	}
	maxTries := orZero(fn.MaxTries, w.s.MaxTries)
	if jobTry > maxTries {
		ref := jobRef(id, rec.Function, fn.cron)
		w.log.WarnContext(ctx, fmt.Sprintf("%6.2fs ! %s max retries %d exceeded", secs(nowMS()-rec.EnqueueTimeMS), ref, maxTries),
			"job_id", id, "function", rec.Function, "try", jobTry)
		failBeforeRun(excJobExecutionFailed(fmt.Sprintf("max %d retries exceeded", maxTries)), ref, setTry, OutcomeFailed)
		return
	}

	timeout := orZero(fn.Timeout, w.s.JobTimeout)
	job := &Job{ID: id, Try: jobTry, EnqueueTime: rec.EnqueueTime(), Score: c.Score, Function: rec.Function,
		Args: rec.Args, Kwargs: rec.Kwargs, Queue: w.s.QueueName}
	r := &runningJob{w: w, x: x, id: id, token: c.Token, score: c.Score, try: jobTry, rec: rec, fn: fn, job: job,
		jctx: context.WithValue(ctx, jobKey{}, job), expires: c.Expires}
	if setTry {
		x.setRetry(ctx, id, jobTry)
	}
	if tctx := r.begin(timeout); tctx != nil {
		go r.handle(tctx)
	}
}

// jobRef is how arq's log lines name a job: id:function, or the function
// for a cron job.
func jobRef(id, function string, cron bool) string {
	if cron {
		return function
	}
	return id + ":" + function
}

// resultRecord is the result arq's serialize_result is given for a job
// that finishes now.
func (x *executor) resultRecord(rec arqcompat.JobRecord, id string, try int, success bool, value any, startMS int64) arqcompat.ResultRecord {
	r := arqcompat.ResultRecord{JobRecord: rec, Success: success, Result: value, StartMS: startMS, FinishMS: nowMS(),
		Queue: x.w.s.QueueName, JobID: id}
	r.JobTry = int64(try)
	return r
}

// setRetry raises the retry counter to an enqueuer's _job_try, as arq does.
func (x *executor) setRetry(ctx context.Context, id string, try int) {
	w := x.w
	if err := w.store.SetRetry(ctx, id, try); err != nil {
		w.redisError(ctx, slog.LevelError, "setting the retry counter failed", err, "job_id", id)
	}
}

// logStart is arq's "→" line.
func (r *runningJob) logStart(ctx context.Context) {
	w, rec, jobTry, score, startMS := r.w, r.rec, r.try, r.score, r.startMS
	if w.log.Enabled(ctx, slog.LevelInfo) { // skip formatting when nobody reads the line
		extra := ""
		if jobTry > 1 {
			extra = fmt.Sprintf(" try=%d", jobTry)
		}
		if startMS-score > 1200 {
			extra += fmt.Sprintf(" delayed=%.2fs", secs(startMS-score))
		}
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs → %s(%s)%s", secs(startMS-rec.EnqueueTimeMS), r.ref(), argsString(rec.Args, rec.Kwargs), extra),
			"job_id", r.id, "function", rec.Function, "try", jobTry)
	}
}

// runningJob is one job whose handler runs. Its outcome is decided once:
// by the handler's return, or, when the handler ignores a cancelled
// context, by the grace timer after a short grace period; the later of the
// two is dropped. While it runs it is in executor.running, where aborts and
// shutdowns find it.
type runningJob struct {
	w          *Worker
	x          *executor
	id         string
	token      string // the claim's, in the in-progress key (arqredis.Claimed.Token)
	score      int64
	try        int
	rec        arqcompat.JobRecord
	fn         *Function
	job        *Job
	jctx       context.Context
	startMS    int64
	expires    time.Time             // when the in-progress key expires
	hctx       context.Context       // the handler's: jctx with the job's cancellation and timeout
	tcancel    context.CancelFunc    // ends hctx (abort, shutdown, the job's end)
	stopCause  atomic.Pointer[error] // why cancel ended hctx (errAborted, errShutdown)
	grace      *time.Timer           // decides for a handler that ignores hctx's end (graceOver)
	stopParent func() bool           // stops watching jctx, when it can end (see begin)
	aborting   atomic.Bool
	cancelled  atomic.Bool // cancel was called
	decided    atomic.Bool // the handler's return or graceOver decided the outcome
	ev         *JobEvent   // for Settings.Observer; nil without one
	concl      *conclusion // the outcome, while its finish is written
	stopAfter  bool        // stop the contexts once it is written
}

// ref names the job in log lines (jobRef). It is built when a line needs
// it rather than held by every waiting job.
func (r *runningJob) ref() string { return jobRef(r.id, r.rec.Function, r.fn.cron) }

// handlerGrace is how long a cancelled handler may take to return before
// its outcome is decided without it.
const handlerGrace = 50 * time.Millisecond

// handle runs on the job's own goroutine, which begin's caller starts: it
// calls the handler and ends the job. Every waiting job holds this
// goroutine's stack, so nothing deep runs on it before the handler: begin
// (contexts, hooks, the start log line) runs on the goroutine that decoded
// the job, and the stack stays at its initial 2 KB while the job waits.
func (r *runningJob) handle(tctx context.Context) {
	v, herr := r.callHandler(tctx)
	r.end(tctx, v, herr)
}

// begin starts the job: hooks, the start log line, its contexts and the
// grace timer that decides for a handler ignoring its cancellation. It
// returns the handler's context, or nil when the job is already decided.
//
// The handler's context ends at its timeout or when cancel is called (an
// abort, a shutdown). The grace timer fires handlerGrace after either: it
// is set to the timeout plus the grace, and cancel resets it to the grace.
// So nothing is registered on the context to watch it end (that took an
// afterFuncCtx, a children map and a channel for every job).
func (r *runningJob) begin(timeout time.Duration) context.Context {
	w := r.w
	if w.s.OnJobStart != nil {
		w.s.OnJobStart(r.jctx, r.job)
	}
	r.startMS = nowMS()
	if o := w.s.Observer; o != nil {
		r.ev = &JobEvent{Queue: w.s.QueueName, Function: r.rec.Function, JobID: r.id, Try: r.try,
			Scheduled: time.UnixMilli(r.score), Start: time.UnixMilli(r.startMS)}
		r.jctx = o.JobStarted(r.jctx, r.ev)
	}
	r.logStart(r.jctx)
	if timeout <= 0 {
		// arq's asyncio.wait_for(task, 0) cancels the task before it runs
		r.decided.Store(true)
		r.finish(r.conclude(nil, errTimeout, errTimeout), false)
		return nil
	}
	// one context: its timeout's cause is errTimeout, and cancel keeps its
	// own cause (stopCause), which saves a second context and the map of
	// children it would keep, on every waiting job
	r.hctx, r.tcancel = context.WithTimeoutCause(r.jctx, timeout, errTimeout)
	r.grace = time.AfterFunc(max(timeout, timeout+handlerGrace), r.graceOver) // max: a timeout near forever
	if r.jctx.Done() != nil {
		// an Observer's context that can end: its end ends the handler's
		r.stopParent = context.AfterFunc(r.jctx, r.startGrace)
	}
	r.x.mu.Lock()
	r.x.running[r.id] = r
	r.x.mu.Unlock()
	if w.isStopped() {
		// a shutdown that came while the job was being started: stop is
		// called before cancelRunning's sweep (and, with JobCompletionWait,
		// only once the wait is over), so a job the sweep missed sees it
		r.cancel(errShutdown)
	}
	return r.hctx
}

// cancel ends the handler's context with cause (errAborted, errShutdown)
// and gives the handler handlerGrace to return.
func (r *runningJob) cancel(cause error) {
	if r.hctx.Err() == nil {
		r.stopCause.CompareAndSwap(nil, &cause)
	}
	r.tcancel()
	r.startGrace()
}

// cause is why the handler's context ended: cancel's cause, else its
// own (errTimeout, or its parent's).
func (r *runningJob) cause() error {
	if c := r.stopCause.Load(); c != nil {
		return *c
	}
	return context.Cause(r.hctx)
}

// startGrace gives a handler whose context ended handlerGrace to return,
// the first time it is called.
func (r *runningJob) startGrace() {
	if r.cancelled.CompareAndSwap(false, true) {
		r.grace.Reset(handlerGrace)
	}
}

// graceOver decides the job, unless its handler returned: the handler did
// not return within handlerGrace after its context ended. It runs on the
// grace timer's goroutine.
func (r *runningJob) graceOver() {
	if r.decided.Load() {
		return
	}
	if r.hctx.Err() == nil { // the timeout's own timer has yet to run
		r.grace.Reset(handlerGrace)
		return
	}
	if !r.decided.CompareAndSwap(false, true) {
		return
	}
	cause := r.cause()
	r.w.log.Warn(fmt.Sprintf("job %s: handler did not return after cancellation (%v); its result will be ignored", r.id, cause), "job_id", r.id)
	r.finish(r.conclude(nil, cause, cause), false)
}

// callHandler calls the handler, turning a panic into a *panicError.
func (r *runningJob) callHandler(ctx context.Context) (v any, herr error) {
	defer func() {
		if p := recover(); p != nil {
			herr = newPanicError(p)
		}
	}()
	return r.fn.handler(ctx, r.job)
}

func newPanicError(p any) error { return &panicError{value: p, stack: debug.Stack()} }

// end decides the job from its handler's return, unless the watcher did:
// it concludes (classifying, logging, encoding: the deep part) and hands
// the finish to the writer on the job's goroutine, which then ends, so
// the stack it grew to is freed at once rather than held while the write
// waits.
func (r *runningJob) end(tctx context.Context, v any, herr error) {
	r.grace.Stop()
	if !r.decided.CompareAndSwap(false, true) {
		r.stop() // graceOver decided
		return
	}
	var cause error
	if tctx.Err() != nil && (herr != nil || r.aborting.Load()) {
		cause = r.cause() // the handler returned because its context ended
	}
	r.finish(r.conclude(v, herr, cause), true)
}

// stop stops the job's contexts.
func (r *runningJob) stop() {
	if r.stopParent != nil {
		r.stopParent()
	}
	r.tcancel()
}

// conclusion is what concluding a job decided: the outcome and the finish
// transaction that records it.
type conclusion struct {
	ctx        context.Context // the job's, without its cancellation
	o          outcome
	f          arqredis.Finish
	finishedMS int64
	err        error // for Settings.Observer: the handler's error, else the cause
}

// conclude classifies the outcome as arq's run_job does, logs it and
// encodes the result the function's keep settings ask for. It is the deep
// part of finishing a job (logging, pickling), kept apart from finish,
// which waits.
func (r *runningJob) conclude(result any, herr, cause error) *conclusion {
	w, fn := r.w, r.fn
	ctx := context.WithoutCancel(r.jctx)
	r.x.mu.Lock()
	delete(r.x.running, r.id)
	r.x.mu.Unlock()
	c := &conclusion{ctx: ctx, finishedMS: nowMS(), err: cause}
	if herr != nil {
		c.err = herr
	}
	c.o = r.classify(ctx, result, herr, cause, c.finishedMS)
	keepForever := fn.keepResultForever(w.s.KeepResultForever)
	keep := orZero(fn.KeepResult, w.keepResult)
	c.f = arqredis.Finish{JobID: r.id, Queue: w.s.QueueName, Token: r.token, Done: c.o.finish, IncrScore: c.o.incrScore,
		Keep: keep, KeepForever: keepForever}
	if fn.cron {
		c.f.KeepInProgress = arqredis.KeepCronjobProgressMS * time.Millisecond
	}
	if c.o.hasResult && (keepForever || keep > 0) {
		rr := r.x.resultRecord(r.rec, r.id, r.try, c.o.success, c.o.value, r.startMS)
		rr.FinishMS = c.finishedMS
		c.f.Result = r.x.encodeResult(ctx, r.ref(), rr)
	}
	return c
}

// finish records a concluded job (arq's finish_job) between the on_job_end
// and after_job_end hooks: it calls on_job_end and hands the finish to the
// writer, and the caller's goroutine goes on (and ends). Once the finish
// is written, written reports the job to the observer, calls
// after_job_end and releases the job's slot; then, when stop is set, it
// stops the job's contexts.
func (r *runningJob) finish(c *conclusion, stop bool) {
	r.jobEnd()
	r.concl, r.stopAfter = c, stop
	r.w.writer.noteRunTime(c.finishedMS - r.startMS)
	r.w.writer.submit(c.ctx, r.expires, c.f, "outcome", r)
}

// written is told by the finish writer that the job's finish is written
// (or given up). The after_job_end hook and the observer, which may block,
// run on a goroutine of their own; without them the job ends on the
// writer's goroutine.
func (r *runningJob) written(again bool) {
	if r.w.s.AfterJobEnd != nil || r.w.s.Observer != nil {
		go r.ended(again)
		return
	}
	r.ended(again)
}

// ended is the end of a job whose finish is written: after_job_end, the
// observer, the release of its slot.
func (r *runningJob) ended(again bool) {
	r.afterJobEnd(r.concl)
	r.concl = nil
	r.x.release(r.id)
	if again {
		r.w.claim.wakeSelf()
	}
	if r.stopAfter {
		r.stop()
	}
}

// releaser releases the slot of a job that failed before it ran, once its
// finish is written.
type releaser struct {
	x  *executor
	id string
}

func (rl releaser) written(bool) { rl.x.release(rl.id) }

// jobEnd calls the on_job_end hook.
func (r *runningJob) jobEnd() {
	if h := r.w.s.OnJobEnd; h != nil {
		h(r.jctx, r.job)
	}
}

// afterJobEnd calls the after_job_end hook, then reports the job to the
// observer.
func (r *runningJob) afterJobEnd(c *conclusion) {
	w := r.w
	if w.s.AfterJobEnd != nil {
		w.s.AfterJobEnd(r.jctx, r.job)
	}
	if obs := w.s.Observer; obs != nil {
		r.ev.Outcome, r.ev.Duration = c.o.kind, time.Duration(c.finishedMS-r.startMS)*time.Millisecond
		r.ev.Err = c.err
		obs.JobEnded(r.jctx, r.ev)
	}
}

// outcome is what finishing a job writes.
type outcome struct {
	finish, success, hasResult bool
	value                      any
	incrScore                  int64
	kind                       Outcome // for Settings.Observer
}

// classify decides a job's outcome from its handler's return, logs it and
// counts it, as arq's run_job does.
func (r *runningJob) classify(ctx context.Context, result any, herr, cause error, finishedMS int64) outcome {
	w := r.w
	id, ref, fnName := r.id, r.ref(), r.rec.Function
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
		r.x.counts.complete.Add(1)
		o.kind = OutcomeComplete
	case cause == nil && !w.s.NoRetryJobs && errors.As(herr, &retry):
		deferMS := arqcompat.DurationMS(retry.Defer)
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ↻ %s retrying job in %.2fs", took, ref, secs(deferMS)), "job_id", id, "function", fnName)
		if deferMS != 0 {
			o.incrScore = deferMS + (nowMS() - r.score)
		}
		r.x.counts.retried.Add(1)
		o.kind = OutcomeRetried
	case cause == nil && !w.s.NoRetryJobs && cancelledByJob(herr):
		// the job itself raised CancelledError (or arq's RetryJob): arq
		// runs it again, until max_tries
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ↻ %s cancelled, will be run again", took, ref), "job_id", id, "function", fnName)
		r.x.counts.retried.Add(1)
		o.kind = OutcomeRetried
	case errors.Is(cause, errAborted):
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ⊘ %s aborted", took, ref), "job_id", id, "function", fnName)
		o.value, o.finish, o.hasResult = excCancelled(), true, true
		r.x.counts.failed.Add(1)
		o.kind = OutcomeAborted
	case errors.Is(cause, errShutdown) && !w.s.NoRetryJobs:
		w.log.InfoContext(ctx, fmt.Sprintf("%6.2fs ↻ %s cancelled, will be run again", took, ref), "job_id", id, "function", fnName)
		r.x.counts.retried.Add(1)
		o.kind = OutcomeCancelled
	default:
		var exc *arqcompat.Exception
		o.kind = OutcomeFailed
		switch {
		case errors.Is(cause, errTimeout):
			exc = excTimeout()
			o.kind = OutcomeTimeout
		case errors.Is(cause, errShutdown):
			exc = excCancelled()
		case errors.As(herr, &retry): // retry_jobs off: arq stores the Retry exception
			exc = excRetry(retry)
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
		r.x.counts.failed.Add(1)
	}
	return o
}

// toModel converts a handler's return value for logging.
func toModel(v any) any {
	if nv, err := arqcompat.Normalize(v); err == nil {
		return nv
	}
	return v
}

// encodeResult is serialize_result with its fallback and its logging; ref
// names the job in the log.
func (x *executor) encodeResult(ctx context.Context, ref string, r arqcompat.ResultRecord) []byte {
	data, cause := arqcompat.EncodeResultFallback(x.w.s.Serializer, r)
	if cause != nil {
		x.logEncodeFailure(ctx, data != nil, cause, ref, r.JobID)
	}
	return data
}

// logEncodeFailure logs as serialize_result does when a result could not
// be serialized (replaced reports that the fallback was stored instead).
func (x *executor) logEncodeFailure(ctx context.Context, replaced bool, cause error, ref, id string) {
	w := x.w
	if replaced {
		w.log.WarnContext(ctx, fmt.Sprintf("error serializing result of %s: %v", ref, cause), "job_id", id, "error", cause)
	} else {
		w.log.ErrorContext(ctx, fmt.Sprintf("error serializing result of %s even after replacing result: %v", ref, cause), "job_id", id)
	}
}
