package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
)

type cliEnv struct {
	t   *testing.T
	mr  *miniredis.Miniredis
	url string
}

func newEnv(t *testing.T) *cliEnv {
	t.Setenv("ARQ_REDIS_URL", "")
	t.Setenv("REDIS_URL", "")
	mr, _ := testutil.Redis(t)
	return &cliEnv{t: t, mr: mr, url: "redis://" + mr.Addr() + "/0"}
}

// goarq runs the CLI with --redis pointing at the test Redis.
func (e *cliEnv) goarq(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"goarq", "--redis", e.url}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func (e *cliEnv) jsonOut(args ...string) map[string]any {
	e.t.Helper()
	code, out, errs := e.goarq(append([]string{"--json"}, args...)...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		e.t.Fatalf("%v: exit %d, not JSON: %q %q", args, code, out, errs)
	}
	return m
}

func (e *cliEnv) client() *client.Client {
	rdb := redis.NewClient(&redis.Options{Addr: e.mr.Addr()})
	e.t.Cleanup(func() { rdb.Close() })
	return client.New(rdb, client.Options{})
}

func TestEnqueuePrintsIDAndRefusesDuplicates(t *testing.T) {
	e := newEnv(t)
	code, out, _ := e.goarq("enqueue", "send_email", "user@example.com", "3", "2.5", `[1, "a"]`, "--kwarg", `subject="hi"`, "--job-id", "j1", "--defer-by", "10s")
	if code != 0 || out != "j1\n" {
		t.Fatalf("exit %d, out %q", code, out)
	}
	info, err := e.client().Job("j1", "").Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"user@example.com", int64(3), 2.5, []any{int64(1), "a"}}
	if info.Function != "send_email" || !arqcompat.Equal(info.Args, want) {
		t.Errorf("args %s", arqcompat.Repr(info.Args))
	}
	if v, _ := info.Kwargs.Get("subject"); v != "hi" {
		t.Errorf("kwargs %s", arqcompat.Repr(info.Kwargs))
	}
	if *info.Score-info.EnqueueTime.UnixMilli() != 10_000 {
		t.Errorf("defer: score %d, enqueued %d", *info.Score, info.EnqueueTime.UnixMilli())
	}
	code, _, errs := e.goarq("enqueue", "send_email", "--job-id", "j1")
	if code != exitDuplicate || !strings.Contains(errs, `"j1" is already queued`) {
		t.Errorf("duplicate: exit %d, %q", code, errs)
	}
	if m := e.jsonOut("enqueue", "f", "--job-id", "j2"); m["enqueued"] != true || m["job_id"] != "j2" {
		t.Errorf("json: %v", m)
	}
	code, _, errs = e.goarq("enqueue", "f", "--defer-by", "1s", "--defer-until", "2030-01-01T00:00:00Z")
	if code != exitUsage || !strings.Contains(errs, "not both") {
		t.Errorf("both defers: %d %q", code, errs)
	}
	if code, _, _ := e.goarq("enqueue"); code != exitUsage {
		t.Errorf("no function: exit %d", code)
	}
	if code, _, errs := e.goarq("enqueue", "f", "--kwarg", "novalue"); code != exitUsage || !strings.Contains(errs, "key=JSON") {
		t.Errorf("bad kwarg: %d %q", code, errs)
	}
}

func TestStatusResultInfo(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	if code, out, _ := e.goarq("status", "nope"); code != exitNegative || out != "not_found\n" {
		t.Errorf("status: %d %q", code, out)
	}
	c.EnqueueRequest(ctx, client.Request{Function: "f", Options: client.EnqueueOptions{JobID: "q"}})
	if m := e.jsonOut("status", "q"); m["status"] != "queued" {
		t.Errorf("status json %v", m)
	}
	ok, _ := arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "add"},
		Success: true, Result: arqcompat.Tuple{int64(1), "x"}, JobID: "ok", Queue: "arq:queue"})
	e.mr.Set("arq:result:ok", string(ok))
	bad, _ := arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "parse"},
		Result: arqcompat.NewException("builtins", "ValueError", "boom"), JobID: "bad"})
	e.mr.Set("arq:result:bad", string(bad))

	if code, out, _ := e.goarq("result", "ok"); code != 0 || out != "(1, 'x')\n" {
		t.Errorf("result: %d %q", code, out)
	}
	code, _, errs := e.goarq("result", "bad")
	if code != exitNegative || !strings.Contains(errs, "ValueError: boom") {
		t.Errorf("failed result: %d %q", code, errs)
	}
	m := e.jsonOut("result", "bad")
	exc, _ := m["exception"].(map[string]any)
	if m["success"] != false || exc["class"] != "ValueError" || exc["message"] != "boom" {
		t.Errorf("failed result json: %v", m)
	}
	if code, _, errs := e.goarq("result", "--timeout", "50ms", "q"); code != exitTimeout || !strings.Contains(errs, "no result within") {
		t.Errorf("timeout: %d %q", code, errs)
	}
	if code, _, _ := e.goarq("result", "unknown"); code != exitNegative {
		t.Errorf("unknown: %d", code)
	}
	if m := e.jsonOut("info", "ok"); m["function"] != "add" || m["success"] != true {
		t.Errorf("info json %v", m)
	}
	if code, out, _ := e.goarq("info", "q"); code != 0 || !strings.Contains(out, "function      f") {
		t.Errorf("info: %d %q", code, out)
	}
	if code, _, _ := e.goarq("info", "nope"); code != exitNegative {
		t.Errorf("info unknown: %d", code)
	}
	// garbage in a result key: a clear error, not a panic
	e.mr.Set("arq:result:junk", "\x80\x04\x95garbage")
	if code, _, errs := e.goarq("result", "junk"); code != exitNegative || !strings.Contains(errs, "pickle") {
		t.Errorf("garbage: %d %q", code, errs)
	}
}

func TestJobsResultsStatsHealth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	c.EnqueueRequest(ctx, client.Request{Function: "now", Args: []any{1}, Options: client.EnqueueOptions{JobID: "a"}})
	c.EnqueueRequest(ctx, client.Request{Function: "later", Options: client.EnqueueOptions{JobID: "b", DeferBy: time.Hour}})
	code, out, _ := e.goarq("jobs")
	if code != 0 || !strings.Contains(out, "a       now") || !strings.Contains(out, "in 1h0m0s") {
		t.Errorf("jobs: %d\n%s", code, out)
	}
	m := e.jsonOut("jobs", "--limit", "1")
	if rows, _ := m["jobs"].([]any); len(rows) != 1 {
		t.Errorf("jobs --limit: %v", m)
	}
	for id, success := range map[string]bool{"r1": true, "r2": false} {
		data, _ := arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f"},
			Success: success, Result: arqcompat.NewException("builtins", "KeyError", "k"), JobID: id, Queue: "arq:queue"})
		e.mr.Set("arq:result:"+id, string(data))
	}
	if code, out, _ := e.goarq("results", "--failed"); code != 0 || strings.Contains(out, "r1") || !strings.Contains(out, "r2") {
		t.Errorf("results --failed: %d\n%s", code, out)
	}
	e.mr.Set("arq:in-progress:a", "1")
	st := e.jsonOut("stats")
	if st["queued"] != 0.0 || st["deferred"] != 1.0 || st["in_progress"] != 1.0 || st["results_ok"] != 1.0 || st["results_failed"] != 1.0 {
		t.Errorf("stats: %v", st)
	}
	if code, _, _ := e.goarq("health"); code != exitNegative {
		t.Errorf("health without a worker: %d", code)
	}
	e.mr.Set("arq:queue:health-check", "Nov-22 10:00:00 j_complete=1 j_failed=0 j_retried=0 j_ongoing=0 queued=0")
	if code, out, _ := e.goarq("health"); code != 0 || !strings.Contains(out, "j_complete=1") {
		t.Errorf("health: %d %q", code, out)
	}
	if code, _, _ := e.goarq("health", "--health-check-key", "other"); code != exitNegative {
		t.Errorf("health other key: %d", code)
	}
	if code, out, _ := e.goarq("stats"); code != 0 || !strings.Contains(out, "health: Nov-22") {
		t.Errorf("stats text: %q", out)
	}
}

func TestAbortExitCodes(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	// a finished job cannot be aborted: exit 1
	data, _ := arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f"}, Success: true, JobID: "done"})
	e.mr.Set("arq:result:done", string(data))
	if code, _, _ := e.goarq("abort", "--timeout", "100ms", "done"); code != exitNegative {
		t.Errorf("abort finished: %d", code)
	}
	// a cancellation result means aborted: exit 0
	data, _ = arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f"},
		Result: arqcompat.NewException("asyncio.exceptions", "CancelledError"), JobID: "c"})
	e.mr.Set("arq:result:c", string(data))
	if code, out, _ := e.goarq("abort", "c"); code != 0 || out != "aborted\n" {
		t.Errorf("abort: %d %q", code, out)
	}
}

func TestUnreachableRedisAndBadArguments(t *testing.T) {
	t.Setenv("ARQ_REDIS_URL", "")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"goarq", "--redis", "redis://user:s3cret@127.0.0.1:1/0", "status", "x"}, &out, &errb)
	if code != exitRedis || !strings.Contains(errb.String(), "127.0.0.1:1") || strings.Contains(errb.String(), "s3cret") ||
		strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
		t.Errorf("unreachable: %d %q", code, errb.String())
	}
	errb.Reset()
	code = run(context.Background(), []string{"goarq", "--redis", "http://x", "status", "x"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "scheme") {
		t.Errorf("bad url: %d %q", code, errb.String())
	}
	errb.Reset()
	code = run(context.Background(), []string{"goarq", "--serializer", "yaml", "status", "x"}, &out, &errb)
	if code != exitUsage {
		t.Errorf("bad serializer: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"goarq", "nosuchcommand"}, &out, &errb); code == 0 {
		t.Errorf("unknown command: exit 0")
	}
	if code := run(context.Background(), []string{"goarq", "status", "--nosuchflag"}, &out, &errb); code != exitUsage {
		t.Errorf("unknown flag: %d", code)
	}
}

func TestEnvironmentPicksRedis(t *testing.T) {
	e := newEnv(t)
	t.Setenv("REDIS_URL", e.url)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"goarq", "status", "x"}, &out, &errb); code != exitNegative || out.String() != "not_found\n" {
		t.Errorf("REDIS_URL: %d %q %q", code, out.String(), errb.String())
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, cmd := range newApp(nil, nil).Commands {
		if !strings.Contains(cmd.Description, "Example") {
			t.Errorf("%s --help has no example", cmd.Name)
		}
	}
}

// The demo runs on its embedded Redis unless --redis is given, even with
// the app's Redis in the environment, and a normal stop logs no Redis error.
func TestDemoOnEmbeddedRedis(t *testing.T) {
	t.Setenv("ARQ_REDIS_URL", "redis://127.0.0.1:1/0")
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1/0")
	var out, errb bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"goarq", "demo"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("demo took %s", d)
	}
	for _, want := range []string{"add          complete  1      → 3", "→ 'hello, world'", "✗ ValueError: invalid literal", "complete  3      → 'fetched",
		"✗ aborted (Job.abort() returned true)", "↻", "⊘", "retrying job in 0.10s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String()+errb.String(), "redis error") {
		t.Errorf("a normal demo logged a Redis error:\n%s%s", out.String(), errb.String())
	}
	// one plain line on polling; no tracking error, second warning or "?" info
	if n := strings.Count(out.String(), "The embedded Redis has no client tracking, so the demo polls every 20ms"); n != 1 {
		t.Errorf("the polling line shows %d times:\n%s", n, out.String())
	}
	for _, noise := range []string{"unknown subcommand", "push wake-up unavailable", "WARN", "redis_version=?", "=?"} {
		if strings.Contains(out.String()+errb.String(), noise) {
			t.Errorf("demo output has %q:\n%s%s", noise, out.String(), errb.String())
		}
	}
}

// ttyBuffer is a buffer that says it is a terminal.
type ttyBuffer struct{ bytes.Buffer }

func (*ttyBuffer) IsTerminal() bool { return true }

// watchStats runs stats --watch 50ms into out until it has refreshed
// three times.
func watchStats(t *testing.T, e *cliEnv, out interface {
	io.Writer
	String() string
}, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// a writer that cancels once three refreshes are out
	want := "RESULTS FAILED" // once per block
	if slices.Contains(args, "--json") {
		want = `"health"` // once per JSON line
	}
	w := &countingWriter{w: out, cancel: cancel, want: want, n: 3}
	var errb bytes.Buffer
	code := run(ctx, append(append([]string{"goarq", "--redis", e.url}, args...), "stats", "--watch", "50ms"), w, &errb)
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("stats --watch did not refresh 3 times: %q %q", out.String(), errb.String())
	}
	return code
}

type countingWriter struct {
	w      io.Writer
	cancel context.CancelFunc
	want   string
	n      int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.n -= strings.Count(string(p), c.want); c.n <= 0 {
		c.cancel()
	}
	return c.w.Write(p)
}

func (c *countingWriter) IsTerminal() bool { return isTerminal(c.w) }

func TestStatsWatchRedraws(t *testing.T) {
	e := newEnv(t)
	out := &ttyBuffer{}
	code := watchStats(t, e, out)
	if code != 0 || strings.Count(out.String(), "RESULTS FAILED") < 3 || strings.Count(out.String(), "\033[2J") < 3 {
		t.Errorf("exit %d: %q", code, out.String())
	}
}

// Piped, stats --watch never clears the screen: one block, or with --json
// one JSON line, per refresh.
func TestStatsWatchPipedPrintsBlocks(t *testing.T) {
	e := newEnv(t)
	var out bytes.Buffer
	code := watchStats(t, e, &out)
	if code != 0 || strings.Contains(out.String(), "\033") || strings.Count(out.String(), "RESULTS FAILED") < 3 {
		t.Errorf("exit %d: %q", code, out.String())
	}
	out.Reset()
	code = watchStats(t, e, &out, "--json")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if code != 0 || len(lines) < 3 || strings.Contains(out.String(), "\033") {
		t.Fatalf("exit %d: %q", code, out.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["queue"] != "arq:queue" {
			t.Errorf("not one JSON object per line: %q", l)
		}
	}
	if isTerminal(&out) {
		t.Error("a buffer is not a terminal")
	}
}

func TestShellCompletionListsCommands(t *testing.T) {
	// urfave/cli's completion reads os.Args, not the arguments given to Run
	args := []string{"goarq", "--generate-bash-completion"}
	saved := os.Args
	os.Args = args
	defer func() { os.Args = saved }()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	for _, cmd := range []string{"enqueue", "status", "result", "abort", "jobs", "stats", "health", "demo"} {
		if !strings.Contains(out.String(), cmd) {
			t.Errorf("completion (exit %d) lacks %s: %q", code, cmd, out.String())
		}
	}
}

// A --kwarg value is one JSON value, commas and all; urfave/cli would
// otherwise split it into "cols=[\"a\"" and "\"b\"]".
func TestKwargWithCommasPassesWhole(t *testing.T) {
	e := newEnv(t)
	code, _, errs := e.goarq("enqueue", "f", "--job-id", "k1", "--kwarg", `cols=["a","b"]`, "--kwarg", `name="a,b"`, "--kwarg", `m={"x": 1, "y": 2}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	info, err := e.client().Job("k1", "").Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := info.Kwargs.Get("cols"); !arqcompat.Equal(v, []any{"a", "b"}) {
		t.Errorf("cols = %s", arqcompat.Repr(v))
	}
	if v, _ := info.Kwargs.Get("name"); v != "a,b" {
		t.Errorf("name = %s", arqcompat.Repr(v))
	}
	if v, _ := info.Kwargs.Get("m"); arqcompat.Repr(v) != "{'x': 1, 'y': 2}" {
		t.Errorf("m = %s", arqcompat.Repr(v))
	}
}

// --sentinel and --queues still take comma-separated lists, as their help
// says, as well as repeats.
func TestCommaSeparatedListFlags(t *testing.T) {
	t.Setenv("ARQ_REDIS_URL", "")
	t.Setenv("REDIS_URL", "")
	app := newApp(io.Discard, io.Discard)
	var sentinels, queues []string
	for _, cmd := range app.Commands {
		if cmd.Name == "dashboard" {
			cmd.Action = func(c *cli.Context) error {
				rs, err := settingsFrom(c)
				sentinels, queues = rs.SentinelAddrs, commaList(c, "queues")
				return err
			}
		}
	}
	args := []string{"goarq", "--sentinel", "a:1,b:2", "--sentinel", "c:3", "dashboard", "--queues", "q1,q2", "--queues", "q3"}
	if err := app.RunContext(context.Background(), intersperse(app, args)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sentinels, []string{"a:1", "b:2", "c:3"}) || !slices.Equal(queues, []string{"q1", "q2", "q3"}) {
		t.Errorf("sentinels %q, queues %q", sentinels, queues)
	}
}
