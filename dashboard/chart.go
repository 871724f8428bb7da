package dashboard

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/goarq/goarq/inspect"
)

const (
	chartW, chartH = 720, 170
	padL, padR     = 44, 10
	padT, padB     = 12, 26
	chartBuckets   = 48
)

// niceSteps are the bucket widths a chart picks from.
var niceSteps = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute,
	5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// charts draws, as inline SVG, the jobs finished per time bucket (succeeded
// and failed, stacked) and the failure rate per bucket, over the finish
// times of the kept results (newest first). Only numbers and times go into
// the SVG, and those are escaped too.
func charts(results []inspect.ResultSummary, now time.Time) (throughput, failure template.HTML) {
	var oldest int64
	for i := len(results) - 1; i >= 0; i-- {
		if results[i].FinishMS > 0 {
			oldest = results[i].FinishMS
			break
		}
	}
	if oldest == 0 {
		empty := template.HTML(`<p class="muted">No kept results to chart yet.</p>`)
		return empty, empty
	}
	span := now.Sub(time.UnixMilli(oldest))
	step := niceSteps[len(niceSteps)-1]
	for _, s := range niceSteps {
		if time.Duration(chartBuckets)*s >= span {
			step = s
			break
		}
	}
	end := now.Truncate(step).Add(step)
	start := end.Add(-time.Duration(chartBuckets) * step)
	ok := make([]int, chartBuckets)
	failed := make([]int, chartBuckets)
	for _, r := range results {
		if r.FinishMS <= 0 || r.Unreadable {
			continue
		}
		i := int(time.UnixMilli(r.FinishMS).Sub(start) / step)
		if i < 0 || i >= chartBuckets {
			continue
		}
		if r.Success {
			ok[i]++
		} else {
			failed[i]++
		}
	}
	peak := 1
	for i := range ok {
		peak = max(peak, ok[i]+failed[i])
	}
	plotW := float64(chartW - padL - padR)
	plotH := float64(chartH - padT - padB)
	barW := plotW / chartBuckets
	x0 := func(i int) float64 { return float64(padL) + float64(i)*barW }

	var b strings.Builder
	open := func(label string) {
		b.Reset()
		fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
			chartW, chartH, template.HTMLEscapeString(label))
		fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, chartH-padB, chartW-padR, chartH-padB)
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d">%s</text>`, padL, chartH-8, esc(start.Local().Format("01-02 15:04")))
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>`, chartW-padR, chartH-8, esc(end.Local().Format("01-02 15:04")))
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="middle">%s</text>`, chartW/2, chartH-8, esc("per "+fmtDur(step)))
	}
	open(fmt.Sprintf("jobs finished per %s", fmtDur(step)))
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%d</text>`, padL-4, padT+8, peak)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">0</text>`, padL-4, chartH-padB)
	for i := range ok {
		hOK := plotH * float64(ok[i]) / float64(peak)
		hF := plotH * float64(failed[i]) / float64(peak)
		base := float64(chartH - padB)
		if ok[i] > 0 {
			fmt.Fprintf(&b, `<rect class="ok" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d succeeded</title></rect>`,
				x0(i)+1, base-hOK, barW-2, hOK, ok[i])
		}
		if failed[i] > 0 {
			fmt.Fprintf(&b, `<rect class="failed" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d failed</title></rect>`,
				x0(i)+1, base-hOK-hF, barW-2, hF, failed[i])
		}
	}
	b.WriteString(`</svg>`)
	throughput = template.HTML(b.String())

	open(fmt.Sprintf("failure rate per %s", fmtDur(step)))
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">100%%</text>`, padL-4, padT+8)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">0%%</text>`, padL-4, chartH-padB)
	var pts []string
	for i := range ok {
		n := ok[i] + failed[i]
		if n == 0 {
			continue
		}
		rate := float64(failed[i]) / float64(n)
		x, y := x0(i)+barW/2, float64(chartH-padB)-plotH*rate
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		fmt.Fprintf(&b, `<circle class="rate" cx="%.1f" cy="%.1f" r="2.5"><title>%.0f%% of %d failed</title></circle>`, x, y, 100*rate, n)
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline class="rate" points="%s"/>`, strings.Join(pts, " "))
	}
	b.WriteString(`</svg>`)
	failure = template.HTML(b.String())
	return throughput, failure
}

func esc(s string) string { return template.HTMLEscapeString(s) }
