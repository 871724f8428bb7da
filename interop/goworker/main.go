// Command goworker is the interop suite's Go worker: a goarq worker with a
// fixed set of functions, configured by flags. Its functions and flags are a
// contract the Python tests rely on:
//
//	noop()                        -> None
//	add(a, b)                     -> a + b
//	echo(*args, **kwargs)         -> (args, kwargs), values unchanged
//	sleep(seconds)                -> seconds, after sleeping (stops early when cancelled)
//	fail(message)                 -> raises; str() of Python's exception is message
//	fail_as(module, name, message)-> raises that Python exception class
//	retry(times, defer_seconds)   -> retries while job_try <= times, then returns job_try
//	job_info()                    -> {'job_id', 'job_try', 'enqueue_time', 'score'}
//	count(key)                    -> INCR key and return the new value
//	panic(message)                -> panics
//	typed(n int, s string)        -> [n, s]; a job with other types fails with TypeError
//	work(key, seconds)            -> INCR key, then sleep; returns the count (counts re-runs);
//	                                 retries in 0.2 s when the INCR fails (Redis away)
//	later(when, seconds)          -> when + seconds; a when bound to time.Time (naive stays naive)
//	person(name str, age int)     -> [name, age]; one struct parameter, bound from kwargs
//	resize_image(path, width=640) -> "<path>@<width>w"
//	label(address)                -> "street, zip city"; address is interop.contractapp.models.Address
//	value_in, value_json, value_out, value_repr, process_order, process_order_ptr, order_needs,
//	send_email, when               -> interop/test_values.py's functions (values.go)
//
// --functions NAME,... registers only those of them; --only-own-functions
// sets Settings.OnlyOwnFunctions; --max-concurrency NAME=N,... sets
// worker.WithMaxConcurrency limits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/arqprom"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/worker"
)

func main() {
	redisURL := flag.String("redis", os.Getenv("REDIS_URL"), "Redis URL")
	queue := flag.String("queue", arqcompat.DefaultQueueName, "queue name")
	serName := flag.String("serializer", "pickle", "pickle, json or msgpack")
	maxJobs := flag.Int("max-jobs", 10, "max concurrent jobs")
	jobTimeout := flag.Duration("job-timeout", 300*time.Second, "job timeout")
	maxTries := flag.Int("max-tries", 5, "max tries")
	keepResult := flag.Duration("keep-result", time.Hour, "keep results for (0: none)")
	pollDelay := flag.Duration("poll-delay", 500*time.Millisecond, "poll delay")
	burst := flag.Bool("burst", false, "stop when the queue is empty")
	maxBurstJobs := flag.Int("max-burst-jobs", 0, "in burst mode, stop after this many jobs (0: no limit)")
	allowAbort := flag.Bool("allow-abort", false, "allow aborting jobs")
	health := flag.Duration("health-check-interval", time.Hour, "health check interval")
	completionWait := flag.Duration("job-completion-wait", 0, "let jobs finish this long after a signal")
	cronCount := flag.String("cron-count", "", "run a unique cron job 'cron:count' every second that INCRs <this>:<job id>")
	sentinels := flag.String("sentinel", "", "comma-separated sentinel addresses: find the master through Sentinel (the URL gives db and password)")
	sentinelMaster := flag.String("sentinel-master", "mymaster", "the master's name in Sentinel")
	noPush := flag.Bool("no-push", false, "poll every --poll-delay instead of waking on writes to the queue (Settings.NoPushWakeup)")
	debugAddr := flag.String("debug-addr", "", "serve net/http/pprof on this address (for the goroutine count)")
	metricsAddr := flag.String("metrics-addr", "", "serve the worker's Prometheus metrics at /metrics on this address")
	retryJobs := flag.Bool("retry-jobs", true, "arq's retry_jobs (false: Retry and cancellation fail the job)")
	only := flag.String("functions", "", "register only these of the fixture's functions (comma-separated names)")
	onlyOwn := flag.Bool("only-own-functions", false, "claim only jobs of registered functions (Settings.OnlyOwnFunctions)")
	limits := flag.String("max-concurrency", "", "per-function limits, NAME=N,... (worker.WithMaxConcurrency)")
	dumpContract := flag.String("dump-contract", "", "write the worker's contract (worker.Contract) to this file (- for stdout) and exit, without connecting")
	directURL := flag.String("direct-redis", "", "Redis URL for the tracked function's own bookkeeping (default: --redis)")
	flag.Parse()

	log := slog.New(worker.NewArqLogHandler(os.Stderr, slog.LevelInfo))
	ser, err := arqcompat.SerializerByName(*serName)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *dumpContract != "" {
		os.Exit(dumpWorkerContract(*dumpContract, *queue, ser, *only, *cronCount))
	}
	rs, err := client.ParseDSN(*redisURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *sentinels != "" {
		rs.Sentinel, rs.SentinelAddrs, rs.SentinelMaster = true, strings.Split(*sentinels, ","), *sentinelMaster
	}
	if *debugAddr != "" {
		ln, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		go http.Serve(ln, nil) //nolint:errcheck // ends with the process
	}
	var observer worker.Observer
	if *metricsAddr != "" {
		reg := prometheus.NewRegistry()
		obs, err := arqprom.NewWorkerObserver(reg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		observer = obs
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		go http.Serve(ln, mux) //nolint:errcheck // ends with the process
	}
	ctx := context.Background()
	rdb, err := client.Connect(ctx, rs, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// a 0 given on the command line is arq's literal 0, as in a WorkerSettings
	keep := literal(*keepResult)
	timeout, tries, healthEvery := literal(*jobTimeout), literal(*maxTries), literal(*health)
	direct := rdb
	if *directURL != "" {
		ds, err := client.ParseDSN(*directURL)
		if err == nil {
			direct, err = client.Connect(ctx, ds, log)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	funcs, err := selectFunctions(append(functions(rdb, direct), valueFunctions()...), *only, *limits)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s := worker.Settings{
		Functions: funcs, OnlyOwnFunctions: *onlyOwn, QueueName: *queue, RedisClient: rdb, Serializer: ser,
		MaxJobs: *maxJobs, JobTimeout: timeout, MaxTries: tries, KeepResult: keep, PollDelay: *pollDelay, NoRetryJobs: !*retryJobs,
		Burst: *burst, MaxBurstJobs: *maxBurstJobs, AllowAbortJobs: *allowAbort, HealthCheckInterval: healthEvery, JobCompletionWait: *completionWait,
		HandleSignals: true, Logger: log, NoPushWakeup: *noPush, Observer: observer,
	}
	if *cronCount != "" {
		key := *cronCount
		s.CronJobs = []worker.CronJob{{Name: "cron:count", Second: worker.EverySecond(),
			Handler: worker.Func("", func(ctx context.Context) error {
				j, _ := worker.JobFromContext(ctx)
				return rdb.Incr(ctx, key+":"+j.ID).Err()
			})}}
	}
	w, err := worker.New(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// literal maps a flag's 0 to worker.Zero, arq's literal 0.
func literal[T int | time.Duration](v T) T {
	if v == 0 {
		return worker.Zero
	}
	return v
}

// selectFunctions keeps the functions named in only (all when empty) and
// sets the limits given as NAME=N,...
func selectFunctions(all []worker.Function, only, limits string) ([]worker.Function, error) {
	byName := map[string]worker.Function{}
	for _, f := range all {
		byName[f.Name] = f
	}
	out := all
	if only != "" {
		out = nil
		for _, name := range strings.Split(only, ",") {
			f, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("--functions: no function %q in the fixture", name)
			}
			out = append(out, f)
		}
	}
	if limits != "" {
		for _, kv := range strings.Split(limits, ",") {
			name, n, ok := strings.Cut(kv, "=")
			v, err := strconv.Atoi(n)
			if !ok || err != nil || v <= 0 {
				return nil, fmt.Errorf("--max-concurrency: want NAME=N, got %q", kv)
			}
			found := false
			for i := range out {
				if out[i].Name == name {
					out[i].MaxConcurrency, found = v, true
				}
			}
			if !found {
				return nil, fmt.Errorf("--max-concurrency: no registered function %q", name)
			}
		}
	}
	return out, nil
}

func functions(rdb, direct redis.UniversalClient) []worker.Function {
	return []worker.Function{
		worker.Func("noop", func(ctx context.Context) {}),
		worker.Func("add", func(ctx context.Context, a, b any) (any, error) { return pyAdd(a, b) }, worker.WithParams("a", "b")),
		worker.Raw("echo", func(ctx context.Context, j *worker.Job) (any, error) {
			return arqcompat.Tuple{arqcompat.Tuple(j.Args), j.Kwargs}, nil
		}),
		worker.Func("sleep", func(ctx context.Context, seconds any) (any, error) {
			var d time.Duration
			switch x := seconds.(type) {
			case int64:
				d = time.Duration(x) * time.Second
			case float64:
				d = time.Duration(x * float64(time.Second))
			default:
				return nil, worker.PythonError("builtins", "TypeError",
					fmt.Sprintf("'<' not supported between instances of '%s' and 'int'", arqcompat.PyTypeName(seconds)))
			}
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return seconds, nil // unchanged, as asyncio.sleep's caller returns it
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}, worker.WithParams("seconds")),
		worker.Func("fail", func(ctx context.Context, message string) error {
			return errors.New(message)
		}, worker.WithParams("message")),
		worker.Func("fail_as", func(ctx context.Context, module, name, message string) error {
			return worker.PythonError(module, name, message)
		}, worker.WithParams("module", "name", "message")),
		worker.Func("retry", func(ctx context.Context, times int, deferSeconds float64) (int, error) {
			j, _ := worker.JobFromContext(ctx)
			if j.Try <= times {
				return 0, worker.Retry(time.Duration(deferSeconds * float64(time.Second)))
			}
			return j.Try, nil
		}, worker.WithParams("times", "defer_seconds")),
		worker.Func("job_info", func(ctx context.Context) (*arqcompat.Dict, error) {
			j, _ := worker.JobFromContext(ctx)
			return arqcompat.NewDict("job_id", j.ID, "job_try", int64(j.Try), "enqueue_time", j.EnqueueTime, "score", j.Score), nil
		}),
		worker.Func("count", func(ctx context.Context, key string) (int64, error) {
			return rdb.Incr(ctx, key).Result()
		}, worker.WithParams("key")),
		worker.Func("panic", func(ctx context.Context, message string) error { panic(message) }, worker.WithParams("message")),
		worker.Func("typed", func(ctx context.Context, n int, s string) ([]any, error) { return []any{n, s}, nil },
			worker.WithParams("n", "s")),
		worker.Func("later", func(ctx context.Context, when time.Time, seconds float64) time.Time {
			return when.Add(time.Duration(seconds * float64(time.Second)))
		}, worker.WithParams("when", "seconds")),
		worker.Func("person", func(ctx context.Context, p struct {
			Name string `arq:"name"`
			Age  int    `arq:"age"`
		}) []any {
			return []any{p.Name, p.Age}
		}),
		worker.Func("resize_image", func(ctx context.Context, path string, width int) string {
			return fmt.Sprintf("%s@%dw", path, width)
		}, worker.WithParams("path", "width"), worker.WithDefaults(640)),
		worker.Func("label", func(ctx context.Context, a address) string {
			return fmt.Sprintf("%s, %s %s", a.Street, a.ZipCode, a.City)
		}, worker.WithParams("address")),
		// tracked counts what a fault test checks: runs that start while
		// another run of the same job is still going (<key>:overlaps),
		// successful runs per job (<key>:ok:<id>), and for a job retried
		// once with defer_seconds (none when negative), when its first run ended (<key>:end:<id>,
		// ms) and the score its next run got (<key>:score:<id>). Its
		// own commands go to Redis directly (--direct-redis), not through
		// a proxy in front of the worker.
		worker.Func("tracked", func(ctx context.Context, key string, deferSeconds, seconds float64) (int64, error) {
			j, _ := worker.JobFromContext(ctx)
			running := key + ":running:" + j.ID
			if ok, err := direct.SetNX(ctx, running, 1, time.Minute).Result(); err != nil {
				return 0, err
			} else if !ok {
				direct.Incr(ctx, key+":overlaps")
			}
			select {
			case <-time.After(time.Duration(seconds * float64(time.Second))):
			case <-ctx.Done():
				direct.Del(ctx, running)
				return 0, ctx.Err()
			}
			direct.Del(ctx, running)
			// the first run to end retries (not try 1: a claim whose reply
			// was lost counted a try)
			if deferSeconds >= 0 && direct.SetNX(ctx, key+":end:"+j.ID, time.Now().UnixMilli(), time.Hour).Val() {
				return 0, worker.Retry(time.Duration(deferSeconds * float64(time.Second)))
			}
			if deferSeconds >= 0 {
				direct.Set(ctx, key+":score:"+j.ID, j.Score, time.Hour)
			}
			direct.Incr(ctx, key+":ok:"+j.ID)
			return int64(j.Try), nil
		}, worker.WithParams("key", "defer_seconds", "seconds")),
		worker.Func("work", func(ctx context.Context, key string, seconds float64) (int64, error) {
			n, err := rdb.Incr(ctx, key).Result()
			if err != nil {
				// Redis is away (restart, failover, cut connection): run again soon
				return 0, worker.Retry(200 * time.Millisecond)
			}
			select {
			case <-time.After(time.Duration(seconds * float64(time.Second))):
				return n, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}, worker.WithParams("key", "seconds")),
	}
}

// address is the dataclass interop.contractapp.models.Address, which
// label takes.
type address struct {
	Street  string `arq:"street"`
	City    string `arq:"city"`
	ZipCode string `arq:"zip_code"`
}

// PythonClass maps address to its dataclass.
func (address) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: "interop.contractapp.models", Name: "Address", Kind: arqcompat.Dataclass}
}

// pyAdd adds two Python numbers or concatenates two strings or lists.
func pyAdd(a, b any) (any, error) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return x + y, nil
		case float64:
			return float64(x) + y, nil
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return x + float64(y), nil
		case float64:
			return x + y, nil
		}
	case string:
		if y, ok := b.(string); ok {
			return x + y, nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			return append(append([]any{}, x...), y...), nil
		}
	}
	return nil, worker.PythonError("builtins", "TypeError",
		fmt.Sprintf("unsupported operand type(s) for +: '%s' and '%s'", arqcompat.PyTypeName(a), arqcompat.PyTypeName(b)))
}

// dumpWorkerContract writes the contract of the fixture's functions (the
// selection --functions makes) and exits; it connects to nothing.
func dumpWorkerContract(path, queue string, ser arqcompat.Serializer, only, cronCount string) int {
	funcs, err := selectFunctions(append(functions(nil, nil), valueFunctions()...), only, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s := worker.Settings{Functions: funcs, QueueName: queue, Serializer: ser}
	if cronCount != "" {
		s.CronJobs = []worker.CronJob{{Name: "cron:count", Second: worker.EverySecond(),
			Handler: worker.Func("", func(ctx context.Context) error { return nil })}}
	}
	c, err := worker.Contract(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := os.Stdout
	if path != "-" {
		if out, err = os.Create(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := c.Write(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := out.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
