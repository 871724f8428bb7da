package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/arqprom"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/dashboard"
	"github.com/goarq/goarq/inspect"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

type env struct {
	t   *testing.T
	mr  *miniredis.Miniredis
	rdb *redis.Client
	cl  *client.Client
	in  *inspect.Inspector
	srv *httptest.Server
}

func newEnv(t *testing.T, o dashboard.Options) *env {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	cl := client.New(rdb, client.Options{})
	in := inspect.New(cl, inspect.Options{CacheTTL: -1})
	o.Inspector = in
	if o.Metrics == nil {
		m, err := arqprom.Handler(in, o.Queues...)
		if err != nil {
			t.Fatal(err)
		}
		o.Metrics = m
	}
	h, err := dashboard.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, mr: mr, rdb: rdb, cl: cl, in: in, srv: srv}
}

func (e *env) get(path string) (int, string, http.Header) {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// post sends a form without following the redirect.
func (e *env) post(path string, form url.Values, header http.Header) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (e *env) csrf(page string) string {
	e.t.Helper()
	_, body, _ := e.get(page)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no CSRF token on %s", page)
	}
	return m[1]
}

func (e *env) putResult(id, function string, success bool, result any, args ...any) {
	e.t.Helper()
	now := arqcompat.TimestampMS(time.Now())
	data, err := arqcompat.EncodeResult(arqcompat.PickleSerializer(arqcompat.Limits{}), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: function, Args: args, Kwargs: arqcompat.NewDict(), JobTry: 1, EnqueueTimeMS: now - 300},
		Success:   success, Result: result, StartMS: now - 200, FinishMS: now - 100, Queue: arqcompat.DefaultQueueName, JobID: id})
	if err != nil {
		e.t.Fatal(err)
	}
	e.mr.Set(arqcompat.ResultKey(id), string(data))
}

const (
	scriptArg = `<script>window.__xss=1</script>`
	imgArg    = `<img src=x onerror=alert(1)>`
)

func TestPagesEscapeEverythingFromRedis(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	ctx := context.Background()
	if _, err := e.cl.EnqueueRequest(ctx, client.Request{Function: "echo<b>", Args: []any{scriptArg},
		Kwargs: map[string]any{"x": imgArg}, Options: client.EnqueueOptions{JobID: "q<i>1"}}); err != nil {
		t.Fatal(err)
	}
	e.putResult("r1", "fail", false, arqcompat.NewException("builtins", "ValueError", imgArg), scriptArg)
	for _, p := range []string{"/", "/jobs", "/results", "/job/" + url.PathEscape("q<i>1"), "/job/r1", "/results?function=" + url.QueryEscape(imgArg)} {
		code, body, hd := e.get(p)
		if code != 200 {
			t.Fatalf("%s: status %d\n%s", p, code, body)
		}
		for _, raw := range []string{"<script>window", "<img src=x", "<b>", "<i>"} {
			if strings.Contains(body, raw) {
				t.Errorf("%s: raw %q in the page", p, raw)
			}
		}
		if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
	}
	_, body, _ := e.get("/job/r1")
	if !strings.Contains(body, "ValueError: &lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the exception is not shown as Python prints it, escaped:\n%s", body)
	}
	_, body, _ = e.get("/jobs")
	if !strings.Contains(body, "&lt;script&gt;window.__xss=1&lt;/script&gt;") {
		t.Errorf("the argument is not shown as text:\n%s", body)
	}
}

func TestUnreadableRecordsShowAsUnreadable(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	e.mr.Set(arqcompat.JobKey("bad"), "\x80\x05garbage")
	e.mr.ZAdd(arqcompat.DefaultQueueName, float64(arqcompat.TimestampMS(time.Now())), "bad")
	e.mr.ZAdd(arqcompat.DefaultQueueName, float64(arqcompat.TimestampMS(time.Now())), "gone") // no job key
	e.mr.Set(arqcompat.ResultKey("badres"), "\x00junk")
	for _, p := range []string{"/", "/jobs", "/results", "/job/bad", "/job/badres"} {
		code, body, _ := e.get(p)
		if code != 200 || !strings.Contains(body, "unreadable") {
			t.Errorf("%s: status %d, want 200 with 'unreadable':\n%s", p, code, body)
		}
	}
}

func TestActionsNeedTheCSRFTokenAndSameOrigin(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	ctx := context.Background()
	j, err := e.cl.Enqueue(ctx, "sleep", 10)
	if err != nil {
		t.Fatal(err)
	}
	path := "/job/" + j.ID + "/abort"
	if code, _ := e.post(path, url.Values{}, nil); code != http.StatusForbidden {
		t.Errorf("without a token: status %d, want 403", code)
	}
	if code, _ := e.post(path, url.Values{"csrf": {"forged"}}, nil); code != http.StatusForbidden {
		t.Errorf("with a wrong token: status %d, want 403", code)
	}
	tok := e.csrf("/job/" + j.ID)
	if code, _ := e.post(path, url.Values{"csrf": {tok}}, http.Header{"Origin": {"http://evil.example"}}); code != http.StatusForbidden {
		t.Errorf("from another origin: status %d, want 403", code)
	}
	if code, _ := e.post(path, url.Values{"csrf": {tok}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}); code != http.StatusForbidden {
		t.Errorf("cross-site: status %d, want 403", code)
	}
	if n, _ := e.rdb.ZCard(ctx, arqcompat.AbortJobsSS).Result(); n != 0 {
		t.Fatalf("a refused request wrote %d abort requests", n)
	}
	code, loc := e.post(path, url.Values{"csrf": {tok}}, http.Header{"Origin": {e.srv.URL}})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/job/"+j.ID) {
		t.Fatalf("with the token: status %d location %q", code, loc)
	}
	if _, err := e.rdb.ZScore(ctx, arqcompat.AbortJobsSS, j.ID).Result(); err != nil {
		t.Fatalf("no abort request for %s: %v", j.ID, err)
	}
	_, body, _ := e.get(loc)
	if !strings.Contains(body, "Abort requested") || !strings.Contains(body, "abort requested") {
		t.Errorf("the job page does not say the abort was requested:\n%s", body)
	}
}

func TestReenqueueAFailedJobAndDeleteAResult(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	ctx := context.Background()
	e.putResult("f1", "fail", false, arqcompat.NewException("builtins", "ValueError", "boom"), "boom", int64(3))
	tok := e.csrf("/job/f1")
	code, loc := e.post("/job/f1/reenqueue", url.Values{"csrf": {tok}}, nil)
	if code != http.StatusSeeOther {
		t.Fatalf("reenqueue: status %d", code)
	}
	jobs, err := e.in.QueuedJobs(ctx, "")
	if err != nil || len(jobs) != 1 {
		t.Fatalf("queued jobs: %v %v", jobs, err)
	}
	if j := jobs[0]; j.JobID == "f1" || j.Function != "fail" || arqcompat.ReprArgs(j.Args, j.Kwargs) != "'boom', 3" {
		t.Errorf("re-enqueued job %+v", j)
	}
	if !strings.Contains(loc, jobs[0].JobID) {
		t.Errorf("redirect %q does not name the new job %s", loc, jobs[0].JobID)
	}
	code, _ = e.post("/job/f1/delete-result", url.Values{"csrf": {tok}}, nil)
	if code != http.StatusSeeOther || e.mr.Exists(arqcompat.ResultKey("f1")) {
		t.Fatalf("delete: status %d, key still there: %v", code, e.mr.Exists(arqcompat.ResultKey("f1")))
	}
	_, body, _ := e.get("/results")
	if strings.Contains(body, "/job/f1") {
		t.Error("the deleted result is still listed")
	}
}

func TestReadOnlyRefusesActionsAndShowsNone(t *testing.T) {
	e := newEnv(t, dashboard.Options{ReadOnly: true})
	e.putResult("f1", "fail", false, arqcompat.NewException("builtins", "ValueError", "boom"))
	for _, p := range []string{"/results", "/job/f1"} {
		if _, body, _ := e.get(p); strings.Contains(body, `method="post"`) {
			t.Errorf("%s has a form in read-only mode", p)
		}
	}
	code, _ := e.post("/job/f1/delete-result", url.Values{}, nil)
	if code != http.StatusForbidden || !e.mr.Exists(arqcompat.ResultKey("f1")) {
		t.Errorf("read-only delete: status %d, result exists %v", code, e.mr.Exists(arqcompat.ResultKey("f1")))
	}
}

func TestBasicAuth(t *testing.T) {
	e := newEnv(t, dashboard.Options{User: "admin", Password: "s3cret"})
	for _, c := range []struct {
		user, pass string
		want       int
	}{{"", "", 401}, {"admin", "wrong", 401}, {"Admin", "s3cret", 401}, {"admin", "s3cret", 200}} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s:%s: status %d, want %d", c.user, c.pass, resp.StatusCode, c.want)
		}
	}
}

func TestJobsPagesAndFilters(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	ctx := context.Background()
	for i := range 120 {
		fn := "add"
		if i%10 == 0 {
			fn = "other"
		}
		if _, err := e.cl.EnqueueRequest(ctx, client.Request{Function: fn, Args: []any{int64(i)},
			Options: client.EnqueueOptions{JobID: fmt.Sprintf("job%03d", i), DeferUntil: time.Now().Add(time.Duration(i) * time.Minute)}}); err != nil {
			t.Fatal(err)
		}
	}
	rows := regexp.MustCompile(`href="/job/(job\d+)\?`)
	_, body, _ := e.get("/jobs")
	got := rows.FindAllStringSubmatch(body, -1)
	if len(got) != 50 || got[0][1] != "job000" || got[49][1] != "job049" {
		t.Fatalf("first page: %d rows %v", len(got), got)
	}
	if !strings.Contains(body, "offset=50") {
		t.Error("no link to the next page")
	}
	_, body, _ = e.get("/jobs?offset=100")
	if got = rows.FindAllStringSubmatch(body, -1); len(got) != 20 || strings.Contains(body, `rel="next"`) {
		t.Errorf("last page: %d rows, next link %v", len(got), strings.Contains(body, `rel="next"`))
	}
	_, body, _ = e.get("/jobs?function=other")
	if got = rows.FindAllStringSubmatch(body, -1); len(got) != 12 || got[1][1] != "job010" {
		t.Errorf("function filter: %v", got)
	}
	_, body, _ = e.get("/jobs?id=job007")
	if got = rows.FindAllStringSubmatch(body, -1); len(got) != 1 || got[0][1] != "job007" {
		t.Errorf("id filter: %v", got)
	}
}

func TestMetricsOfTheQueue(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	ctx := context.Background()
	now := time.Now()
	for i := range 3 {
		e.mr.Set(arqcompat.JobKey(fmt.Sprint("r", i)), "x")
		e.mr.ZAdd(arqcompat.DefaultQueueName, float64(arqcompat.TimestampMS(now.Add(-time.Duration(i+1)*time.Minute))), fmt.Sprint("r", i))
	}
	e.mr.Set(arqcompat.InProgressKey("r2"), "1") // the oldest is running
	e.mr.ZAdd(arqcompat.DefaultQueueName, float64(arqcompat.TimestampMS(now.Add(time.Hour))), "later")
	e.putResult("a", "add", true, int64(3))
	e.putResult("b", "add", true, int64(4))
	e.putResult("c", "fail", false, arqcompat.NewException("builtins", "ValueError", "x"))
	e.mr.Set(arqcompat.HealthCheckKey(arqcompat.DefaultQueueName), now.Add(-10*time.Second).Format("Jan-02 15:04:05")+
		" j_complete=7 j_failed=2 j_retried=1 j_ongoing=1 queued=4")
	_ = ctx
	_, body, _ := e.get("/metrics")
	for _, want := range []string{
		`arq_queue_jobs{queue="arq:queue",state="queued"} 2`,
		`arq_queue_jobs{queue="arq:queue",state="deferred"} 1`,
		`arq_queue_jobs{queue="arq:queue",state="in_progress"} 1`,
		`arq_queue_results{function="add",queue="arq:queue",success="true"} 2`,
		`arq_queue_results{function="fail",queue="arq:queue",success="false"} 1`,
		`arq_health_jobs{kind="complete",queue="arq:queue"} 7`,
		`arq_health_jobs{kind="queued",queue="arq:queue"} 4`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %s in\n%s", want, body)
		}
	}
	age := regexp.MustCompile(`arq_queue_oldest_ready_seconds\{queue="arq:queue"\} ([0-9.e+]+)`).FindStringSubmatch(body)
	if age == nil {
		t.Fatalf("no oldest ready age:\n%s", body)
	}
	var secs float64
	fmt.Sscan(age[1], &secs)
	if secs < 119 || secs > 125 { // r1, two minutes old; r2 (three) is running
		t.Errorf("oldest ready %v s, want about 120", secs)
	}
	hage := regexp.MustCompile(`arq_health_age_seconds\{queue="arq:queue"\} ([0-9.e+]+)`).FindStringSubmatch(body)
	fmt.Sscan(hage[1], &secs)
	if secs < 9 || secs > 13 {
		t.Errorf("health age %v s, want about 10", secs)
	}
}

// The overview lists the live goarq workers of each queue from their
// heartbeat records, beside arq's health-check line.
func TestOverviewListsGoarqWorkers(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	w, err := worker.New(worker.Settings{Functions: []worker.Function{worker.Func("resize_<b>image</b>", func(ctx context.Context) {})},
		OnlyOwnFunctions: true, RedisClient: e.rdb, MaxJobs: 7, PollDelay: 5 * time.Millisecond, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	body := ""
	for time.Now().Before(deadline) {
		_, body, _ = e.get("/")
		if strings.Contains(body, "only its own functions") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	host, _ := os.Hostname()
	for _, want := range []string{host, "only its own functions", "0/7", "resize_&lt;b&gt;image&lt;/b&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if strings.Contains(body, "<b>image</b>") {
		t.Error("a function name from Redis is not escaped")
	}
}

// Without Options.Metrics there is no /metrics and no link to it, and the
// package itself never links client_golang.
func TestNoMetricsUnlessGiven(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	h, err := dashboard.New(dashboard.Options{Inspector: inspect.New(client.New(rdb, client.Options{}), inspect.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for path, want := range map[string]int{"/metrics": http.StatusNotFound, "/": http.StatusOK} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || strings.Contains(string(body), "/metrics") {
			t.Errorf("%s: status %d, want %d; links /metrics: %v", path, resp.StatusCode, want, strings.Contains(string(body), "/metrics"))
		}
	}
	if testing.Short() {
		return
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output() // go test puts its go first on $PATH
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "prometheus") {
		t.Errorf("package dashboard depends on Prometheus:\n%s", out)
	}
}

// The listing pages reload themselves with <meta http-equiv="refresh">
// (no script), every Options.Refresh by default; ?refresh=N overrides it,
// ?refresh=0 turns it off, and the header links to the other state. A
// job's page, with its actions, does not reload.
func TestPagesRefreshThemselves(t *testing.T) {
	metaRE := regexp.MustCompile(`<meta http-equiv="refresh" content="(\d+)">`)
	toggleRE := regexp.MustCompile(`id="refresh-toggle" href="([^"]*)"`)
	check := func(e *env, path, wantMeta, wantToggle string) {
		t.Helper()
		_, body, _ := e.get(path)
		meta := ""
		if m := metaRE.FindStringSubmatch(body); m != nil {
			meta = m[1]
		}
		toggle := ""
		if m := toggleRE.FindStringSubmatch(body); m != nil {
			toggle = m[1]
		}
		if meta != wantMeta || toggle != wantToggle {
			t.Errorf("%s: refresh %q toggle %q, want %q %q", path, meta, toggle, wantMeta, wantToggle)
		}
	}
	e := newEnv(t, dashboard.Options{})
	e.putResult("r1", "f", true, int64(1))
	check(e, "/", "10", "/?refresh=0")
	check(e, "/jobs?queue=arq:queue", "10", "/jobs?queue=arq%3Aqueue&amp;refresh=0")
	check(e, "/results?refresh=3", "3", "/results?refresh=0")
	check(e, "/results?refresh=0", "", "/results")
	check(e, "/job/r1", "", "")

	off := newEnv(t, dashboard.Options{Refresh: -1, Prefix: "/arq"})
	check(off, "/", "", "/arq/?refresh=10")
	check(off, "/?refresh=30", "30", "/arq/?refresh=0")
}

// A result arq wrote for a job whose record had expired has function
// '<unknown>' and enqueue time 0: it has no wait, not one of 56 years.
func TestExpiredJobResultHasNoWait(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	now := arqcompat.TimestampMS(time.Now())
	data, err := arqcompat.EncodeResult(arqcompat.PickleSerializer(arqcompat.Limits{}), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "<unknown>", Kwargs: arqcompat.NewDict(), JobTry: 1},
		Success:   false, Result: "job expired", StartMS: now - 200, FinishMS: now - 100, Queue: arqcompat.DefaultQueueName, JobID: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	e.mr.Set(arqcompat.ResultKey("gone"), string(data))
	_, body, _ := e.get("/")
	row := regexp.MustCompile(`(?s)&lt;unknown&gt;</a></td>(.*?)</tr>`).FindStringSubmatch(body)
	if row == nil {
		t.Fatalf("no <unknown> row:\n%s", body)
	}
	cells := regexp.MustCompile(`<td class="num">([^<]*)</td>`).FindAllStringSubmatch(row[1], -1)
	if len(cells) != 5 || cells[4][1] != "—" {
		t.Errorf("p50 wait of an expired job's result: %q", cells)
	}
	_, body, _ = e.get("/job/gone")
	if strings.Contains(body, "waited") || strings.Contains(body, "1970") {
		t.Errorf("job page shows a wait or an epoch enqueue time:\n%s", body)
	}
}

// A queued job's try is what arq's queued_jobs() gives: None unless the
// enqueuer set _job_try (as `goarq jobs` prints it).
func TestQueuedJobTryIsArqs(t *testing.T) {
	e := newEnv(t, dashboard.Options{})
	ctx := context.Background()
	if _, err := e.cl.EnqueueRequest(ctx, client.Request{Function: "f", Options: client.EnqueueOptions{JobID: "plain"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cl.EnqueueRequest(ctx, client.Request{Function: "f", Options: client.EnqueueOptions{JobID: "third", JobTry: 3}}); err != nil {
		t.Fatal(err)
	}
	_, body, _ := e.get("/jobs")
	for id, want := range map[string]string{"plain": "None", "third": "3"} {
		re := regexp.MustCompile(`(?s)>` + id + `</a></td>.*?<td class="num">([^<]*)</td>`)
		if m := re.FindStringSubmatch(body); m == nil || m[1] != want {
			t.Errorf("jobs page try of %s: %v, want %s", id, m, want)
		}
		_, page, _ := e.get("/job/" + id)
		if !strings.Contains(page, "<tr><th>try</th><td>"+want+"</td></tr>") {
			t.Errorf("job page try of %s is not %s", id, want)
		}
	}
}
