package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/internal/workertest"
	"github.com/goarq/goarq/worker"
)

func setup(t *testing.T) (*client.Client, redis.UniversalClient, *miniredis.Miniredis) {
	t.Helper()
	mr, rdb := testutil.Redis(t)
	return client.New(rdb, client.Options{}), rdb, mr
}

func result(t *testing.T, c *client.Client, id string) (any, error) {
	t.Helper()
	return c.Job(id, "").Result(context.Background(), client.ResultOptions{Timeout: time.Second, PollDelay: 5 * time.Millisecond})
}

// raceBurstWorkers runs three burst workers with s on one queue at once
// and returns how many jobs they completed together.
func raceBurstWorkers(t *testing.T, ctx context.Context, s worker.Settings) int {
	t.Helper()
	s.Burst, s.PollDelay, s.Logger = true, time.Millisecond, testutil.QuietLogger()
	done := make(chan *worker.Worker, 3)
	for k := 0; k < 3; k++ {
		go func() {
			w, err := worker.New(s)
			if err != nil {
				t.Error(err)
				done <- nil
				return
			}
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
			done <- w
		}()
	}
	total := 0
	for k := 0; k < 3; k++ {
		if w := <-done; w != nil {
			total += w.Stats().Complete
		}
	}
	return total
}

// expectTypeErrors checks that each job (by id) failed with a TypeError
// whose message is exactly the one given.
func expectTypeErrors(t *testing.T, c *client.Client, want map[string]string) {
	t.Helper()
	for id, msg := range want {
		_, err := result(t, c, id)
		var exc *arqcompat.Exception
		if !errors.As(err, &exc) || exc.Class != (arqcompat.Global{Module: "builtins", Name: "TypeError"}) || exc.Message() != msg {
			t.Errorf("%s: got %v, want TypeError(%q)", id, err, msg)
		}
	}
}

func TestTypedFunctionsBindArgumentsAsPythonCalls(t *testing.T) {
	c, rdb, _ := setup(t)
	ctx := context.Background()
	add := worker.Func("add", func(ctx context.Context, a, b int) (int, error) { return a + b, nil }, worker.WithParams("a", "b"))
	type In struct {
		Name  string `json:"name"`
		Times int    `json:"times"`
	}
	greet := worker.Func("greet", func(ctx context.Context, in In) (string, error) {
		s := ""
		for i := 0; i < in.Times; i++ {
			s += "hi " + in.Name + " "
		}
		return s, nil
	})
	sum := worker.Func("sum", func(ctx context.Context, xs ...float64) float64 {
		t := 0.0
		for _, x := range xs {
			t += x
		}
		return t
	})
	calls := map[string]client.Request{
		"ok":        {Function: "add", Args: []any{1, 2}},
		"kw":        {Function: "add", Args: []any{1}, Kwargs: map[string]any{"b": 5}},
		"missing":   {Function: "add", Args: []any{1}},
		"extra":     {Function: "add", Args: []any{1, 2, 3}},
		"wrongtype": {Function: "add", Args: []any{"x", 2}},
		"unknownkw": {Function: "add", Args: []any{1, 2}, Kwargs: map[string]any{"c": 1}},
		"dupkw":     {Function: "add", Args: []any{1, 2}, Kwargs: map[string]any{"a": 1}},
		"struct":    {Function: "greet", Kwargs: map[string]any{"name": "bob", "times": 2}},
		"variadic":  {Function: "sum", Args: []any{1, 2.5, 3}},
		"noargs":    {Function: "ping"},
		"noargsErr": {Function: "check"},
		"pingArg":   {Function: "ping", Args: []any{1}},
		"checkKw":   {Function: "check", Kwargs: map[string]any{"x": 1}},
	}
	for id, r := range calls {
		r.Options.JobID = id
		if _, err := c.EnqueueRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// argument-less shapes are called without reflect; they bind the same
	ping := worker.Func("ping", func(ctx context.Context) (any, error) { return "pong", nil })
	check := worker.Func("check", func(ctx context.Context) error { return errors.New("bad") })
	workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{add, greet, sum, ping, check}})
	want := map[string]any{"ok": int64(3), "kw": int64(6), "struct": "hi bob hi bob ", "variadic": 6.5, "noargs": "pong"}
	for id, v := range want {
		got, err := result(t, c, id)
		if err != nil || !arqcompat.Equal(got, v) {
			t.Errorf("%s: got %v %v, want %v", id, got, err, v)
		}
	}
	typeErrors := map[string]string{
		"missing":   "add() missing 1 required positional argument: 'b'",
		"extra":     "add() takes 3 positional arguments but 4 were given", // arq passes ctx first
		"wrongtype": "add() argument 'a' (position 1) must be int, not str",
		"unknownkw": "add() got an unexpected keyword argument 'c'",
		"dupkw":     "add() got multiple values for argument 'a'",
		"pingArg":   "ping() takes 1 positional argument but 2 were given",
		"checkKw":   "check() got an unexpected keyword argument 'x'",
	}
	expectTypeErrors(t, c, typeErrors)
	if _, err := result(t, c, "noargsErr"); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("noargsErr: %v", err)
	}
}

// A handler that ignores its context cannot hold the worker past its timeout.
func TestTimeoutBeatsAHandlerThatIgnoresItsContext(t *testing.T) {
	c, rdb, _ := setup(t)
	release := make(chan struct{})
	defer close(release)
	stubborn := worker.Func("stubborn", func(ctx context.Context) error { <-release; return nil })
	if _, err := c.EnqueueRequest(context.Background(), client.Request{Function: "stubborn", Options: client.EnqueueOptions{JobID: "s"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w := workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{stubborn}, JobTimeout: 100 * time.Millisecond})
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("worker held for %s", d)
	}
	_, err := result(t, c, "s")
	var exc *arqcompat.Exception
	if !errors.As(err, &exc) || exc.Class.Name != "TimeoutError" {
		t.Fatalf("got %v", err)
	}
	if st := w.Stats(); st.Failed != 1 || st.Complete != 0 {
		t.Errorf("stats %+v", st)
	}
}

// stubbornRun runs a worker for one job of a handler that ignores its
// context until the test ends; started is closed once the handler runs.
func stubbornRun(t *testing.T, c *client.Client, rdb redis.UniversalClient, s worker.Settings) (w *worker.Worker, started chan struct{}, cancel context.CancelFunc, done chan error) {
	t.Helper()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	started = make(chan struct{})
	s.Functions = []worker.Function{worker.Func("stubborn", func(ctx context.Context) error { close(started); <-release; return nil })}
	s.RedisClient, s.PollDelay, s.Logger = rdb, 5*time.Millisecond, testutil.QuietLogger()
	if _, err := c.EnqueueRequest(context.Background(), client.Request{Function: "stubborn", Options: client.EnqueueOptions{JobID: "s"}}); err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done = make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return w, started, cancel, done
}

// An aborted job whose handler ignores its context is recorded as
// aborted shortly after, without the handler's return.
func TestAbortBeatsAHandlerThatIgnoresItsContext(t *testing.T) {
	c, rdb, _ := setup(t)
	w, started, cancel, done := stubbornRun(t, c, rdb, worker.Settings{AllowAbortJobs: true, JobTimeout: time.Minute})
	<-started
	aborted, err := c.Job("s", "").Abort(context.Background(), client.ResultOptions{Timeout: 5 * time.Second, PollDelay: 5 * time.Millisecond})
	if err != nil || !aborted {
		t.Fatalf("Abort: %v, %v", aborted, err)
	}
	// the job's slot is released once its finish write is acknowledged,
	// just after the result Abort reads is in Redis
	waitFor(t, 5*time.Second, func() bool { return w.Stats().Ongoing == 0 })
	if st := w.Stats(); st.Failed != 1 || st.Ongoing != 0 {
		t.Errorf("stats %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A shutdown does not wait for a handler that ignores its context: the
// job is left queued to run again.
func TestShutdownBeatsAHandlerThatIgnoresItsContext(t *testing.T) {
	c, rdb, mr := setup(t)
	w, started, cancel, done := stubbornRun(t, c, rdb, worker.Settings{JobTimeout: time.Minute})
	<-started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run waited for the handler")
	}
	if mr.Exists("arq:result:s") || mr.Exists("arq:in-progress:s") || !mr.Exists("arq:job:s") {
		t.Error("the job was not left queued")
	}
	if st := w.Stats(); st.Retried != 1 || st.Ongoing != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Never more than MaxJobs at once, and every job runs exactly once.
// claimInFinish counts the pipelines that hold both a MULTI/EXEC and the
// claim script: finish writes that also claim the next jobs.
type claimInFinish struct{ n atomic.Int64 }

func (h *claimInFinish) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *claimInFinish) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *claimInFinish) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var exec, claim bool
		for _, c := range cmds {
			exec = exec || c.Name() == "exec"
			claim = claim || c.Name() == "evalsha"
		}
		if exec && claim {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

func TestConcurrencyLimitAndExactlyOnce(t *testing.T) {
	c, rdb, _ := setup(t)
	ctx := context.Background()
	var running, peak, runs atomic.Int64
	seen := make([]atomic.Int64, 60)
	f := worker.Func("f", func(ctx context.Context, i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		seen[i].Add(1)
		runs.Add(1)
		time.Sleep(5 * time.Millisecond)
		return nil
	})
	for i := range seen {
		if _, err := c.Enqueue(ctx, "f", i); err != nil {
			t.Fatal(err)
		}
	}
	piggyback := &claimInFinish{}
	rdb.AddHook(piggyback)
	workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{f}, MaxJobs: 4})
	if peak.Load() > 4 {
		t.Errorf("peak concurrency %d > MaxJobs 4", peak.Load())
	}
	// with the queue never empty, finish writes carry the next claim
	if piggyback.n.Load() == 0 {
		t.Error("no finish transaction carried a claim")
	}
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Errorf("job %d ran %d times", i, seen[i].Load())
		}
	}
}

// standaloneClaims counts claim scripts sent on their own, not riding on
// a finish transaction.
type standaloneClaims struct{ n atomic.Int64 }

func (h *standaloneClaims) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *standaloneClaims) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n == "evalsha" || n == "eval" {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *standaloneClaims) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// Finish transactions in flight together, each claiming the successors of
// its own jobs, never hold more than MaxJobs in-progress keys at any point
// of Redis's history, every job runs once, and while the queue stays full
// the claims ride on the finish writes instead of costing round trips of
// their own.
func TestClaimsInFlightStayWithinMaxJobs(t *testing.T) {
	c, rdb, mr := setup(t)
	ctx := context.Background()
	const jobs, maxJobs = 120, 3
	seen := make([]atomic.Int64, jobs)
	f := worker.Func("f", func(ctx context.Context, i int) {
		seen[i].Add(1)
		time.Sleep(time.Millisecond)
	})
	for i := range seen {
		if _, err := c.Enqueue(ctx, "f", i); err != nil {
			t.Fatal(err)
		}
	}
	// miniredis runs each MULTI/EXEC and script under one lock, so every
	// snapshot is a state between two of them
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := int64(0)
			for _, k := range mr.Keys() {
				if strings.HasPrefix(k, arqcompat.InProgressKeyPrefix) {
					n++
				}
			}
			if n > peak.Load() {
				peak.Store(n)
			}
			runtime.Gosched()
		}
	}()
	standalone := &standaloneClaims{}
	rdb.AddHook(standalone)
	workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{f}, MaxJobs: maxJobs})
	close(stop)
	<-sampled
	if peak.Load() > maxJobs {
		t.Errorf("%d in-progress keys at once, MaxJobs is %d", peak.Load(), maxJobs)
	}
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Errorf("job %d ran %d times", i, seen[i].Load())
		}
	}
	// the first claim, and those that find the queue's end
	if n := standalone.n.Load(); n > 10 {
		t.Errorf("%d claims of their own for %d jobs: finish writes did not carry them", n, jobs)
	}
}

func TestRetryThenMaxTries(t *testing.T) {
	c, rdb, mr := setup(t)
	ctx := context.Background()
	flaky := worker.Func("flaky", func(ctx context.Context) (int, error) {
		j, _ := worker.JobFromContext(ctx)
		if j.Try < 3 {
			return 0, worker.Retry(10 * time.Millisecond)
		}
		return j.Try, nil
	})
	never := worker.Func("never", func(ctx context.Context) error { return worker.Retry(0) }, worker.WithMaxTries(2))
	c.EnqueueRequest(ctx, client.Request{Function: "flaky", Options: client.EnqueueOptions{JobID: "flaky"}})
	c.EnqueueRequest(ctx, client.Request{Function: "never", Options: client.EnqueueOptions{JobID: "never"}})
	w := workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{flaky, never}})
	if v, err := result(t, c, "flaky"); err != nil || v != int64(3) {
		t.Errorf("flaky: %v %v", v, err)
	}
	_, err := result(t, c, "never")
	var exc *arqcompat.Exception
	if !errors.As(err, &exc) || exc.Message() != "max 2 retries exceeded" {
		t.Errorf("never: %v", err)
	}
	if mr.Exists("arq:retry:flaky") || mr.Exists("arq:job:flaky") || mr.Exists("arq:in-progress:flaky") {
		t.Error("keys left after success")
	}
	// flaky retries on tries 1 and 2; never on tries 1 and 2, then try 3 exceeds max 2
	if st := w.Stats(); st.Retried != 4 || st.Complete != 1 || st.Failed != 1 {
		t.Errorf("stats %+v", st)
	}
}

// waitsForCancel is a function that signals started once running, then
// waits for its context to end.
func waitsForCancel(name string) (worker.Function, chan struct{}) {
	started := make(chan struct{})
	return worker.Func(name, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}), started
}

// Cancelling Run leaves a running job queued, with its try counted, to run again.
func TestShutdownLeavesRunningJobQueued(t *testing.T) {
	c, rdb, mr := setup(t)
	slow, started := waitsForCancel("slow")
	c.EnqueueRequest(context.Background(), client.Request{Function: "slow", Options: client.EnqueueOptions{JobID: "slow"}})
	w, _ := worker.New(worker.Settings{Functions: []worker.Function{slow}, RedisClient: rdb, Logger: testutil.QuietLogger(), PollDelay: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if mr.Exists("arq:result:slow") || mr.Exists("arq:in-progress:slow") || !mr.Exists("arq:job:slow") {
		t.Error("the job was not left queued")
	}
	if n, _ := mr.Get("arq:retry:slow"); n != "1" {
		t.Errorf("retry counter %q", n)
	}
	if st := w.Stats(); st.Retried != 1 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

// NextRun agrees with arq's next_cron on vectors arq itself computed.
func TestNextRunMatchesArq(t *testing.T) {
	data, err := os.ReadFile("testdata/next_cron.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Schedule map[string]json.RawMessage
		Start    string
		Next     string
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	ints := func(raw json.RawMessage) []int {
		if string(raw) == "null" {
			return worker.EverySecond()
		}
		var one int
		if json.Unmarshal(raw, &one) == nil {
			return []int{one}
		}
		var many []int
		_ = json.Unmarshal(raw, &many)
		return many
	}
	for _, v := range vectors {
		var cj worker.CronJob
		for k, raw := range v.Schedule {
			switch k {
			case "month":
				cj.Month = ints(raw)
			case "day":
				cj.Day = ints(raw)
			case "weekday":
				cj.Weekday = ints(raw)
			case "hour":
				cj.Hour = ints(raw)
			case "minute":
				cj.Minute = ints(raw)
			case "second":
				cj.Second = ints(raw)
			case "microsecond":
				us := ints(raw)[0]
				cj.Microsecond = &us
			}
		}
		start, _ := time.Parse(time.RFC3339Nano, v.Start)
		want, _ := time.Parse(time.RFC3339Nano, v.Next)
		if got := cj.NextRun(start); !got.Equal(want) {
			t.Errorf("%v from %s: got %s, want %s", v.Schedule, v.Start, got.Format(time.RFC3339Nano), v.Next)
		}
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	if _, err := worker.New(worker.Settings{}); err == nil {
		t.Error("no functions accepted")
	}
	f := worker.Func("f", func(ctx context.Context) {})
	if _, err := worker.New(worker.Settings{Functions: []worker.Function{f, f}}); err == nil {
		t.Error("duplicate accepted")
	}
	bad := worker.Func("bad", func(a int) {}) // no panic: New reports it
	if _, err := worker.New(worker.Settings{Functions: []worker.Function{bad}}); !errors.Is(err, worker.ErrBadFunction) {
		t.Errorf("a function without a context: %v", err)
	}
}

// Three workers racing on one queue with the batch claim: every job runs
// exactly once and none is lost.
func TestWorkersRacingRunEachJobOnce(t *testing.T) {
	c, rdb, mr := setup(t)
	ctx := context.Background()
	const n = 600
	runs := make([]atomic.Int64, n)
	var reqs []client.Request
	for i := 0; i < n; i++ {
		reqs = append(reqs, client.Request{Function: "mark", Args: []any{i}})
	}
	if _, err := c.EnqueueMany(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	mark := worker.Func("mark", func(ctx context.Context, i int) error {
		runs[i].Add(1)
		return nil
	})
	total := raceBurstWorkers(t, ctx, worker.Settings{Functions: []worker.Function{mark}, RedisClient: rdb, MaxJobs: 7})
	if total != n {
		t.Errorf("%d jobs completed, want %d", total, n)
	}
	for i := range runs {
		if r := runs[i].Load(); r != 1 {
			t.Errorf("job %d ran %d times", i, r)
		}
	}
	if keys := mr.Keys(); len(keys) != n { // only the n results remain
		t.Errorf("%d keys left, want %d results", len(keys), n)
	}
}

// MaxBurstJobs stops a burst worker after that many jobs, as arq's
// max_burst_jobs; the rest stay queued.
func TestMaxBurstJobs(t *testing.T) {
	c, rdb, mr := setup(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := c.Enqueue(ctx, "f"); err != nil {
			t.Fatal(err)
		}
	}
	f := worker.Func("f", func(ctx context.Context) {})
	w := workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{f}, MaxBurstJobs: 4, MaxJobs: 2})
	if st := w.Stats(); st.Complete != 4 {
		t.Errorf("ran %d jobs, want 4", st.Complete)
	}
	if left, _ := mr.ZMembers("arq:queue"); len(left) != 6 {
		t.Errorf("%d jobs left queued, want 6", len(left))
	}
}

// awaitLog waits until the log holds s.
func awaitLog(t *testing.T, b *testutil.SyncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q:\n%s", s, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runLogged enqueues job "j" of fn and runs a worker for it in the
// background, logging into the returned buffer; cancel stops the worker,
// whose Run result arrives on done.
func runLogged(t *testing.T, c *client.Client, rdb redis.UniversalClient, fn worker.Function) (*testutil.SyncBuffer, context.CancelFunc, chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: fn.Name, Options: client.EnqueueOptions{JobID: "j"}}); err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	w, err := worker.New(worker.Settings{Functions: []worker.Function{fn}, RedisClient: rdb, PollDelay: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(cancel)
	return logs, cancel, done
}

// A job that finishes while Redis is unreachable keeps its outcome until
// Redis returns, then records it, and the log says so.
func TestOutcomeIsRecordedWhenRedisReturns(t *testing.T) {
	c, rdb, mr := setup(t)
	started, release := make(chan struct{}), make(chan struct{})
	slow := worker.Func("slow", func(ctx context.Context) (string, error) {
		close(started)
		<-release
		return "done", nil
	})
	logs, cancel, done := runLogged(t, c, rdb, slow)
	<-started
	mr.Close()
	close(release)
	awaitLog(t, logs, "retrying until the connection returns")
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	awaitLog(t, logs, "job j: outcome recorded after")
	if v, err := result(t, c, "j"); err != nil || v != "done" {
		t.Fatalf("result %v, %v", v, err)
	}
	if mr.Exists("arq:in-progress:j") || mr.Exists("arq:job:j") {
		t.Error("the finish transaction was not applied whole")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A worker stopped while Redis is unreachable gives up on a job's outcome
// after a grace period and leaves the job to run again: its in-progress
// key still guards it, and the job itself stays queued.
func TestOutcomeGivenUpAtShutdownLeavesTheJobQueued(t *testing.T) {
	c, rdb, mr := setup(t)
	slow, started := waitsForCancel("slow")
	logs, cancel, done := runLogged(t, c, rdb, slow)
	<-started
	mr.Close()
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	if !strings.Contains(logs.String(), "job j: recording the outcome failed after") ||
		!strings.Contains(logs.String(), "will run again after its in-progress key expires") {
		t.Fatalf("log:\n%s", logs)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	if !mr.Exists("arq:job:j") || !mr.Exists("arq:in-progress:j") || mr.Exists("arq:result:j") {
		t.Error("the job is not left to run again")
	}
	if s, err := mr.ZScore("arq:queue", "j"); err != nil || s == 0 {
		t.Errorf("queue score %v, %v", s, err)
	}
}

// A handler that panics fails its job, with the panic as the exception,
// and the worker goes on: for the plain func(ctx) shape and for one called
// through reflection.
func TestPanickingHandlerFailsItsJob(t *testing.T) {
	c, rdb, _ := setup(t)
	fns := []worker.Function{
		worker.Func("plain", func(ctx context.Context) { panic("plain boom") }),
		worker.Func("bound", func(ctx context.Context, n int) (int, error) { panic("bound boom " + strconv.Itoa(n)) }),
		worker.Func("fine", func(ctx context.Context) int { return 7 }),
	}
	for id, r := range map[string]client.Request{"p": {Function: "plain"}, "b": {Function: "bound", Args: []any{3}}, "f": {Function: "fine"}} {
		r.Options.JobID = id
		if _, err := c.EnqueueRequest(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	w := workertest.RunBurst(t, rdb, worker.Settings{Functions: fns})
	for id, want := range map[string]string{"p": "plain boom", "b": "bound boom 3"} {
		_, err := result(t, c, id)
		var exc *arqcompat.Exception
		if !errors.As(err, &exc) || !strings.Contains(exc.Message(), want) {
			t.Fatalf("job %s: got %v, want an exception saying %q", id, err, want)
		}
	}
	if v, err := result(t, c, "f"); err != nil || v != int64(7) {
		t.Fatalf("the job after the panics: %v, %v", v, err)
	}
	if st := w.Stats(); st.Failed != 2 || st.Complete != 1 {
		t.Errorf("stats %+v", st)
	}
}
