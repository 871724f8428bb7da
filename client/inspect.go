package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
)

// InspectorOptions configures an Inspector.
type InspectorOptions struct {
	// CacheTTL is how old the results index may get before a read refreshes
	// it: 0 means 5 s, a negative value refreshes on every read.
	CacheTTL time.Duration
	// HealthLocation is the time zone of the health-check lines' clock
	// (arq writes local time without a zone); nil means time.Local.
	HealthLocation *time.Location
}

// Inspector reads queues and kept results for dashboards and exporters,
// with bounded work per call: pages of a queue by rank, per-page pipelines,
// and an index of the kept results built by SCAN.
//
// The index holds a small summary of every kept result (id, function,
// queue, success, exception class, times; about 150 bytes each), so that
// aggregates over 100,000 results need no read of the records themselves.
// It is refreshed at most every CacheTTL: a refresh walks the keyspace once
// with SCAN and reads (MGET) and decodes only the results it has not seen
// yet. Readers get the last complete index while a refresh runs, so
// aggregates lag the truth by up to CacheTTL plus one refresh; a result
// rewritten under an id the index already holds keeps its old summary
// until the id disappears from Redis once. Records are decoded with
// arqcompat, which never executes anything.
type Inspector struct {
	c   *Client
	r   *arqredis.RDB
	ttl time.Duration
	loc *time.Location

	mu         sync.Mutex
	snap       *Snapshot
	lastErr    error
	stale      bool
	refreshing chan struct{} // closed when the running refresh ends
	byID       map[string]ResultSummary
}

// NewInspector returns an Inspector reading through c, with c's serializer.
func NewInspector(c *Client, opts InspectorOptions) *Inspector {
	in := &Inspector{c: c, r: c.store, ttl: opts.CacheTTL, loc: opts.HealthLocation}
	if in.ttl == 0 {
		in.ttl = 5 * time.Second
	}
	if in.loc == nil {
		in.loc = time.Local
	}
	return in
}

// Client is the client the Inspector reads through.
func (in *Inspector) Client() *Client { return in.c }

// ResultSummary is what the index keeps of one kept result.
type ResultSummary struct {
	JobID, Function, Queue string
	Success                bool
	// Unreadable is set when the record could not be decoded; only JobID
	// is known then.
	Unreadable bool
	// ExceptionClass is the class name of a failed job's exception
	// ("ValueError"), with its module unless builtins ("mymod.MyError").
	ExceptionClass               string
	Try                          int
	EnqueueMS, StartMS, FinishMS int64
}

// Run is the job's run time (finish minus start).
func (s ResultSummary) Run() time.Duration {
	return time.Duration(s.FinishMS-s.StartMS) * time.Millisecond
}

// Wait is start minus enqueue time (for a deferred job, its deferral too).
func (s ResultSummary) Wait() time.Duration {
	return time.Duration(s.StartMS-s.EnqueueMS) * time.Millisecond
}

// FunctionStats aggregates the kept results of one function in one queue.
type FunctionStats struct {
	Queue, Function         string
	Count, Succeeded        int
	RunP50, RunP95, WaitP50 time.Duration
}

// Snapshot is one state of the results index.
type Snapshot struct {
	// At is when the refresh that built it started; Took how long it ran.
	At   time.Time
	Took time.Duration
	// Pending is set on the empty snapshot returned before the first
	// refresh has finished.
	Pending bool
	// Results are the kept results, newest finish first.
	Results []ResultSummary
	// Functions are sorted by queue, then function; unreadable results
	// are counted under function "<unreadable>".
	Functions []FunctionStats
	// InProgressIDs are the ids holding an in-progress key; Retries counts
	// the retry counters.
	InProgressIDs []string
	Retries       int
}

// UnreadableFunction names the function of results that cannot be decoded.
const UnreadableFunction = "<unreadable>"

// Snapshot returns the results index, refreshing it when it is older than
// CacheTTL. A negative wait waits for the refresh (bounded by ctx). Else an
// index that is merely older than CacheTTL is returned at once, the refresh
// going on in the background; when there is none yet, or after
// Invalidate, Snapshot waits up to wait and then returns the previous
// index, or an empty Pending one. The error is the last refresh's.
func (in *Inspector) Snapshot(ctx context.Context, wait time.Duration) (*Snapshot, error) {
	in.mu.Lock()
	if s := in.snap; s != nil && !in.stale && in.ttl > 0 && time.Since(s.At) < in.ttl {
		in.mu.Unlock()
		return s, nil
	}
	done := in.refreshing
	mustWait := in.snap == nil || in.stale || in.ttl <= 0
	if done == nil {
		done = make(chan struct{})
		in.refreshing = done
		// detached from the request: another reader may wait for it, and
		// its work is reused; it always ends (timeout)
		go in.runRefresh(context.WithoutCancel(ctx), done)
	}
	in.mu.Unlock()
	// an index that is merely older than CacheTTL is served at once while
	// the refresh runs; without one, or after Invalidate, wait for it
	if !mustWait && wait >= 0 {
		wait = 0
	}
	var timeout <-chan time.Time
	if wait >= 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-done:
	case <-timeout:
	case <-ctx.Done():
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.snap == nil {
		if in.lastErr != nil {
			return nil, in.lastErr
		}
		return &Snapshot{Pending: true, At: time.Now()}, nil
	}
	return in.snap, in.lastErr
}

// Invalidate makes the next Snapshot refresh the index (after an action).
func (in *Inspector) Invalidate() {
	in.mu.Lock()
	in.stale = true
	in.mu.Unlock()
}

func (in *Inspector) runRefresh(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	in.mu.Lock()
	in.stale = false
	old := in.byID
	in.mu.Unlock()
	snap, byID, err := in.refresh(ctx, old)
	in.mu.Lock()
	in.lastErr = err
	if err == nil {
		in.snap, in.byID = snap, byID
	}
	in.refreshing = nil
	in.mu.Unlock()
	close(done)
}

// decodeBatch bounds how many new result records one MGET reads.
const decodeBatch = 1000

func (in *Inspector) refresh(ctx context.Context, old map[string]ResultSummary) (*Snapshot, map[string]ResultSummary, error) {
	start := time.Now()
	census, err := in.r.KeyCensus(ctx)
	if err != nil {
		return nil, nil, err
	}
	intern := map[string]string{}
	str := func(s string) string {
		if v, ok := intern[s]; ok {
			return v
		}
		intern[s] = s
		return s
	}
	byID := make(map[string]ResultSummary, len(census.ResultIDs))
	var missing []string
	for _, id := range census.ResultIDs {
		if s, ok := old[id]; ok {
			byID[id] = s
		} else {
			missing = append(missing, id)
		}
	}
	for i := 0; i < len(missing); i += decodeBatch {
		recs, err := in.r.Results(ctx, missing[i:min(i+decodeBatch, len(missing))])
		if err != nil {
			return nil, nil, err
		}
		for _, rec := range recs {
			if rec.Data == nil {
				continue // expired or deleted since the SCAN
			}
			s := summarize(in.c.ser, rec.JobID, rec.Data)
			s.Function, s.Queue, s.ExceptionClass = str(s.Function), str(s.Queue), str(s.ExceptionClass)
			byID[rec.JobID] = s
		}
	}
	snap := &Snapshot{At: start, InProgressIDs: census.InProgressIDs, Retries: census.Retries,
		Results: make([]ResultSummary, 0, len(byID))}
	for _, s := range byID {
		snap.Results = append(snap.Results, s)
	}
	slices.SortFunc(snap.Results, func(a, b ResultSummary) int {
		if a.FinishMS != b.FinishMS {
			return int(b.FinishMS - a.FinishMS)
		}
		return strings.Compare(a.JobID, b.JobID)
	})
	snap.Functions = functionStats(snap.Results)
	snap.Took = time.Since(start)
	return snap, byID, nil
}

func summarize(ser arqcompat.Serializer, id string, data []byte) ResultSummary {
	r, err := arqcompat.DecodeResult(ser, data)
	if err != nil {
		return ResultSummary{JobID: id, Unreadable: true, Function: UnreadableFunction, Queue: "<unknown>"}
	}
	s := ResultSummary{JobID: id, Function: r.Function, Queue: r.Queue, Success: r.Success, Try: int(r.JobTry),
		EnqueueMS: r.EnqueueTimeMS, StartMS: r.StartMS, FinishMS: r.FinishMS}
	if !r.Success {
		s.ExceptionClass = ExceptionClass(r.Result)
	}
	return s
}

// ExceptionClass is the class name of a failed job's result: "ValueError"
// for builtins, "module.Name" otherwise, "" when it is no exception.
func ExceptionClass(v any) string {
	e, ok := v.(*arqcompat.Exception)
	if !ok {
		return ""
	}
	if e.Class.Module == "builtins" || e.Class.Module == "" {
		return e.Class.Name
	}
	return e.Class.Module + "." + e.Class.Name
}

func functionStats(results []ResultSummary) []FunctionStats {
	type key struct{ q, f string }
	type acc struct {
		st        FunctionStats
		run, wait []time.Duration
	}
	m := map[key]*acc{}
	for _, r := range results {
		k := key{r.Queue, r.Function}
		a := m[k]
		if a == nil {
			a = &acc{st: FunctionStats{Queue: r.Queue, Function: r.Function}}
			m[k] = a
		}
		a.st.Count++
		if r.Unreadable {
			continue
		}
		if r.Success {
			a.st.Succeeded++
		}
		a.run = append(a.run, r.Run())
		a.wait = append(a.wait, r.Wait())
	}
	out := make([]FunctionStats, 0, len(m))
	for _, a := range m {
		slices.Sort(a.run)
		slices.Sort(a.wait)
		a.st.RunP50, a.st.RunP95, a.st.WaitP50 = quantile(a.run, 0.5), quantile(a.run, 0.95), quantile(a.wait, 0.5)
		out = append(out, a.st)
	}
	slices.SortFunc(out, func(a, b FunctionStats) int {
		if c := strings.Compare(a.Queue, b.Queue); c != 0 {
			return c
		}
		return strings.Compare(a.Function, b.Function)
	})
	return out
}

// quantile is the nearest-rank quantile of sorted values; 0 when empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

// Health is a worker's health-check line, parsed.
type Health struct {
	Key  string
	Line string
	// Present is false when the key does not exist (no worker has written
	// it within its health-check interval).
	Present bool
	// Parsed is set when Line has arq's format; then At is its time (in
	// the Inspector's HealthLocation) and the counters are filled.
	Parsed                                     bool
	At                                         time.Time
	Complete, Failed, Retried, Ongoing, Queued int64
}

// ParseHealth parses arq's health-check line, "Nov-22 10:11:12
// j_complete=1 j_failed=0 j_retried=0 j_ongoing=0 queued=0". The line has
// no year: it is the year that puts At closest before now (plus a day of
// slack for clock skew).
func ParseHealth(line string, now time.Time, loc *time.Location) (h Health, ok bool) {
	h.Line = line
	if len(line) < 15 {
		return h, false
	}
	t, err := time.ParseInLocation("Jan-02 15:04:05", line[:15], loc)
	if err != nil {
		return h, false
	}
	now = now.In(loc)
	at := time.Date(now.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
	if at.After(now.Add(24 * time.Hour)) {
		at = at.AddDate(-1, 0, 0)
	}
	h.At = at
	for _, f := range strings.Fields(line[15:]) {
		k, v, found := strings.Cut(f, "=")
		if !found {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "j_complete":
			h.Complete = n
		case "j_failed":
			h.Failed = n
		case "j_retried":
			h.Retried = n
		case "j_ongoing":
			h.Ongoing = n
		case "queued":
			h.Queued = n
		}
	}
	h.Parsed = true
	return h, true
}

// QueueOverview are a queue's counts, read from Redis.
type QueueOverview struct {
	Queue string
	// Queued are ready to run now and not running; Deferred are scored in
	// the future; InProgress hold an in-progress key (as of the snapshot).
	Queued, Deferred, InProgress int64
	// OldestReady is the age of the oldest ready job that is not running
	// (now minus its score); HasReady is false when there is none.
	OldestReady time.Duration
	HasReady    bool
	Health      Health
}

// headCap bounds the head of a queue read to find its oldest ready job.
const headCap = 1000

// Queue reads a queue's counts in one pipeline (ZCOUNT, ZCARD, the
// head of the queue, ZSCORE of each in-progress id of snap) and its
// health-check key. snap may be nil: then a fresh snapshot is taken.
func (in *Inspector) Queue(ctx context.Context, queue string, snap *Snapshot) (QueueOverview, error) {
	if queue == "" {
		queue = in.c.queue
	}
	if snap == nil {
		var err error
		if snap, err = in.Snapshot(ctx, -1); err != nil {
			return QueueOverview{}, err
		}
	}
	now := in.c.now()
	nowMS := arqcompat.TimestampMS(now)
	ids := snap.InProgressIDs
	h, err := in.r.QueueHead(ctx, queue, nowMS, min(len(ids)+1, headCap), ids)
	if err != nil {
		return QueueOverview{}, err
	}
	st := QueueOverview{Queue: queue, Deferred: h.Total - h.Ready}
	running := map[string]bool{}
	for i, ok := range h.InQueue {
		if ok {
			st.InProgress++
			running[ids[i]] = true
		}
	}
	st.Queued = max(0, h.Ready-st.InProgress)
	for _, z := range h.Head {
		id, _ := z.Member.(string)
		score := int64(z.Score)
		if score > nowMS {
			break
		}
		if running[id] {
			continue
		}
		st.OldestReady, st.HasReady = time.Duration(nowMS-score)*time.Millisecond, true
		break
	}
	st.Health, err = in.Health(ctx, arqcompat.HealthCheckKey(queue))
	return st, err
}

// Health reads and parses a health-check key.
func (in *Inspector) Health(ctx context.Context, key string) (Health, error) {
	line, ok, err := in.r.ReadHealth(ctx, key)
	if err != nil || !ok {
		return Health{Key: key}, err
	}
	h, _ := ParseHealth(line, in.c.now(), in.loc)
	h.Key, h.Present = key, true
	return h, nil
}

// QueuedJob is one entry of a queue page.
type QueuedJob struct {
	JobDef
	InProgress bool
	// Err is set when the job record is gone or cannot be decoded; only
	// JobID and Score are known then.
	Err error
}

// JobsQuery selects a page of a queue, in score order.
type JobsQuery struct {
	Queue string
	// Offset is the rank to start at; Limit the page size (default 50,
	// at most 1000).
	Offset int64
	Limit  int
	// Function keeps only this function's jobs: the queue is read from
	// Offset in chunks and at most MaxExamined entries per page.
	Function string
	// JobID looks up one job.
	JobID string
}

// JobsPage is a page of a queue.
type JobsPage struct {
	Jobs []QueuedJob
	// Total is the queue's size; NextOffset the rank to continue from, -1
	// at the end; Examined the entries read for this page.
	Total      int64
	NextOffset int64
	Examined   int
}

// MaxExamined bounds the entries a filtered Jobs page reads.
const MaxExamined = 5000

// Jobs reads a page of a queue by rank (ZRANGE), with the job records and
// in-progress keys of that page only.
func (in *Inspector) Jobs(ctx context.Context, q JobsQuery) (JobsPage, error) {
	if q.Queue == "" {
		q.Queue = in.c.queue
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 1000)
	q.Offset = max(q.Offset, 0)
	total, err := in.r.QueueSize(ctx, q.Queue)
	if err != nil {
		return JobsPage{}, err
	}
	page := JobsPage{Total: total, NextOffset: -1}
	if q.JobID != "" {
		k, err := in.r.JobKeys(ctx, q.Queue, q.JobID)
		if err != nil {
			return page, err
		}
		if k.Queued {
			e := arqredis.PageEntry{Record: arqredis.Record{JobID: q.JobID, Score: k.Score, Data: k.Job}, InProgress: k.InProgress}
			if j := in.queuedJob(e); q.Function == "" || j.Function == q.Function {
				page.Jobs = append(page.Jobs, j)
			}
		}
		page.Examined = 1
		return page, nil
	}
	chunk := int64(q.Limit)
	if q.Function != "" {
		chunk = 500
	}
	off, full := q.Offset, false
	for !full && off < total && page.Examined < MaxExamined {
		entries, err := in.r.QueuePage(ctx, q.Queue, off, off+chunk-1)
		if err != nil {
			return page, err
		}
		if len(entries) == 0 {
			break
		}
		for _, e := range entries {
			off++
			page.Examined++
			j := in.queuedJob(e)
			if q.Function != "" && j.Function != q.Function {
				continue
			}
			page.Jobs = append(page.Jobs, j)
			if full = len(page.Jobs) == q.Limit; full {
				break
			}
		}
	}
	if off < total {
		page.NextOffset = off
	}
	return page, nil
}

func (in *Inspector) queuedJob(e arqredis.PageEntry) QueuedJob {
	score := e.Score
	j := QueuedJob{JobDef: JobDef{JobID: e.JobID, Score: &score}, InProgress: e.InProgress}
	if e.Data == nil {
		j.Err = fmt.Errorf("job %s: %w", e.JobID, ErrJobNotFound)
		return j
	}
	rec, err := arqcompat.DecodeJob(in.c.ser, e.Data)
	if err != nil {
		j.Err = fmt.Errorf("job %s: unable to deserialize job: %w", e.JobID, err)
		return j
	}
	j.JobDef = jobDefFrom(e.JobID, rec)
	j.Score = &score
	return j
}

// ResultsQuery selects kept results from the index, newest finish first.
type ResultsQuery struct {
	// Queue, Function and Exception (a class name as ExceptionClass gives
	// it) keep only matching results; "" keeps all.
	Queue, Function, Exception string
	// Success: "ok", "failed" or "" for both.
	Success string
	// Offset and Limit page the matches (Limit default 50, at most 1000).
	Offset, Limit int
}

// ResultEntry is one result of a page: the record as read now, or Err when
// it cannot be decoded or is gone.
type ResultEntry struct {
	Summary ResultSummary
	Result  *JobResult
	Err     error
}

// ResultsPage is a page of the matching results.
type ResultsPage struct {
	Results  []ResultEntry
	Matched  int
	Snapshot *Snapshot
}

// Results filters the index snap and reads the page's records (one MGET).
func (in *Inspector) Results(ctx context.Context, snap *Snapshot, q ResultsQuery) (ResultsPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 1000)
	q.Offset = max(q.Offset, 0)
	page := ResultsPage{Snapshot: snap}
	var ids []string
	var sums []ResultSummary
	for _, s := range snap.Results {
		if (q.Queue != "" && s.Queue != q.Queue) || (q.Function != "" && s.Function != q.Function) ||
			(q.Exception != "" && s.ExceptionClass != q.Exception) ||
			(q.Success == "ok" && (!s.Success || s.Unreadable)) || (q.Success == "failed" && (s.Success || s.Unreadable)) {
			continue
		}
		if page.Matched >= q.Offset && len(ids) < q.Limit {
			ids = append(ids, s.JobID)
			sums = append(sums, s)
		}
		page.Matched++
	}
	recs, err := in.r.Results(ctx, ids)
	if err != nil {
		return page, err
	}
	for i, rec := range recs {
		e := ResultEntry{Summary: sums[i]}
		switch {
		case rec.Data == nil:
			e.Err = fmt.Errorf("job %s result: %w", rec.JobID, ErrJobNotFound)
		default:
			r, err := arqcompat.DecodeResult(in.c.ser, rec.Data)
			if err != nil {
				e.Err = fmt.Errorf("job %s: unable to deserialize job result: %w", rec.JobID, err)
			} else {
				e.Result = jobResultFrom(r)
				e.Result.JobID = rec.JobID
			}
		}
		page.Results = append(page.Results, e)
	}
	return page, nil
}

// JobDetail is everything stored under one job id.
type JobDetail struct {
	JobID, Queue string
	Status       JobStatus
	// Def is the job record (nil when absent or unreadable: DefErr).
	Def    *JobDef
	DefErr error
	// Result is the kept result (nil when absent or unreadable: ResultErr).
	Result    *JobResult
	ResultErr error
	// Score is the queue score, nil when not queued.
	Score      *int64
	InProgress bool
	// AbortRequested is when an abort was asked (zero: not asked, or a
	// worker has taken the request).
	AbortRequested time.Time
	// Retry is the try a worker has reached (arq:retry:<id>), 0 if none.
	Retry int
	// ResultRaw and JobRaw hold the undecodable bytes' size.
	JobSize, ResultSize int
}

// Job reads everything stored under a job id in one pipeline.
func (in *Inspector) Job(ctx context.Context, queue, jobID string) (JobDetail, error) {
	if queue == "" {
		queue = in.c.queue
	}
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
		if rec, err := arqcompat.DecodeJob(in.c.ser, k.Job); err != nil {
			d.DefErr = fmt.Errorf("job %s: unable to deserialize job: %w", jobID, err)
		} else {
			def := jobDefFrom(jobID, rec)
			def.Score = d.Score
			d.Def = &def
		}
	}
	if k.Result != nil {
		if rec, err := arqcompat.DecodeResult(in.c.ser, k.Result); err != nil {
			d.ResultErr = fmt.Errorf("job %s: unable to deserialize job result: %w", jobID, err)
		} else {
			d.Result = jobResultFrom(rec)
			d.Result.JobID = jobID
		}
	}
	switch {
	case k.Result != nil:
		d.Status = StatusComplete
	case k.InProgress:
		d.Status = StatusInProgress
	case k.Queued && k.Score > arqcompat.TimestampMS(in.c.now()):
		d.Status = StatusDeferred
	case k.Queued && k.Score != 0:
		d.Status = StatusQueued
	default:
		d.Status = StatusNotFound
	}
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
	age := arqcompat.TimestampMS(in.c.now()) - ms
	return age < (arqredis.AbortJobMaxAge+30)*1000, true, nil
}

// RequestAbort asks the workers to abort a job without waiting, with the
// steps of arq's Job.abort: a deferred job is re-scored to 1, then the id
// is added to arq:abort. Only workers with allow_abort_jobs act on it.
func (in *Inspector) RequestAbort(ctx context.Context, queue, jobID string) error {
	if queue == "" {
		queue = in.c.queue
	}
	now := in.c.now()
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
func (in *Inspector) Reenqueue(ctx context.Context, jobID string) (*Job, error) {
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
	if queue == "" || queue == "<unknown>" {
		queue = in.c.queue
	}
	var kw any
	if info.Kwargs != nil {
		kw = info.Kwargs
	}
	defer in.Invalidate()
	return in.c.EnqueueRequest(ctx, Request{Function: info.Function, Args: info.Args, Kwargs: kw,
		Options: EnqueueOptions{QueueName: queue}})
}

// DeleteResult deletes a kept result; false when there was none.
func (in *Inspector) DeleteResult(ctx context.Context, jobID string) (bool, error) {
	defer in.Invalidate()
	return in.r.DeleteResult(ctx, jobID)
}

// Ping checks the connection to Redis.
func (in *Inspector) Ping(ctx context.Context) error { return in.r.Ping(ctx) }
