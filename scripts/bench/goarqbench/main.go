// Command goarqbench is the Go half of scripts/bench.sh: each subcommand
// measures one thing and prints one JSON object. scripts/bench/run.py runs
// it side by side with scripts/bench/arq_bench.py.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/worker"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goarqbench fill|drain|enqueue|latency|herd|rss|worker [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	redisURL := fs.String("redis", os.Getenv("REDIS_URL"), "Redis URL")
	n := fs.Int("n", 1000, "jobs")
	function := fs.String("function", "noop", "function to enqueue: noop, io_wait, sleep2")
	maxJobs := fs.Int("max-jobs", 10, "max jobs")
	pollDelay := fs.Duration("poll-delay", 500*time.Millisecond, "poll delay")
	mode := fs.String("mode", "single", "enqueue mode: single, concurrent, batch")
	gap := fs.Duration("gap", 20*time.Millisecond, "latency: time between jobs")
	idle := fs.Duration("idle", 2*time.Second, "latency: idle time measured for commands/s")
	workers := fs.Int("workers", 8, "herd: idle workers on the queue")
	noPush := fs.Bool("no-push", false, "workers poll (Settings.NoPushWakeup)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile to this file at the end")
	memRate := fs.Int("memprofilerate", 0, "runtime.MemProfileRate for -memprofile (0: Go's default, 1: every allocation)")
	memTrace := fs.Duration("memtrace", 0, "rss: print the heap, stacks and RSS to stderr at this interval (a diagnostic)")
	_ = fs.Parse(os.Args[2:])
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}

	ctx := context.Background()
	rs, err := client.ParseDSN(*redisURL)
	check(err)
	rdb, err := client.Connect(ctx, rs, nil)
	check(err)
	defer rdb.Close()
	c := client.New(rdb, client.Options{})
	var out map[string]any
	switch os.Args[1] {
	case "fill":
		out = fill(ctx, c, *n, *function)
	case "drain":
		out = drain(ctx, rdb, *n, *maxJobs, *pollDelay)
	case "enqueue":
		out = enqueue(ctx, c, *n, *mode)
	case "latency":
		out = latency(ctx, rdb, c, *n, *pollDelay, *gap, *idle)
	case "herd":
		out = herd(ctx, rdb, c, *n, *workers, *pollDelay, *gap, *noPush)
	case "worker":
		// a worker with the library's defaults (and -poll-delay), until
		// SIGTERM or SIGINT: what Python's arq_bench.py latency enqueues to
		sctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
		defer stop()
		w, err := worker.New(worker.Settings{Functions: functions(rdb), RedisClient: rdb, PollDelay: *pollDelay, Logger: quiet()})
		check(err)
		check(w.Run(sctx))
		return
	case "rss":
		peak := make(chan map[string]any, 1)
		go func() { // the breakdown while the jobs wait
			time.Sleep(time.Second)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			m := map[string]any{"heap_inuse_kb": ms.HeapInuse / 1024, "stack_inuse_kb": ms.StackInuse / 1024,
				"other_sys_kb": (ms.Sys - ms.HeapSys - ms.StackSys) / 1024, "goroutines": runtime.NumGoroutine()}
			if status, err := os.ReadFile("/proc/self/status"); err == nil {
				for _, line := range strings.Split(string(status), "\n") {
					for _, k := range []string{"RssAnon", "RssFile", "VmRSS"} {
						if v, ok := strings.CutPrefix(line, k+":"); ok {
							m[k] = strings.TrimSpace(v)
						}
					}
				}
			}
			peak <- m
		}()
		stopTrace := func() {}
		if *memTrace > 0 {
			stopTrace = traceMem(*memTrace)
		}
		if *memProfile != "" {
			go func() { // the live heap while the jobs wait
				time.Sleep(time.Second)
				f, err := os.Create(*memProfile + ".inuse")
				check(err)
				runtime.GC()
				check(pprof.Lookup("heap").WriteTo(f, 0))
				f.Close()
			}()
		}
		out = drain(ctx, rdb, *n, *maxJobs, *pollDelay)
		stopTrace()
		select {
		case out["while_waiting"] = <-peak:
		default:
		}
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		out["max_rss_kb"] = ru.Maxrss
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		out["heap_sys_kb"], out["stack_sys_kb"], out["sys_kb"], out["num_gc"] = ms.HeapSys/1024, ms.StackSys/1024, ms.Sys/1024, ms.NumGC
		if status, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, line := range strings.Split(string(status), "\n") {
				for _, k := range []string{"RssAnon", "RssFile", "VmHWM"} {
					if v, ok := strings.CutPrefix(line, k+":"); ok {
						out[k] = strings.TrimSpace(v)
					}
				}
			}
		}
	default:
		check(fmt.Errorf("unknown command %q", os.Args[1]))
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		check(err)
		runtime.GC() // the profile shows the allocations up to the last GC
		check(pprof.Lookup("allocs").WriteTo(f, 0))
		f.Close()
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// traceMem records, every interval, the heap in use, the stacks in use,
// the goroutines and the process's resident anonymous memory, and prints
// them to stderr when the returned function is called, to find where a
// peak comes from. It allocates nothing while it records.
func traceMem(interval time.Duration) (stop func()) {
	type sample struct {
		at                                    time.Duration
		heapInuse, heapAlloc, stackInuse, gcs uint64
		goroutines                            int
		anonKB                                int64
	}
	samples := make([]sample, 0, 2048)
	statm, err := os.Open("/proc/self/statm")
	check(err)
	buf := make([]byte, 128)
	start := time.Now()
	tick := time.NewTicker(interval)
	done, printed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(printed)
		var ms runtime.MemStats
		for {
			select {
			case <-tick.C:
			case <-done:
				tick.Stop()
				for _, s := range samples {
					fmt.Fprintf(os.Stderr, "memtrace %5dms heap_inuse %5d KB heap_alloc %5d KB stack_inuse %5d KB goroutines %4d gc %d rss_anon %d KB\n",
						s.at.Milliseconds(), s.heapInuse/1024, s.heapAlloc/1024, s.stackInuse/1024, s.goroutines, s.gcs, s.anonKB)
				}
				return
			}
			if len(samples) == cap(samples) {
				continue
			}
			runtime.ReadMemStats(&ms)
			n, _ := statm.ReadAt(buf, 0)
			var f [3]int64 // size, resident, shared (pages)
			for i, k := 0, 0; i < n && k < 3; i++ {
				switch c := buf[i]; {
				case c >= '0' && c <= '9':
					f[k] = f[k]*10 + int64(c-'0')
				case c == ' ':
					k++
				}
			}
			samples = append(samples, sample{time.Since(start), ms.HeapInuse, ms.HeapAlloc, ms.StackInuse, uint64(ms.NumGC),
				runtime.NumGoroutine(), (f[1] - f[2]) * int64(os.Getpagesize()) / 1024})
		}
	}()
	return func() { close(done); <-printed }
}

// check exits on error; it is not used after profiling starts except in
// ways that end the run anyway.

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "goarqbench:", err)
		os.Exit(1)
	}
}

// waits is a handler that waits d, as a job waiting on I/O would, or
// until its context ends.
func waits(d time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func functions(rdb redis.UniversalClient) []worker.Function {
	return []worker.Function{
		worker.Func("noop", func(ctx context.Context) {}),
		worker.Func("io_wait", waits(10*time.Millisecond)),
		worker.Func("sleep2", waits(2*time.Second)),
		worker.Func("started_at", func(ctx context.Context) float64 {
			return float64(time.Now().UnixNano()) / 1e9
		}),
	}
}

// quiet logs warnings and errors only: what a Python arq worker logs when
// logging is not configured (the root logger's WARNING level), as in the
// arq half of the benchmark.
func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// fill pre-enqueues jobs (not measured) with the batch API.
func fill(ctx context.Context, c *client.Client, n int, function string) map[string]any {
	for start := 0; start < n; start += 1000 {
		var reqs []client.Request
		for i := start; i < min(n, start+1000); i++ {
			reqs = append(reqs, client.Request{Function: function})
		}
		_, err := c.EnqueueMany(ctx, reqs)
		check(err)
	}
	return map[string]any{"filled": n}
}

func drain(ctx context.Context, rdb redis.UniversalClient, n, maxJobs int, poll time.Duration) map[string]any {
	w, err := worker.New(worker.Settings{Functions: functions(rdb), RedisClient: rdb, Burst: true, MaxJobs: maxJobs,
		PollDelay: poll, Logger: quiet()})
	check(err)
	start := time.Now()
	check(w.Run(ctx))
	secs := time.Since(start).Seconds()
	st := w.Stats()
	return map[string]any{"jobs": st.Complete, "failed": st.Failed, "seconds": secs, "jobs_per_s": float64(st.Complete) / secs}
}

func enqueue(ctx context.Context, c *client.Client, n int, mode string) map[string]any {
	start := time.Now()
	switch mode {
	case "single":
		for i := 0; i < n; i++ {
			_, err := c.Enqueue(ctx, "noop")
			check(err)
		}
	case "concurrent":
		var wg sync.WaitGroup
		per := n / 100
		for g := 0; g < 100; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					_, err := c.Enqueue(ctx, "noop")
					check(err)
				}
			}()
		}
		wg.Wait()
	case "batch":
		reqs := make([]client.Request, 0, 1000)
		for i := 0; i < n; i++ {
			reqs = append(reqs, client.Request{Function: "noop"})
			if len(reqs) == 1000 || i == n-1 {
				_, err := c.EnqueueMany(ctx, reqs)
				check(err)
				reqs = reqs[:0]
			}
		}
	default:
		check(fmt.Errorf("unknown mode %q", mode))
	}
	secs := time.Since(start).Seconds()
	return map[string]any{"jobs": n, "seconds": secs, "jobs_per_s": float64(n) / secs}
}

func totalCommands(ctx context.Context, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(ctx, "stats").Result()
	check(err)
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			var n int64
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}

// latency runs an idle worker, measures the Redis commands it costs per
// second, then enqueues jobs gap apart and measures enqueue-to-start.
func latency(ctx context.Context, rdb redis.UniversalClient, c *client.Client, n int, poll, gap, idle time.Duration) map[string]any {
	w, err := worker.New(worker.Settings{Functions: functions(rdb), RedisClient: rdb, PollDelay: poll, Logger: quiet()})
	check(err)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	time.Sleep(300 * time.Millisecond) // start-up commands are not idle cost
	before := totalCommands(ctx, rdb)
	time.Sleep(idle)
	idleCmds := float64(totalCommands(ctx, rdb)-before-1) / idle.Seconds()

	// enqueue on a schedule, not after each result: arrivals then fall at
	// every phase of the worker's poll cycle, as in production; the jitter
	// keeps them from locking to a poll period
	type sent struct {
		job *client.Job
		t0  time.Time
	}
	jobs := make([]sent, 0, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		jitter := time.Duration((rand.Float64() - 0.5) * float64(gap) / 2)
		time.Sleep(time.Until(start.Add(time.Duration(i)*gap + jitter)))
		t0 := time.Now()
		job, err := c.Enqueue(ctx, "started_at")
		check(err)
		jobs = append(jobs, sent{job, t0})
	}
	var lat []float64
	for _, s := range jobs {
		v, err := s.job.Result(ctx, client.ResultOptions{PollDelay: 10 * time.Millisecond})
		check(err)
		lat = append(lat, (v.(float64)-float64(s.t0.UnixNano())/1e9)*1000)
	}
	// deferred jobs: start minus the time they were due; and Job.Result at
	// its default poll delay: its return minus the job's end (the job
	// returns its own clock, and ends right after)
	var late, res []float64
	for i := 0; i < min(n, 30); i++ {
		due := time.Now().Add(30 * time.Millisecond)
		job, err := c.EnqueueRequest(ctx, client.Request{Function: "started_at", Options: client.EnqueueOptions{DeferUntil: due}})
		check(err)
		v, err := job.Result(ctx, client.ResultOptions{})
		check(err)
		back := float64(time.Now().UnixNano()) / 1e9
		dueMS := float64(due.UnixMilli()) / 1e3 // scores are whole ms
		late = append(late, (v.(float64)-dueMS)*1000)
		res = append(res, (back-v.(float64))*1000)
	}
	cancel()
	check(<-done)
	sort.Float64s(lat)
	sort.Float64s(late)
	sort.Float64s(res)
	pct := func(xs []float64, p float64) float64 { return xs[min(len(xs)-1, int(p*float64(len(xs))))] }
	return map[string]any{"p50_ms": pct(lat, 0.50), "p95_ms": pct(lat, 0.95), "p99_ms": pct(lat, 0.99), "idle_cmds_per_s": idleCmds,
		"deferred_late_p50_ms": pct(late, 0.5), "result_wake_p50_ms": pct(res, 0.5)}
}

// redisCPU is redis-server's CPU time so far, in µs.
func redisCPU(ctx context.Context, rdb redis.UniversalClient) float64 {
	info, err := rdb.Info(ctx, "cpu").Result()
	check(err)
	var total float64
	for _, line := range strings.Split(info, "\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), k); ok {
				var f float64
				fmt.Sscan(v, &f)
				total += f
			}
		}
	}
	return total * 1e6
}

// herd runs idle workers on one queue and enqueues n no-op jobs gap apart
// (a trickle): Redis CPU and commands per processed job show what each
// enqueue costs when every idle worker is woken by it.
func herd(ctx context.Context, rdb redis.UniversalClient, c *client.Client, n, workers int, poll, gap time.Duration, noPush bool) map[string]any {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	ws := make([]*worker.Worker, workers)
	for i := range ws {
		w, err := worker.New(worker.Settings{Functions: functions(rdb), RedisClient: rdb, PollDelay: poll, Logger: quiet(), NoPushWakeup: noPush})
		check(err)
		ws[i] = w
		wg.Add(1)
		go func() { defer wg.Done(); check(w.Run(wctx)) }()
	}
	time.Sleep(500 * time.Millisecond)
	c0, u0 := totalCommands(ctx, rdb), redisCPU(ctx, rdb)
	start := time.Now()
	for i := 0; i < n; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * gap)))
		_, err := c.Enqueue(ctx, "noop")
		check(err)
	}
	done := func() int {
		total := 0
		for _, w := range ws {
			total += w.Stats().Complete
		}
		return total
	}
	for done() < n {
		time.Sleep(time.Millisecond)
	}
	c1, u1 := totalCommands(ctx, rdb), redisCPU(ctx, rdb)
	secs := time.Since(start).Seconds()
	cancel()
	wg.Wait()
	return map[string]any{"workers": workers, "jobs": n, "seconds": secs, "redis_cmds_per_job": float64(c1-c0) / float64(n),
		"redis_cpu_us_per_job": (u1 - u0) / float64(n)}
}
