package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goarq/goarq/history"
)

// The History page (when Options.History is set): the recorded results
// with the filters of goarq history, charts over days (throughput, failure
// rate, p50/p95 run time per function), and the bulk retry of final
// failures behind a confirmation page, a POST with the CSRF token.

// historyDays is how many days the charts cover.
const historyDays = 14

// retryMax bounds one bulk retry.
const retryMax = 1000

func (h *Handler) historyRoutes() error {
	for _, p := range []string{"history", "history_retry"} {
		t, err := template.New("layout.html").Funcs(funcs).Funcs(historyFuncs).ParseFS(assets, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return fmt.Errorf("dashboard: template %s: %w", p, err)
		}
		h.pages[p] = t
	}
	h.mux.HandleFunc("GET /history", h.history)
	h.mux.HandleFunc("POST /history/retry", h.historyRetry)
	return nil
}

var historyFuncs = template.FuncMap{
	"recTime": func(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000") },
	"recRun":  func(r history.Record) string { return fmtDur(r.Run()) },
	"clip":    clip,
	// "1 failed job", "3 failed jobs"
	"count": func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	},
}

// historyQuery is the filter form's values, as typed.
type historyQuery struct {
	Function, Success, Exception, Since, Until, JobID, Text string
}

func (q historyQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"function": q.Function, "success": q.Success, "exception": q.Exception,
		"since": q.Since, "until": q.Until, "job_id": q.JobID, "text": q.Text} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// Encode is the query string of the filter.
func (q historyQuery) Encode() string { return q.values().Encode() }

func (h *Handler) historyFilter(r *http.Request) (historyQuery, history.Filter, error) {
	q := historyQuery{Function: r.FormValue("function"), Success: r.FormValue("success"), Exception: r.FormValue("exception"),
		Since: r.FormValue("since"), Until: r.FormValue("until"), JobID: r.FormValue("job_id"), Text: r.FormValue("text")}
	f := history.Filter{Function: q.Function, ExcClass: q.Exception, JobID: q.JobID, Text: q.Text}
	switch q.Success {
	case "ok":
		t := true
		f.Success = &t
	case "failed":
		no := false
		f.Success = &no
	case "":
	default:
		return q, f, fmt.Errorf("success: want ok or failed")
	}
	now := time.Now()
	var err error
	if f.Since, err = history.ParseWhen(q.Since, now); err != nil {
		return q, f, fmt.Errorf("since: %v", err)
	}
	if f.Until, err = history.ParseWhen(q.Until, now); err != nil {
		return q, f, fmt.Errorf("until: %v", err)
	}
	return q, f, nil
}

type historyData struct {
	Q       historyQuery
	Records []history.Record
	// Next is the query of the next page, url.Values-encoded: a
	// template.URL so that the template keeps its '=' and '&' (it would
	// query-escape a string as one value).
	Next   template.URL
	Charts []template.HTML
	Notice string
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	q, f, err := h.historyFilter(r)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	f.Limit = 50
	if b := r.FormValue("before"); b != "" {
		ms, id, ok := strings.Cut(b, ":")
		var e1, e2 error
		f.Before.FinishMS, e1 = strconv.ParseInt(ms, 10, 64)
		f.Before.ID, e2 = strconv.ParseInt(id, 10, 64)
		if !ok || e1 != nil || e2 != nil {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("before: want the FINISH_MS:ID cursor of an \"older →\" link, got %q", b))
			return
		}
	}
	ctx := r.Context()
	p, err := h.o.History.Query(ctx, f)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, "reading the history failed: "+err.Error())
		return
	}
	d := historyData{Q: q, Records: p.Records}
	if !p.Next.IsZero() {
		v := q.values()
		v.Set("before", fmt.Sprintf("%d:%d", p.Next.FinishMS, p.Next.ID))
		d.Next = template.URL(v.Encode())
	}
	now := time.Now().UTC()
	since := now.Truncate(24*time.Hour).AddDate(0, 0, -(historyDays - 1))
	days, err := h.o.History.Daily(ctx, since)
	if err != nil {
		h.fail(w, r, http.StatusBadGateway, "reading the history failed: "+err.Error())
		return
	}
	d.Charts = dayCharts(days, since, q.Function)
	h.render(w, r, "history", page{Title: "History", Nav: "history", Data: d})
}

// dayCharts draws the charts over days since since: jobs per day (stacked
// succeeded and failed), failure rate per day, and the p50/p95 run time
// per day of each function (of fn alone when set; at most six, the
// busiest).
func dayCharts(days []history.DayStats, since time.Time, fn string) []template.HTML {
	n := historyDays
	idx := func(t time.Time) int { return int(t.Sub(since) / (24 * time.Hour)) }
	ok, failed := make([]float64, n), make([]float64, n)
	type series struct {
		fn       string
		total    int64
		p50, p95 []float64
	}
	byFn := map[string]*series{}
	for _, d := range days {
		i := idx(d.Day)
		if i < 0 || i >= n || (fn != "" && d.Function != fn) {
			continue
		}
		ok[i] += float64(d.Count - d.Failed)
		failed[i] += float64(d.Failed)
		s := byFn[d.Function]
		if s == nil {
			s = &series{fn: d.Function, p50: nanSlice(n), p95: nanSlice(n)}
			byFn[d.Function] = s
		}
		s.total += d.Count
		s.p50[i], s.p95[i] = d.RunP50.Seconds()*1000, d.RunP95.Seconds()*1000
	}
	labels := make([]string, n)
	for i := range labels {
		labels[i] = since.AddDate(0, 0, i).Format("01-02")
	}
	rate := nanSlice(n)
	for i := range rate {
		if t := ok[i] + failed[i]; t > 0 {
			rate[i] = 100 * failed[i] / t
		}
	}
	out := []template.HTML{
		barChart("jobs finished per day (UTC)", labels, ok, failed),
		lineChart("failure rate per day, %", labels, 100, []namedSeries{{"failed %", "rate", rate}}),
	}
	all := make([]*series, 0, len(byFn))
	for _, s := range byFn {
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *series) int {
		if a.total != b.total {
			return int(b.total - a.total)
		}
		return strings.Compare(a.fn, b.fn)
	})
	for _, s := range all[:min(len(all), 6)] {
		peak := 0.0
		for _, v := range s.p95 {
			if !math.IsNaN(v) {
				peak = max(peak, v)
			}
		}
		out = append(out, lineChart(s.fn+": run time per day, p50 and p95 (ms)", labels, max(peak, 1),
			[]namedSeries{{"p50", "p50", s.p50}, {"p95", "p95", s.p95}}))
	}
	return out
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

type namedSeries struct {
	name, class string
	v           []float64
}

func svgOpen(b *strings.Builder, label string, labels []string, top string, ss ...namedSeries) {
	legend := ""
	for _, s := range ss {
		legend += fmt.Sprintf(` <i class="%s"></i>%s`, esc(s.class), esc(s.name))
	}
	if legend != "" {
		legend = ` <span class="legend">` + legend + `</span>`
	}
	fmt.Fprintf(b, `<figure class="daychart"><figcaption>%s%s</figcaption><svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		esc(label), legend, chartW, chartH, esc(label))
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, chartH-padB, chartW-padR, chartH-padB)
	fmt.Fprintf(b, `<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>`, padL-4, padT+8, esc(top))
	fmt.Fprintf(b, `<text class="tick" x="%d" y="%d" text-anchor="end">0</text>`, padL-4, chartH-padB)
	slot := float64(chartW-padL-padR) / float64(len(labels))
	for i, l := range labels {
		if i%2 == 0 || i == len(labels)-1 {
			fmt.Fprintf(b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`, float64(padL)+slot*(float64(i)+0.5), chartH-8, esc(l))
		}
	}
}

func barChart(label string, labels []string, ok, failed []float64) template.HTML {
	peak := 1.0
	for i := range ok {
		peak = max(peak, ok[i]+failed[i])
	}
	var b strings.Builder
	svgOpen(&b, label, labels, strconv.FormatFloat(peak, 'f', 0, 64), namedSeries{"succeeded", "ok", nil}, namedSeries{"failed", "failed", nil})
	plotH := float64(chartH - padT - padB)
	slot := float64(chartW-padL-padR) / float64(len(labels))
	base := float64(chartH - padB)
	for i := range ok {
		hOK, hF := plotH*ok[i]/peak, plotH*failed[i]/peak
		x := float64(padL) + slot*float64(i) + 2
		if ok[i] > 0 {
			fmt.Fprintf(&b, `<rect class="ok" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %.0f succeeded</title></rect>`, x, base-hOK, slot-4, hOK, esc(labels[i]), ok[i])
		}
		if failed[i] > 0 {
			fmt.Fprintf(&b, `<rect class="failed" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %.0f failed</title></rect>`, x, base-hOK-hF, slot-4, hF, esc(labels[i]), failed[i])
		}
	}
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
}

func lineChart(label string, labels []string, peak float64, ss []namedSeries) template.HTML {
	var b strings.Builder
	svgOpen(&b, label, labels, strconv.FormatFloat(peak, 'f', -1, 64), ss...)
	plotH := float64(chartH - padT - padB)
	slot := float64(chartW-padL-padR) / float64(len(labels))
	for _, s := range ss {
		var pts []string
		for i, v := range s.v {
			if math.IsNaN(v) {
				continue
			}
			x, y := float64(padL)+slot*(float64(i)+0.5), float64(chartH-padB)-plotH*min(v/peak, 1)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="2.5"><title>%s %s: %.4g</title></circle>`, esc(s.class), x, y, esc(labels[i]), esc(s.name), v)
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, esc(s.class), strings.Join(pts, " "))
		}
	}
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
}

type retryData struct {
	Q historyQuery
	// Query is the filters, url.Values-encoded (a template.URL, as
	// historyData.Next).
	Query template.URL
	Plan  history.RetryPlan
	Done  []history.Retried
	// Confirmed: the retry ran; Enqueued counts the jobs it enqueued.
	Confirmed bool
	Enqueued  int
}

// historyRetry is the bulk retry: without confirm=yes it shows what would
// be enqueued (a confirmation page); with it, it enqueues up to the count
// the confirmation showed.
func (h *Handler) historyRetry(w http.ResponseWriter, r *http.Request) {
	if !h.mayAct(w, r) {
		return
	}
	q, f, err := h.historyFilter(r)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	limit := retryMax
	confirmed := r.PostFormValue("confirm") == "yes"
	if confirmed {
		n, err := strconv.Atoi(r.PostFormValue("count"))
		if err != nil || n < 0 || n > retryMax {
			h.fail(w, r, http.StatusBadRequest, "count: want the number the confirmation page showed")
			return
		}
		limit = n
	}
	ctx := r.Context()
	plan := history.RetryPlan{}
	if limit > 0 {
		if plan, err = history.PlanRetry(ctx, h.o.History, f, limit); err != nil {
			h.fail(w, r, http.StatusBadGateway, "reading the history failed: "+err.Error())
			return
		}
	}
	d := retryData{Q: q, Query: template.URL(q.Encode()), Plan: plan, Confirmed: confirmed}
	if confirmed {
		d.Done = history.Retry(ctx, h.o.History, h.in.Client(), plan)
		for _, x := range d.Done {
			if x.Err == nil {
				d.Enqueued++
			}
		}
		h.in.Invalidate()
	}
	h.render(w, r, "history_retry", page{Title: "Retry failed jobs", Nav: "history", Data: d})
}
