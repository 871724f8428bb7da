// Command dashbench measures the dashboard and the exporter at scale: it
// fills a throwaway Redis with -jobs queued jobs and -results kept results
// (pickle, as Python arq writes them), starts `goarq dashboard` and
// `goarq exporter --cache-ttl 0`, times every page and the scrape (p50/p95
// over -n requests each) and reads the dashboard's peak RSS. Run it with
// scripts/dashboard_bench.sh; it flushes the database it is given.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

func main() {
	redisURL := flag.String("redis", os.Getenv("REDIS_URL"), "throwaway Redis (flushed)")
	goarq := flag.String("goarq", "goarq", "the goarq binary")
	nJobs := flag.Int("jobs", 100_000, "queued jobs")
	nResults := flag.Int("results", 100_000, "kept results")
	n := flag.Int("n", 40, "requests per page")
	flag.Parse()
	ctx := context.Background()
	opt, err := redis.ParseURL(*redisURL)
	check(err)
	rdb := redis.NewClient(opt)
	check(rdb.FlushDB(ctx).Err())

	t0 := time.Now()
	fill(ctx, rdb, *nJobs, *nResults)
	fmt.Printf("filled %d queued jobs and %d results in %s; redis used_memory %s\n", *nJobs, *nResults,
		time.Since(t0).Round(time.Millisecond), infoField(ctx, rdb, "used_memory_human"))

	dash, dashURL := start(*goarq, *redisURL, "dashboard", "5s")
	defer dash.Process.Kill()
	exp, expURL := start(*goarq, *redisURL, "exporter", "0")
	defer exp.Process.Kill()

	// the first request builds the results index
	t1 := time.Now()
	get(dashURL + "/metrics")
	fmt.Printf("first index of the results (cold, inside the first /metrics): %s\n", time.Since(t1).Round(time.Millisecond))

	pages := []string{"/", "/jobs", "/jobs?offset=50000", "/jobs?function=fn3", "/jobs?id=job-00042",
		"/results", "/results?offset=90000", "/results?success=failed&exception=ValueError", "/results?function=fn7",
		"/job/res-000042", "/job/job-00042", "/metrics"}
	fmt.Printf("\n%-48s %8s %8s %8s\n", "page (cache TTL 5 s)", "p50", "p95", "max")
	for _, p := range pages {
		report(p, time.Now(), times(dashURL+p, *n))
	}
	fmt.Printf("\n%-48s %8s %8s %8s\n", "exporter, --cache-ttl 0 (SCAN every scrape)", "p50", "p95", "max")
	report("/metrics", time.Now(), times(expURL+"/metrics", 10))
	fmt.Printf("\ndashboard process: %s\n", memory(dash.Process.Pid))
	fmt.Printf("exporter process:  %s\n", memory(exp.Process.Pid))
}

func fill(ctx context.Context, rdb *redis.Client, nJobs, nResults int) {
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	now := arqcompat.TimestampMS(time.Now())
	p := rdb.Pipeline()
	flush := func() { _, err := p.Exec(ctx); check(err) }
	for i := range nJobs {
		id := fmt.Sprintf("job-%05d", i)
		rec := arqcompat.JobRecord{Function: fmt.Sprintf("fn%d", i%10), Args: []any{int64(i), "some argument text"},
			Kwargs: arqcompat.NewDict("user_id", int64(i*7), "flag", true), EnqueueTimeMS: now - int64(nJobs-i)}
		data, err := arqcompat.EncodeJob(ser, rec)
		check(err)
		score := rec.EnqueueTimeMS
		if i%5 == 0 {
			score = now + int64(i)*1000 // deferred
		}
		p.Set(ctx, arqcompat.JobKey(id), data, 0)
		p.ZAdd(ctx, arqcompat.DefaultQueueName, redis.Z{Score: float64(score), Member: id})
		if i%1000 == 999 {
			flush()
		}
	}
	for i := range nResults {
		id := fmt.Sprintf("res-%06d", i)
		finish := now - int64(i)*36 // spread over the last hour
		r := arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: fmt.Sprintf("fn%d", i%10), Args: []any{int64(i)},
			Kwargs: arqcompat.NewDict(), JobTry: 1, EnqueueTimeMS: finish - 500}, Success: i%10 != 3, StartMS: finish - int64(i%200),
			FinishMS: finish, Queue: arqcompat.DefaultQueueName, JobID: id, Result: int64(i)}
		if !r.Success {
			r.Result = arqcompat.NewException("builtins", "ValueError", "bad input "+id)
		}
		data, err := arqcompat.EncodeResult(ser, r)
		check(err)
		p.Set(ctx, arqcompat.ResultKey(id), data, time.Hour)
		if i%1000 == 999 {
			flush()
		}
	}
	flush()
	p.Set(ctx, arqcompat.HealthCheckKey(arqcompat.DefaultQueueName), time.Now().Format("Jan-02 15:04:05")+" j_complete=100000 j_failed=10000 j_retried=0 j_ongoing=3 queued=100000", time.Hour)
	flush()
}

func start(bin, redisURL, cmd, ttl string) (*exec.Cmd, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	addr := ln.Addr().String()
	ln.Close()
	c := exec.Command(bin, "--redis", redisURL, cmd, "--addr", addr, "--cache-ttl", ttl)
	out, err := c.StdoutPipe()
	check(err)
	c.Stderr = os.Stderr
	check(c.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	check(err)
	if !strings.Contains(line, "listening") {
		check(fmt.Errorf("%s: %s", cmd, line))
	}
	go io.Copy(io.Discard, out) //nolint:errcheck
	return c, "http://" + addr
}

func get(url string) time.Duration {
	t := time.Now()
	resp, err := http.Get(url)
	check(err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		check(fmt.Errorf("%s: %s", url, resp.Status))
	}
	return time.Since(t)
}

func times(url string, n int) []time.Duration {
	get(url) // warm
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = get(url)
	}
	slices.Sort(out)
	return out
}

func report(name string, _ time.Time, d []time.Duration) {
	q := func(f float64) string { return d[int(f*float64(len(d)-1)+0.5)].Round(100 * time.Microsecond).String() }
	fmt.Printf("%-48s %8s %8s %8s\n", name, q(0.5), q(0.95), d[len(d)-1].Round(100*time.Microsecond))
}

func memory(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "VmRSS") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, ", ")
}

func infoField(ctx context.Context, rdb *redis.Client, name string) string {
	info, _ := rdb.Info(ctx, "memory").Result()
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+":"); ok {
			return v
		}
	}
	return "?"
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "dashbench:", err)
		os.Exit(1)
	}
}
