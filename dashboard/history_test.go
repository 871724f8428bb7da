package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
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
