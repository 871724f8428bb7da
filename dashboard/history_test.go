package dashboard_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/dashboard"
	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/sqlite"
)

// A worker that cannot deserialize a job stores its result for function
// '<unknown>' without arguments: Re-enqueue refuses it (it used to enqueue
// a job for '<unknown>'), and the job page offers no button.
func TestReenqueueRefusesAResultWithoutACall(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	e.putResult("garbage", "<unknown>", false, arqcompat.NewException("arq.jobs", "DeserializationError", "unable to deserialize job"))
	_, body, _ := e.get("/job/garbage")
	if strings.Contains(body, `id="reenqueue"`) {
		t.Error("the job page offers Re-enqueue for a result without a call")
	}
	code, _ := e.post("/job/garbage/reenqueue", url.Values{"csrf": {e.csrf("/job/garbage")}}, nil)
	if code == http.StatusSeeOther {
		t.Fatal("the re-enqueue was accepted")
	}
	if jobs, _ := e.in.QueuedJobs(context.Background(), ""); len(jobs) != 0 {
		t.Fatalf("enqueued %+v", jobs)
	}
}

func historyEnv(t *testing.T, o dashboard.Options) (*env, history.Store) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	o.History = s
	return newEnv(t, o), s
}

func TestHistoryPageEscapesAndRetryNeedsCSRFAndConfirmation(t *testing.T) {
	e, s := historyEnv(t, dashboard.Options{})
	ctx := context.Background()
	now := time.Now().UnixMilli()
	var recs []history.Record
	for i, arg := range []string{scriptArg, imgArg} {
		data, err := arqcompat.EncodeResult(arqcompat.PickleSerializer(arqcompat.Limits{}), arqcompat.ResultRecord{
			JobRecord: arqcompat.JobRecord{Function: "fail", Args: []any{arg}, JobTry: 1, EnqueueTimeMS: now - 10},
			Result:    arqcompat.NewException("builtins", "ValueError", arg), StartMS: now - 5 + int64(i), FinishMS: now + int64(i),
			Queue: arqcompat.DefaultQueueName, JobID: "j" + string(rune('0'+i))})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, history.FromResult(arqcompat.PickleSerializer(arqcompat.Limits{}), "j"+string(rune('0'+i)), data, time.Now()))
	}
	if _, err := s.Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
	code, body, _ := e.get("/history?success=failed")
	if code != 200 || strings.Contains(body, scriptArg) || strings.Contains(body, imgArg) || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("history page (status %d) does not escape:\n%s", code, body)
	}
	if code, _, _ := e.get("/history?since=yesterday-ish"); code != http.StatusBadRequest {
		t.Errorf("a bad since gave status %d", code)
	}
	form := url.Values{"success": {"failed"}}
	if code, _ := e.post("/history/retry", form, nil); code != http.StatusForbidden {
		t.Fatalf("retry without CSRF: status %d", code)
	}
	form.Set("csrf", e.csrf("/history"))
	code, _ = e.post("/history/retry", form, nil) // the confirmation page
	if jobs, _ := e.in.QueuedJobs(ctx, ""); code != 200 || len(jobs) != 0 {
		t.Fatalf("confirmation page: status %d, enqueued %d", code, len(jobs))
	}
	form.Set("confirm", "yes")
	form.Set("count", "2")
	if code, _ = e.post("/history/retry", form, nil); code != 200 {
		t.Fatalf("confirmed retry: status %d", code)
	}
	jobs, _ := e.in.QueuedJobs(ctx, "")
	if len(jobs) != 2 || jobs[0].Function != "fail" {
		t.Fatalf("enqueued %+v", jobs)
	}
	p, _ := s.Query(ctx, history.Filter{})
	for _, r := range p.Records {
		if r.RetriedAs == "" {
			t.Errorf("%s not linked to its retry", r.JobID)
		}
	}
}

func TestHistoryRetryRefusedReadOnly(t *testing.T) {
	e, _ := historyEnv(t, dashboard.Options{ReadOnly: true})
	if _, body, _ := e.get("/history"); strings.Contains(body, `method="post"`) {
		t.Error("read-only History page has a form")
	}
	if code, _ := e.post("/history/retry", url.Values{"confirm": {"yes"}, "count": {"1"}}, nil); code != http.StatusForbidden {
		t.Errorf("read-only retry: status %d", code)
	}
}

// The History page's "older →" link and the retry confirmation's "cancel"
// link keep the filters: following "older →" shows the next page of the
// same filter, and "cancel" goes back to the filtered page (both used to
// escape the whole query, '=' and '&' included, so the server read no
// filter and no cursor and showed the first page of everything).
func TestHistoryPagerAndCancelKeepTheFilters(t *testing.T) {
	e, s := historyEnv(t, dashboard.Options{})
	ctx := context.Background()
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	now := time.Now().UnixMilli()
	var recs []history.Record
	for i := range 120 {
		fn, id := "f", fmt.Sprintf("f%03d", i)
		if i%2 == 1 {
			fn, id = "g", fmt.Sprintf("g%03d", i)
		}
		data, err := arqcompat.EncodeResult(ser, arqcompat.ResultRecord{
			JobRecord: arqcompat.JobRecord{Function: fn, Args: []any{i}, JobTry: 1, EnqueueTimeMS: now - 1000},
			Result:    arqcompat.NewException("builtins", "ValueError", "x"), StartMS: now - 500 + int64(i), FinishMS: now - 400 + int64(i),
			Queue: arqcompat.DefaultQueueName, JobID: id})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, history.FromResult(ser, id, data, time.Now()))
	}
	if _, err := s.Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`<td class="id mono">([fg]\d+)</td>`)
	pageIDs := func(body string) (out []string) {
		for _, m := range ids.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	_, body, _ := e.get("/history?function=f")
	first := pageIDs(body)
	if len(first) != 50 || first[0] != "f118" || first[49] != "f020" {
		t.Fatalf("first page of function=f: %v", first)
	}
	next := regexp.MustCompile(`<a rel="next" href="([^"]+)"`).FindStringSubmatch(body)
	if next == nil {
		t.Fatal("no older → link on a full page")
	}
	code, body, _ := e.get(html.UnescapeString(next[1]))
	second := pageIDs(body)
	if code != 200 || len(second) != 10 || second[0] != "f018" || second[9] != "f000" {
		t.Fatalf("older → (%s): status %d, records %v; want f018 … f000", next[1], code, second)
	}

	if code, body, _ := e.get("/history?function=f&before=" + url.QueryEscape("x:1")); code != http.StatusBadRequest || !strings.Contains(body, "FINISH_MS:ID") {
		t.Errorf("a malformed cursor gave status %d (want 400 naming the cursor's form)", code)
	}

	form := url.Values{"function": {"f"}, "csrf": {e.csrf("/history")}}
	resp, err := http.PostForm(e.srv.URL+"/history/retry", form) // the confirmation page
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if body = string(b); resp.StatusCode != 200 {
		t.Fatalf("confirmation page: status %d", resp.StatusCode)
	}
	cancel := regexp.MustCompile(`<a href="([^"]+)">cancel</a>`).FindStringSubmatch(body)
	if cancel == nil {
		t.Fatalf("no cancel link on the confirmation page:\n%s", body)
	}
	u, err := url.Parse(html.UnescapeString(cancel[1]))
	if err != nil || u.Path != "/history" || u.Query().Get("function") != "f" {
		t.Fatalf("cancel goes to %q, want /history with function=f", cancel[1])
	}
}

// The bulk retry's pages count in words: one failure is "1 failed job
// matches", "Enqueue 1 job again", then "Enqueued 1 job again".
func TestHistoryRetryOfOneFailureSaysOneJob(t *testing.T) {
	e, s := historyEnv(t, dashboard.Options{})
	ctx := context.Background()
	now := time.Now().UnixMilli()
	data, err := arqcompat.EncodeResult(arqcompat.PickleSerializer(arqcompat.Limits{}), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "fail", Args: []any{"x"}, JobTry: 1, EnqueueTimeMS: now - 10},
		Result:    arqcompat.NewException("builtins", "ValueError", "x"), StartMS: now - 5, FinishMS: now,
		Queue: arqcompat.DefaultQueueName, JobID: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, []history.Record{history.FromResult(arqcompat.PickleSerializer(arqcompat.Limits{}), "one", data, time.Now())}); err != nil {
		t.Fatal(err)
	}
	post := func(form url.Values) (int, string) {
		resp, err := http.PostForm(e.srv.URL+"/history/retry", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := url.Values{"success": {"failed"}, "csrf": {e.csrf("/history")}}
	code, body := post(form)
	if code != 200 || !strings.Contains(body, "1 failed job matches") || !strings.Contains(body, "Enqueue 1 job again") {
		t.Fatalf("confirmation page, status %d:\n%s", code, body)
	}
	form.Set("confirm", "yes")
	form.Set("count", "1")
	if code, body = post(form); code != 200 || !strings.Contains(body, "Enqueued 1 job again") {
		t.Fatalf("confirmed retry, status %d:\n%s", code, body)
	}
}
