package dashboard

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/inspect"
)

var funcs = template.FuncMap{
	// the results table shows the start of a result or exception; the job
	// page shows it whole
	"repr":     func(v any) string { return clip(arqcompat.Repr(v), 300) },
	"reprFull": arqcompat.Repr,
	"args": func(args []any, kw *arqcompat.Dict) string {
		return clip(arqcompat.ReprArgs(args, kw), 160)
	},
	"argsFull": arqcompat.ReprArgs,
	"exc":      func(v any) string { return clip(pyException(v), 300) },
	"ts": func(t time.Time) string {
		// arq writes enqueue time 0 for a job whose record had expired
		if t.IsZero() || t.UnixMilli() == 0 {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000") + " UTC"
	},
	"ms": func(ms int64) string {
		if ms <= 0 {
			return "—"
		}
		return arqcompat.MSToTime(ms).Format("2006-01-02 15:04:05.000") + " UTC"
	},
	"dur":    fmtDur,
	"pct":    func(a, b int) string { return fmtPct(a, b) },
	"jobURL": jobURL,
	"runsAt": runsAt,
	"add":    func(a, b int) int { return a + b },
	"deref":  func(p *int64) int64 { return *p },
	// a result's try (the worker's, 1 or more)
	"tryOf": func(t int) int { return max(t, 1) },
	// a queued job's try as arq's queued_jobs() and `goarq jobs` give it:
	// the enqueuer's _job_try, None when it gave none
	"pyTry": func(t int) string {
		if t == 0 {
			return "None"
		}
		return strconv.Itoa(t)
	},
	"since": func(t time.Time) string { return fmtDur(time.Since(t)) },
	"excOfRes": func(r *client.JobResult) string {
		if r == nil {
			return ""
		}
		return pyException(r.Result)
	},
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// pyException is an exception as the last line of Python's traceback
// prints it ("ValueError: bad", "mymod.MyError: bad"); other values as repr.
func pyException(v any) string {
	e, ok := v.(*arqcompat.Exception)
	if !ok {
		return arqcompat.Repr(v)
	}
	name := inspect.ExceptionClass(e)
	if m := e.Message(); m != "" {
		return name + ": " + m
	}
	return name
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "−" + fmtDur(-d)
	case d == 0:
		return "0ms"
	case d < time.Millisecond:
		return "<1ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func fmtPct(a, b int) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

func runsAt(score *int64) string {
	if score == nil {
		return "—"
	}
	d := time.Until(arqcompat.MSToTime(*score))
	if d <= 0 {
		return "now"
	}
	return "in " + fmtDur(d)
}

type queueCard struct {
	inspect.QueueStats
	// GoWorkers are the live goarq workers' heartbeat records (Python
	// workers write none: they show in the health-check line).
	GoWorkers []client.WorkerInfo
	Err       string
}

type overviewData struct {
	Cards        []queueCard
	Snap         *inspect.Snapshot
	Functions    []inspect.FunctionStats
	Throughput   template.HTML
	FailureRate  template.HTML
	AbortsNotice string
	Results      int
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	snap, err := h.in.Snapshot(ctx, h.o.PageWait)
	if err != nil {
		h.redisFail(w, r, err)
		return
	}
	d := overviewData{Snap: snap, Functions: snap.Functions, Results: len(snap.Results)}
	for _, q := range h.o.Queues {
		st, err := h.in.QueueStats(ctx, q, snap)
		c := queueCard{QueueStats: st}
		c.Queue = q
		if err == nil {
			c.GoWorkers, err = h.in.Client().Workers(ctx, q)
		}
		if err != nil {
			c.Err = err.Error()
		}
		d.Cards = append(d.Cards, c)
	}
	if swept, ok, err := h.in.AbortsSwept(ctx); err == nil && ok && !swept {
		d.AbortsNotice = "arq:abort holds requests older than 90 s, which a worker with allow_abort_jobs drops: no worker of this Redis seems to allow aborts."
	}
	d.Throughput, d.FailureRate = charts(snap.Results, time.Now())
	h.render(w, r, "overview", page{Title: "Overview", Nav: "overview", Data: d})
}

type jobsData struct {
	Queue, Function, JobID string
	Page                   inspect.JobsPage
	Offset                 int64
	PrevOffset             int64
	Now                    int64
}

func (h *Handler) jobs(w http.ResponseWriter, r *http.Request) {
	q := inspect.JobsQuery{Queue: h.queueParam(r), Function: strings.TrimSpace(r.FormValue("function")),
		JobID: strings.TrimSpace(r.FormValue("id")), Limit: 50}
	q.Offset, _ = strconv.ParseInt(r.FormValue("offset"), 10, 64)
	p, err := h.in.Jobs(r.Context(), q)
	if err != nil {
		h.redisFail(w, r, err)
		return
	}
	d := jobsData{Queue: q.Queue, Function: q.Function, JobID: q.JobID, Page: p, Offset: max(q.Offset, 0),
		PrevOffset: -1, Now: arqcompat.TimestampMS(time.Now())}
	if q.Offset > 0 && q.Function == "" {
		d.PrevOffset = max(0, q.Offset-int64(q.Limit))
	}
	h.render(w, r, "jobs", page{Title: "Jobs", Nav: "jobs", Data: d})
}

type resultsData struct {
	Q          inspect.ResultsQuery
	Page       inspect.ResultsPage
	Functions  []string
	NextOffset int
	PrevOffset int
}

func (h *Handler) results(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	snap, err := h.in.Snapshot(ctx, h.o.PageWait)
	if err != nil {
		h.redisFail(w, r, err)
		return
	}
	q := inspect.ResultsQuery{Queue: strings.TrimSpace(r.FormValue("queue")), Function: strings.TrimSpace(r.FormValue("function")),
		Exception: strings.TrimSpace(r.FormValue("exception")), Success: r.FormValue("success"), Limit: 50}
	if q.Success != "ok" && q.Success != "failed" {
		q.Success = ""
	}
	q.Offset, _ = strconv.Atoi(r.FormValue("offset"))
	q.Offset = max(q.Offset, 0)
	p, err := h.in.Results(ctx, snap, q)
	if err != nil {
		h.redisFail(w, r, err)
		return
	}
	d := resultsData{Q: q, Page: p, NextOffset: -1, PrevOffset: -1}
	seen := map[string]bool{}
	for _, f := range snap.Functions {
		if !seen[f.Function] {
			seen[f.Function] = true
			d.Functions = append(d.Functions, f.Function)
		}
	}
	if q.Offset+q.Limit < p.Matched {
		d.NextOffset = q.Offset + q.Limit
	}
	if q.Offset > 0 {
		d.PrevOffset = max(0, q.Offset-q.Limit)
	}
	h.render(w, r, "results", page{Title: "Results", Nav: "results", Data: d})
}

type jobData struct {
	inspect.JobDetail
	Notice        string
	CanAbort      bool
	AbortsNotice  string
	AbortPending  bool
	CanReenqueue  bool
	Exception     string
	ResultRepr    string
	RunTime, Wait time.Duration
	// HasWait is false for a result without an enqueue time (arq writes 0
	// for a job whose record had expired).
	HasWait bool
}

func (h *Handler) job(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	d, err := h.in.Job(ctx, id, h.queueParam(r))
	if err != nil {
		h.redisFail(w, r, err)
		return
	}
	jd := jobData{JobDetail: d, Notice: noticeOf(r)}
	jd.CanAbort = d.Result == nil && d.ResultErr == nil && (d.InProgress || d.Score != nil)
	if !d.AbortRequested.IsZero() {
		jd.AbortPending = true
		if d.InProgress && time.Since(d.AbortRequested) > 5*time.Second {
			jd.AbortsNotice = "The abort was requested " + fmtDur(time.Since(d.AbortRequested)) +
				" ago and the job still runs: its worker does not allow aborts (arq's allow_abort_jobs is off)."
		}
	}
	if swept, ok, err := h.in.AbortsSwept(ctx); err == nil && ok && !swept && jd.AbortsNotice == "" && jd.CanAbort {
		jd.AbortsNotice = "arq:abort holds requests older than 90 s: no worker of this Redis seems to allow aborts."
	}
	if res := d.Result; res != nil {
		jd.CanReenqueue = !res.Success && res.Function != "<unknown>"
		if res.Success {
			jd.ResultRepr = arqcompat.Repr(res.Result)
		} else {
			jd.Exception = pyException(res.Result)
		}
		jd.RunTime = res.FinishTime.Sub(res.StartTime)
		jd.Wait = res.StartTime.Sub(res.EnqueueTime)
		jd.HasWait = res.EnqueueTime.UnixMilli() > 0
	}
	status := 0
	if d.Status == client.StatusNotFound && d.Def == nil && d.DefErr == nil && d.ResultErr == nil {
		status = http.StatusNotFound
	}
	h.render(w, r, "job", page{Title: "Job " + id, Nav: "jobs", Data: jd, Status: status})
}

func (h *Handler) abort(r *http.Request, id string) (string, error) {
	q := h.queueParam(r)
	if err := h.in.RequestAbort(r.Context(), id, q); err != nil {
		return "", err
	}
	return jobURL(id, q) + "&msg=abort", nil
}

func (h *Handler) reenqueue(r *http.Request, id string) (string, error) {
	j, err := h.in.Reenqueue(r.Context(), id)
	if errors.Is(err, client.ErrJobNotFound) {
		return "", fmt.Errorf("job %s has no kept result to enqueue again", id)
	}
	if err != nil {
		return "", err
	}
	return jobURL(j.ID, j.Queue) + "&msg=reenqueued", nil
}

func (h *Handler) deleteResult(r *http.Request, id string) (string, error) {
	ok, err := h.in.DeleteResult(r.Context(), id)
	if err != nil {
		return "", err
	}
	msg := "deleted"
	if !ok {
		msg = "deleted-absent"
	}
	return jobURL(id, h.queueParam(r)) + "&msg=" + msg, nil
}
