// Command asynqbench is the asynq column of scripts/bench.sh: the same
// figures as goarqbench, measured on hibiken/asynq, the Go task queue most
// Go teams would pick instead. Each subcommand prints one JSON object. It
// is its own module so that goarq's go.mod does not depend on asynq.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: asynqbench fill|drain|enqueue|latency|rss [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	redisURL := fs.String("redis", os.Getenv("REDIS_URL"), "Redis URL")
	n := fs.Int("n", 1000, "tasks")
	function := fs.String("function", "noop", "task type to enqueue: noop, io_wait, sleep2")
	concurrency := fs.Int("max-jobs", 10, "server concurrency")
	check_ := fs.Duration("poll-delay", 0, "TaskCheckInterval (0: asynq's default, 1 s)")
	mode := fs.String("mode", "single", "enqueue mode: single, concurrent")
	gap := fs.Duration("gap", 20*time.Millisecond, "latency: time between tasks")
	idle := fs.Duration("idle", 2*time.Second, "latency: idle time measured for commands/s")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	_ = fs.Parse(os.Args[2:])
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}

	opt, err := asynq.ParseRedisURI(*redisURL)
	check(err)
	ropt := opt.(asynq.RedisClientOpt)
	rdb := redis.NewClient(&redis.Options{Addr: ropt.Addr, DB: ropt.DB, Password: ropt.Password})
	defer rdb.Close()
	var out map[string]any
	switch os.Args[1] {
	case "fill":
		c := asynq.NewClientFromRedisClient(rdb)
		for i := 0; i < *n; i++ {
			_, err := c.Enqueue(asynq.NewTask(*function, nil))
			check(err)
		}
		out = map[string]any{"filled": *n}
	case "drain":
		out = drain(rdb, *n, *concurrency, *check_)
	case "enqueue":
		out = enqueue(rdb, *n, *mode)
	case "latency":
		out = latency(rdb, *n, *check_, *gap, *idle)
	case "rss":
		out = drain(rdb, *n, *concurrency, *check_)
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
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "asynqbench:", err)
		os.Exit(1)
	}
}

// quiet: asynq logs at WARN and above, as the other two halves.
type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(args ...any) {
	slog.New(slog.NewTextHandler(os.Stderr, nil)).Warn(fmt.Sprint(args...))
}
func (quietLogger) Error(args ...any) {
	slog.New(slog.NewTextHandler(os.Stderr, nil)).Error(fmt.Sprint(args...))
}
func (quietLogger) Fatal(args ...any) { check(fmt.Errorf("%s", fmt.Sprint(args...))) }

func waits(d time.Duration) func(context.Context) {
	return func(ctx context.Context) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
}

// server runs an asynq server whose handlers call done after each task.
func server(rdb *redis.Client, concurrency int, checkEvery time.Duration, done func(*asynq.Task)) *asynq.Server {
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: concurrency, TaskCheckInterval: checkEvery,
		Logger: quietLogger{}, LogLevel: asynq.WarnLevel})
	mux := asynq.NewServeMux()
	handle := func(f func(context.Context)) asynq.HandlerFunc {
		return func(ctx context.Context, t *asynq.Task) error {
			f(ctx)
			done(t)
			return nil
		}
	}
	mux.Handle("noop", handle(func(context.Context) {}))
	mux.Handle("io_wait", handle(waits(10*time.Millisecond)))
	mux.Handle("sleep2", handle(waits(2*time.Second)))
	mux.Handle("started_at", handle(func(context.Context) {}))
	check(srv.Start(mux))
	return srv
}

// drain processes n pre-filled tasks and stops: asynq has no burst mode,
// so the run ends at the n-th completion.
func drain(rdb *redis.Client, n, concurrency int, checkEvery time.Duration) map[string]any {
	var count atomic.Int64
	all := make(chan struct{})
	start := time.Now()
	srv := server(rdb, concurrency, checkEvery, func(*asynq.Task) {
		if count.Add(1) == int64(n) {
			close(all)
		}
	})
	<-all
	secs := time.Since(start).Seconds()
	srv.Shutdown()
	return map[string]any{"jobs": n, "failed": 0, "seconds": secs, "jobs_per_s": float64(n) / secs}
}

func enqueue(rdb *redis.Client, n int, mode string) map[string]any {
	c := asynq.NewClientFromRedisClient(rdb)
	start := time.Now()
	switch mode {
	case "single":
		for i := 0; i < n; i++ {
			_, err := c.Enqueue(asynq.NewTask("noop", nil))
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
					_, err := c.Enqueue(asynq.NewTask("noop", nil))
					check(err)
				}
			}()
		}
		wg.Wait()
	default:
		check(fmt.Errorf("unknown mode %q", mode))
	}
	secs := time.Since(start).Seconds()
	return map[string]any{"jobs": n, "seconds": secs, "jobs_per_s": float64(n) / secs}
}

func totalCommands(rdb *redis.Client) int64 {
	info, err := rdb.Info(context.Background(), "stats").Result()
	check(err)
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// latency: an idle server's Redis commands per second, then tasks enqueued
// gap apart carrying their enqueue time, and enqueue-to-start per task.
func latency(rdb *redis.Client, n int, checkEvery, gap, idle time.Duration) map[string]any {
	var mu sync.Mutex
	var lat []float64
	got := make(chan struct{}, n)
	srv := server(rdb, 10, checkEvery, func(t *asynq.Task) {
		now := time.Now().UnixNano()
		t0, _ := strconv.ParseInt(string(t.Payload()), 10, 64)
		mu.Lock()
		lat = append(lat, float64(now-t0)/1e6)
		mu.Unlock()
		got <- struct{}{}
	})
	defer srv.Shutdown()
	time.Sleep(300 * time.Millisecond)
	before := totalCommands(rdb)
	time.Sleep(idle)
	idleCmds := float64(totalCommands(rdb)-before-1) / idle.Seconds()
	c := asynq.NewClientFromRedisClient(rdb)
	start := time.Now()
	for i := 0; i < n; i++ {
		jitter := time.Duration((rand.Float64() - 0.5) * float64(gap) / 2)
		time.Sleep(time.Until(start.Add(time.Duration(i)*gap + jitter)))
		_, err := c.Enqueue(asynq.NewTask("started_at", []byte(strconv.FormatInt(time.Now().UnixNano(), 10))))
		check(err)
	}
	for i := 0; i < n; i++ {
		<-got
	}
	sort.Float64s(lat)
	pct := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return map[string]any{"p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "idle_cmds_per_s": idleCmds}
}
