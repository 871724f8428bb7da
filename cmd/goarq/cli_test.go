package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
)

// Arguments that look like JSON must parse: exit 2 with the parse error,
// nothing enqueued; "--" ends the flags and is not an argument.
func TestJSONLookingArgumentsMustParse(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{
		{"f", `{"a": 1`}, {"f", "[1,2"}, {"f", "007"}, {"f", "1.2.3"}, {"f", "--kwarg", "x={bad"}, {"f", "--kwarg", "x=[1,"},
	} {
		code, out, errs := e.goarq(append([]string{"enqueue"}, args...)...)
		if code != exitUsage || out != "" || !strings.Contains(errs, "looks like JSON but is not") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: exit %d, %q %q", args, code, out, errs)
		}
	}
	if n, _ := e.mr.ZMembers(arqcompat.DefaultQueueName); len(n) != 0 {
		t.Errorf("enqueued %v", n)
	}
	if code, _, errs := e.goarq("enqueue", "f", "--kwarg", "x={bad"); !strings.Contains(errs, "--kwarg x") {
		t.Errorf("kwarg error does not name it: %d %q", code, errs)
	}
	// bare words stay strings; "--" ends the flags and is not sent
	code, _, errs := e.goarq("enqueue", "f", "hello", "--job-id", "j", "--", "-5", "--job-id", "-x", "true")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	info, err := e.client().Job("j", "").Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{"hello", int64(-5), "--job-id", "-x", true}; !arqcompat.Equal(info.Args, want) {
		t.Errorf("args %s, want %s", arqcompat.Repr(info.Args), arqcompat.Repr(want))
	}
}

// goarq help, help COMMAND and --version work; global flags may follow
// the command; a usage error is one line and a pointer to --help.
func TestHelpVersionAndFlagsAfterTheCommand(t *testing.T) {
	e := newEnv(t)
	bare := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"goarq"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, _ := bare("help"); code != 0 || !strings.Contains(out, "enqueue") || !strings.Contains(out, "--redis") {
		t.Errorf("help: %d %q", code, out)
	}
	if code, out, _ := bare("help", "jobs"); code != 0 || !strings.Contains(out, "goarq jobs") || !strings.Contains(out, "--limit") {
		t.Errorf("help jobs: %d %q", code, out)
	}
	if code, out, _ := bare("--version"); code != 0 || !strings.HasPrefix(out, "goarq version ") {
		t.Errorf("--version: %d %q", code, out)
	}
	e.client().EnqueueRequest(context.Background(), client.Request{Function: "f", Options: client.EnqueueOptions{JobID: "q", QueueName: "other"}})
	if code, out, errs := bare("status", "--redis", e.url, "--queue", "other", "--json", "q"); code != 0 || !strings.Contains(out, `"status":"queued"`) {
		t.Errorf("global flags after the command: %d %q %q", code, out, errs)
	}
	if code, out, errs := bare("status", "q", "--redis="+e.url, "--queue", "other"); code != 0 || out != "queued\n" {
		t.Errorf("global flags after the argument: %d %q %q", code, out, errs)
	}
	if code, _, errs := bare("jobs", "--redis", e.url, "--serializer", "yaml"); code != exitUsage || !strings.Contains(errs, "yaml") {
		t.Errorf("--serializer after the command: %d %q", code, errs)
	}
	for _, args := range [][]string{{"jobs", "--nosuch"}, {"--nosuch", "jobs"}, {"nosuchcommand"}, {"jobs", "--limit", "many"}} {
		code, out, errs := bare(args...)
		if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "--help)") {
			t.Errorf("%q: exit %d, not one line with a pointer to --help: %q %q", args, code, out, errs)
		}
	}
}

// results: --queue's results (by the record's queue name), the queue
// shown, newest finish first, --limit and --function.
func TestResultsOfTheQueueNewestFirst(t *testing.T) {
	e := newEnv(t)
	ser := e.client().Serializer()
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i, r := range []struct{ id, fn, queue string }{
		{"old", "f", "arq:queue"}, {"mid", "g", "arq:queue"}, {"new", "f", "arq:queue"}, {"elsewhere", "f", "emails"},
	} {
		data, _ := arqcompat.EncodeResult(ser, arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: r.fn, Kwargs: &arqcompat.Dict{}},
			Success: true, JobID: r.id, Queue: r.queue, StartMS: base, FinishMS: base + int64(i)*60_000})
		e.mr.Set(arqcompat.ResultKey(r.id), string(data))
	}
	ids := func(args ...string) string {
		m := e.jsonOut(append([]string{"results"}, args...)...)
		var s []string
		for _, r := range m["results"].([]any) {
			s = append(s, r.(map[string]any)["job_id"].(string))
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "new,mid,old"},
		{[]string{"--limit", "2"}, "new,mid"},
		{[]string{"--function", "f"}, "new,old"},
		{[]string{"--queue", "emails"}, "elsewhere"},
		{[]string{"--all-queues"}, "elsewhere,new,mid,old"},
	} {
		if got := ids(tc.args...); got != tc.want {
			t.Errorf("results %q: %s, want %s", tc.args, got, tc.want)
		}
	}
	code, out, _ := e.goarq("--queue", "emails", "results")
	if code != 0 || !strings.Contains(out, "QUEUE") || !strings.Contains(out, "elsewhere  emails") || strings.Contains(out, "new") {
		t.Errorf("results text: %d\n%s", code, out)
	}
}

// One unreadable record never breaks jobs, results or stats; the bad one
// is marked, with the serializer its bytes look like; an expired job key is
// shown as such, not exit 4.
func TestListingsMarkUnreadableRecords(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	c.EnqueueRequest(ctx, client.Request{Function: "good", Options: client.EnqueueOptions{JobID: "ok"}})
	e.mr.Set(arqcompat.JobKey("junk"), "\x80\x04\x95garbage")
	e.mr.ZAdd(arqcompat.DefaultQueueName, 1, "junk")
	e.mr.ZAdd(arqcompat.DefaultQueueName, 2, "gone")
	code, out, errs := e.goarq("jobs")
	if code != 0 || !strings.Contains(out, "good") || !regexpMatch(`junk +\? +- +- +- +unreadable: pickle: `, out) ||
		!regexpMatch(`gone +\? +- +- +- +expired`, out) {
		t.Errorf("jobs: %d %q\n%s", code, errs, out)
	}
	m := e.jsonOut("jobs")
	if rows := m["jobs"].([]any); len(rows) != 3 || !strings.HasPrefix(rows[0].(map[string]any)["error"].(string), "unreadable: pickle: ") {
		t.Errorf("jobs json: %v", m)
	}

	data, _ := arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "good"},
		Success: true, JobID: "r", Queue: "arq:queue"})
	e.mr.Set(arqcompat.ResultKey("r"), string(data))
	e.mr.Set(arqcompat.ResultKey("bad"), "\x80\x04\x95garbage")
	code, out, errs = e.goarq("results")
	if code != 0 || !strings.Contains(out, "r       arq:queue") || !regexpMatch(`bad +\? +\? +- +- +- +unreadable: pickle: `, out) {
		t.Errorf("results: %d %q\n%s", code, errs, out)
	}
	st := e.jsonOut("stats")
	if st["results_ok"] != 1.0 || st["results_unreadable"] != 1.0 {
		t.Errorf("stats: %v", st)
	}
	if code, out, _ := e.goarq("stats"); code != 0 || !strings.Contains(out, "unreadable results (any queue): 1") {
		t.Errorf("stats text: %d %q", code, out)
	}
	// the wrong --serializer: the message says what the bytes look like
	code, out, _ = e.goarq("--serializer", "json", "results")
	if code != 0 || !strings.Contains(out, "unreadable: json: ") || !strings.Contains(out, "(the bytes look pickle-encoded, not json)") {
		t.Errorf("results --serializer json: %d\n%s", code, out)
	}
}

// The columns of jobs and results stay aligned across unreadable and
// expired rows: every cell starts under its header.
func TestListingsStayAlignedAroundUnreadableRows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	enqueue := func(id, fn string, score int64, args ...any) {
		if _, err := c.EnqueueRequest(ctx, client.Request{Function: fn, Args: args, Options: client.EnqueueOptions{JobID: id}}); err != nil {
			t.Fatal(err)
		}
		e.mr.ZAdd(arqcompat.DefaultQueueName, float64(score), id)
	}
	enqueue("a", "send_email", 1, "user@example.com")
	e.mr.Set(arqcompat.JobKey("junk-record"), "\x80\x04\x95garbage")
	e.mr.ZAdd(arqcompat.DefaultQueueName, 2, "junk-record")
	enqueue("a-much-longer-job-id", "f", 3, true)
	e.mr.ZAdd(arqcompat.DefaultQueueName, 4, "gone")
	enqueue("z", "resize_image_thumbnail", 5, 1, 2)
	code, out, _ := e.goarq("jobs")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("want a header and 5 rows:\n%s", out)
	}
	header := lines[0]
	for _, col := range []string{"FUNCTION", "ARGS", "TRY", "ENQUEUED", "RUNS"} {
		at := strings.Index(header, col)
		for _, l := range lines[1:] {
			if len(l) <= at || l[at] == ' ' || l[at-1] != ' ' {
				t.Errorf("column %s (at %d) is not aligned in %q\n%s", col, at, l, out)
			}
		}
	}
}

// jobs and info show the same try as arq's queued_jobs(): the enqueuer's
// _job_try, None when it gave none.
func TestJobsAndInfoShowArqsJobTry(t *testing.T) {
	e := newEnv(t)
	e.goarq("enqueue", "f", "--job-id", "plain")
	e.goarq("enqueue", "f", "--job-id", "third", "--job-try", "3")
	code, out, _ := e.goarq("jobs")
	if code != 0 || !regexpMatch(`plain +f +None `, out) || !regexpMatch(`third +f +3 `, out) {
		t.Errorf("jobs: %d\n%s", code, out)
	}
	for id, want := range map[string]string{"plain": "None", "third": "3"} {
		if _, out, _ := e.goarq("info", id); !strings.Contains(out, "job_try       "+want+"\n") {
			t.Errorf("info %s: %q", id, out)
		}
	}
	rows := e.jsonOut("jobs")["jobs"].([]any)
	tries := map[string]any{}
	for _, r := range rows {
		tries[r.(map[string]any)["job_id"].(string)] = r.(map[string]any)["job_try"]
	}
	if tries["plain"] != nil || tries["third"] != 3.0 {
		t.Errorf("jobs json tries: %v", tries)
	}
	if m := e.jsonOut("info", "plain"); m["job_try"] != nil {
		t.Errorf("info json: %v", m["job_try"])
	}
}

// Exit codes a script can rely on.
func TestExitCodes(t *testing.T) {
	e := newEnv(t)
	if code, _, _ := e.goarq("status", "unknown"); code != exitNegative {
		t.Errorf("status of an unknown job: %d", code)
	}
	if m := e.jsonOut("status", "unknown"); m["status"] != "not_found" {
		t.Errorf("status json: %v", m)
	}
	if code, _, errs := e.goarq("enqueue", "f", "--wait", "50ms"); code != exitTimeout || !strings.Contains(errs, "no result within 50ms") {
		t.Errorf("enqueue --wait timeout: %d %q", code, errs)
	}
	data, _ := arqcompat.EncodeResult(e.client().Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f"},
		Result: arqcompat.NewException("builtins", "ValueError", "x"), JobID: "failed"})
	e.mr.Set(arqcompat.ResultKey("failed"), string(data))
	if code, _, _ := e.goarq("result", "--timeout", "50ms", "failed"); code != exitNegative {
		t.Errorf("failed job: %d", code)
	}
	for _, url := range []string{"redis://localhost:99999/0", "redis://localhost:0/0", "redis://localhost:port/0"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"goarq", "--redis", url, "status", "x"}, &out, &errb); code != exitUsage {
			t.Errorf("%s: exit %d %q", url, code, errb.String())
		}
	}
	if exitTimeout == exitNegative || exitTimeout == exitRedis || exitTimeout == exitUsage || exitTimeout == exitDuplicate {
		t.Error("the timeout exit code is not its own")
	}
}

// cmd/goarq reaches Redis only through package client: no go-redis command
// calls, no client.Redis(), no internal/arqredis.
func TestCLIReachesRedisOnlyThroughClient(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	allowed := map[string]bool{"SetLogger": true, "UniversalClient": true}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		redisName := ""
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case strings.HasPrefix(path, "github.com/redis/go-redis/"):
				redisName = "redis"
				if imp.Name != nil {
					redisName = imp.Name.Name
				}
			case strings.Contains(path, "/internal/arqredis"):
				t.Errorf("%s imports %s", name, path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && redisName != "" && id.Name == redisName && !allowed[sel.Sel.Name] {
				t.Errorf("%s: uses go-redis directly: %s.%s", fset.Position(sel.Pos()), redisName, sel.Sel.Name)
			}
			if sel.Sel.Name == "Redis" {
				t.Errorf("%s: uses .Redis", fset.Position(sel.Pos()))
			}
			return true
		})
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
