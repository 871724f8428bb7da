// Command historybench measures goarq's job history at scale (see
// scripts/history_bench.sh): the drain of a Go worker with and without
// `goarq recorder` running beside it (alternating runs, so the ratio is
// measured side by side), the recorder's ingest rate, Redis commands per
// recorded result and peak RSS, then the p95 of every history query over
// 1,000,000 SQLite rows. Not part of the test suite.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/postgres"
	"github.com/goarq/goarq/history/sqlite"
	"github.com/goarq/goarq/internal/arqredis"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/scripts/internal/procstat"
	"github.com/goarq/goarq/worker"
)

func main() {
	redisURL := flag.String("redis", "", "Redis URL (a throwaway server: it is flushed)")
	goarqBin := flag.String("goarq", "", "the goarq binary")
	jobs := flag.Int("jobs", 50_000, "jobs per drain")
	rounds := flag.Int("rounds", 2, "drains with and without the recorder, alternating")
	rows := flag.Int("rows", 1_000_000, "history rows for the query benchmark (0: skip)")
	reps := flag.Int("reps", 40, "runs of each query")
	recArgs := flag.String("recorder-args", "", "more flags for goarq recorder (e.g. \"--max-rate 0\")")
	trackRounds := flag.Int("tracking-rounds", 0, "drains with and without client tracking alone on the result keys (what a recorder that never yields pays however little it reads)")
	pg := flag.String("postgres", "", "a throwaway PostgreSQL (postgres://…; its public schema is dropped): the ingest part stores into it instead of SQLite, and the query benchmark runs on it too")
	demo := flag.String("demo", "", "only fill a SQLite history at this path with -rows rows (the README's screenshot) and exit")
	flag.Parse()
	ctx := context.Background()
	if *demo != "" {
		s, err := sqlite.Open(ctx, *demo)
		if err != nil {
			log.Fatal(err)
		}
		fill(ctx, s, *rows)
		s.Close()
		return
	}
	dir, err := os.MkdirTemp("", "historybench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := map[string]any{}
	if *jobs > 0 && *rounds > 0 {
		out["ingest"] = ingest(ctx, *redisURL, *goarqBin, dir, *pg, *jobs, *rounds, strings.Fields(*recArgs))
	}
	if *jobs > 0 && *trackRounds > 0 {
		out["tracking_alone"] = trackingCost(ctx, *redisURL, *jobs, *trackRounds)
	}
	if *rows > 0 {
		out["queries"] = queries(ctx, filepath.Join(dir, "big.db"), *rows, *reps)
		if *pg != "" {
			out["queries_postgres"] = postgresQueries(ctx, *pg, *rows, *reps)
		}
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
}

func enqueue(ctx context.Context, cl *client.Client, n int) {
	reqs := make([]client.Request, 0, 1000)
	for i := 0; i < n; i++ {
		reqs = append(reqs, client.Request{Function: "add", Args: []any{i, 1}})
		if len(reqs) == cap(reqs) || i == n-1 {
			if _, err := cl.EnqueueMany(ctx, reqs); err != nil {
				log.Fatal(err)
			}
			reqs = reqs[:0]
		}
	}
}

// drain runs a burst Go worker (max_jobs 100) until the queue is empty.
func drain(ctx context.Context, rdb *redis.Client) time.Duration {
	w, err := worker.New(worker.Settings{RedisClient: rdb, Burst: true, MaxJobs: 100, PollDelay: 5 * time.Millisecond,
		Logger: testutil.QuietLogger(), Functions: []worker.Function{
			worker.Func("add", func(ctx context.Context, a, b int) (int, error) { return a + b, nil })}})
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
	return time.Since(start)
}

// ingest measures the drain with and without the recorder; pg, when set,
// is the PostgreSQL the recorder stores into instead of a SQLite file.
func ingest(ctx context.Context, redisURL, goarqBin, dir, pg string, n, rounds int, recArgs []string) map[string]any {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		log.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	cl := client.New(rdb, client.Options{})
	var plain, withRec []float64
	var storedDuring, capturedDuring, capturedRate, cpuDuring []float64
	var ingestRates, cmdsPer, recCPU, recCPUIdx, indexWait, redisPlain, redisRec []float64
	var rss int64
	var pgCPU []float64
	for r := 0; r < rounds; r++ {
		// without the recorder
		rdb.FlushAll(ctx)
		enqueue(ctx, cl, n)
		c0 := procstat.RedisCPU(ctx, rdb)
		d := drain(ctx, rdb)
		plain = append(plain, float64(n)/d.Seconds())
		redisPlain = append(redisPlain, (procstat.RedisCPU(ctx, rdb)-c0)/float64(n)*1e6)

		// with the recorder, a process of its own
		rdb.FlushAll(ctx)
		db := filepath.Join(dir, fmt.Sprintf("ingest%d.db", r))
		if pg != "" {
			db = pg
			emptyPostgres(ctx, pg)
		}
		var stdout bytes.Buffer
		cmd := exec.Command(goarqBin, append([]string{"--redis", redisURL, "recorder", "--history", db, "--scan-interval", "1h"}, recArgs...)...)
		cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			log.Fatal(err)
		}
		store, err := openStore(ctx, db)
		if err != nil {
			log.Fatal(err)
		}
		waitFor(func() bool { return strings.Contains(stdout.String(), "recording") })
		time.Sleep(300 * time.Millisecond) // tracking armed (its first SCAN finds nothing)
		enqueue(ctx, cl, n)
		c0 = procstat.RedisCPU(ctx, rdb)
		p0 := procstat.CPUSeconds(cmd.Process.Pid)
		var pg0 float64
		if pg != "" {
			pg0 = postgresCPU(ctx, pg)
		}
		start := time.Now()
		d = drain(ctx, rdb)
		withRec = append(withRec, float64(n)/d.Seconds())
		p1 := procstat.CPUSeconds(cmd.Process.Pid)
		during, _ := store.Count(ctx)
		storedDuring = append(storedDuring, float64(during))
		// staged during the burst: durable, promoted after it
		var staged int64
		if st, ok := store.(history.Stager); ok {
			staged, _ = st.StagedCount(ctx)
		}
		capturedDuring = append(capturedDuring, float64(during+staged))
		capturedRate = append(capturedRate, float64(during+staged)/d.Seconds())
		cpuDuring = append(cpuDuring, (p1-p0)/float64(max(during+staged, 1))*1e6)
		waitFor(func() bool { c, _ := store.Count(ctx); return c >= int64(n) })
		all := time.Since(start)
		ingestRates = append(ingestRates, float64(n)/all.Seconds())
		recCPU = append(recCPU, (procstat.CPUSeconds(cmd.Process.Pid)-p0)/float64(n)*1e6)
		if pg != "" {
			pgCPU = append(pgCPU, (postgresCPU(ctx, pg)-pg0)/float64(n)*1e6)
		}
		redisRec = append(redisRec, (procstat.RedisCPU(ctx, rdb)-c0)/float64(n)*1e6)
		// the text index, filled once the inserts pause
		t0 := time.Now()
		if ix, ok := store.(textIndexer); ok { // PostgreSQL's pg_trgm index is kept by the INSERTs
			waitFor(func() bool { lag, err := ix.TextIndexLag(ctx); return err == nil && lag == 0 })
			indexWait = append(indexWait, time.Since(t0).Seconds())
		}
		// and the deferred WAL checkpoint: until the recorder is idle
		for c := procstat.CPUSeconds(cmd.Process.Pid); ; {
			time.Sleep(300 * time.Millisecond)
			c2 := procstat.CPUSeconds(cmd.Process.Pid)
			if c2-c < 0.01 {
				break
			}
			c = c2
		}
		recCPUIdx = append(recCPUIdx, (procstat.CPUSeconds(cmd.Process.Pid)-p0)/float64(n)*1e6)
		rss = max(rss, procstat.PeakRSS(cmd.Process.Pid))
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		store.Close()
		// "stopped after recording N results with C Redis commands"
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			var rec, cmds int64
			if _, err := fmt.Sscanf(sc.Text(), "goarq recorder: stopped after recording %d results with %d Redis commands", &rec, &cmds); err == nil && rec > 0 {
				cmdsPer = append(cmdsPer, float64(cmds)/float64(rec))
			}
		}
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(max(len(v), 1))
	}
	res := map[string]any{
		"jobs": n, "rounds": rounds, "recorder_args": recArgs,
		"drain_jobs_per_s_without_recorder": plain, "drain_jobs_per_s_with_recorder": withRec,
		"drain_ratio_with_over_without": mean(withRec) / mean(plain),
		"drain_ratio_per_pair":          pairRatios(withRec, plain),
		"drain_ratio_median_of_pairs":   median(pairRatios(withRec, plain)),
		"ingest_results_per_s":          ingestRates,
		// a recorder that yields to the burst stores little before the
		// drain ends, and catches up after it
		"results_stored_when_the_drain_ended": storedDuring,
		// stored or staged (durable in the store, promoted after the
		// burst), and that count over the drain's time
		"results_captured_staged_or_stored_when_the_drain_ended":             capturedDuring,
		"captured_results_per_s_during_the_drain":                            capturedRate,
		"recorder_cpu_us_per_captured_result_during_the_drain":               cpuDuring,
		"redis_commands_per_result":                                          cmdsPer,
		"recorder_peak_rss_mb":                                               float64(rss) / (1 << 20),
		"recorder_cpu_us_per_result":                                         recCPU,
		"recorder_cpu_us_per_result_with_deferred_text_index_and_checkpoint": recCPUIdx,
		"text_index_caught_up_s_after_ingest":                                indexWait,
		"redis_cpu_us_per_job_without_recorder":                              redisPlain,
		"redis_cpu_us_per_job_with_recorder":                                 redisRec,
		"cores":                                                              runtime.NumCPU(),
	}
	if pg != "" {
		res["store"] = "postgres (pg_trgm)"
		delete(res, "text_index_caught_up_s_after_ingest")
		delete(res, "recorder_cpu_us_per_result_with_deferred_text_index_and_checkpoint")
		res["postgres_server_cpu_us_per_result"] = pgCPU
	}
	return res
}

// openStore opens the history the recorder writes: a SQLite file, or a
// postgres:// DSN.
func openStore(ctx context.Context, db string) (history.Store, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return postgres.Open(ctx, db)
	}
	return sqlite.Open(ctx, db)
}

// emptyPostgres drops everything in the public schema of dsn, so that
// each round starts from an empty history.
func emptyPostgres(ctx context.Context, dsn string) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		log.Fatal(err)
	}
}

// postgresCPU is the CPU time so far of the PostgreSQL server of dsn (on
// this machine): its postmaster's living children, backends and
// background workers. A backend that exited in between is not counted.
func postgresCPU(ctx context.Context, dsn string) float64 {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var self int
	if err := db.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&self); err != nil {
		log.Fatal(err)
	}
	postmaster := ppid(self)
	total := 0.0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && pid != self && ppid(pid) == postmaster {
			total += procstat.CPUSeconds(pid)
		}
	}
	return total
}

// ppid is the parent of pid (0 when it is gone).
func ppid(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// trackingCost drains with and without a Watcher on arq:result: (client
// tracking, BCAST, the recorder's capture) that only counts the ids it is
// told of, in alternating runs.
func trackingCost(ctx context.Context, redisURL string, n, rounds int) map[string]any {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		log.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	cl := client.New(rdb, client.Options{})
	var plain, tracked, redisPlain, redisTracked []float64
	for r := 0; r < rounds; r++ {
		for _, track := range []bool{false, true} {
			rdb.FlushAll(ctx)
			var seen atomic.Int64
			var w *arqredis.Watcher
			if track {
				w, err = arqredis.New(rdb, testutil.QuietLogger()).WatchResults(ctx, arqredis.ResultWatchOptions{
					Logger: testutil.QuietLogger(), OnIDs: func(ids []string) { seen.Add(int64(len(ids))) }})
				if err != nil {
					log.Fatal(err)
				}
			}
			enqueue(ctx, cl, n)
			c0 := procstat.RedisCPU(ctx, rdb)
			d := drain(ctx, rdb)
			cpu := (procstat.RedisCPU(ctx, rdb) - c0) / float64(n) * 1e6
			if track {
				waitFor(func() bool { return seen.Load() >= int64(n) })
				w.Close()
				tracked, redisTracked = append(tracked, float64(n)/d.Seconds()), append(redisTracked, cpu)
			} else {
				plain, redisPlain = append(plain, float64(n)/d.Seconds()), append(redisPlain, cpu)
			}
		}
	}
	return map[string]any{
		"drain_jobs_per_s_without_tracking": plain, "drain_jobs_per_s_with_tracking": tracked,
		"drain_ratio_per_pair": pairRatios(tracked, plain), "drain_ratio_median_of_pairs": median(pairRatios(tracked, plain)),
		"redis_cpu_us_per_job_without_tracking": redisPlain, "redis_cpu_us_per_job_with_tracking": redisTracked,
	}
}

// pairRatios divides each run with the recorder by the run without it
// just before (the pairs are side by side; the machine's load drifts).
func pairRatios(with, without []float64) []float64 {
	out := make([]float64, len(with))
	for i := range with {
		out[i] = with[i] / without[i]
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// textIndexer is the SQLite store's text index (filled off the insert path),
// or PostgreSQL's index of the arguments' bytes (built after the migration).
type textIndexer interface {
	IndexText(ctx context.Context, limit int) (int64, error)
	TextIndexLag(ctx context.Context) (int64, error)
}

func waitFor(cond func() bool) {
	deadline := time.Now().Add(5 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			log.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var functions = []string{"send_email", "resize_image", "charge_card", "sync_account", "render_pdf", "notify", "cleanup", "import_csv"}

// fill adds n synthetic records over the last 30 days: 8 functions, 10%
// failures across 3 exception classes, arguments with a user id; one in
// 20,000 also has a note with rare characters (é, Ω, #~), for the short
// texts the word index cannot narrow.
func fill(ctx context.Context, s history.Store, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UnixMilli()
	span := int64(30 * 24 * time.Hour / time.Millisecond)
	excs := []string{"ValueError", "TimeoutError", "app.errors.RateLimited"}
	batch := make([]history.Record, 0, 5000)
	raw, _ := arqcompat.EncodeResult(arqcompat.PickleSerializer(arqcompat.Limits{}), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "send_email", Args: []any{int64(1)}}, Queue: "arq:queue", JobID: "x"})
	for i := 0; i < n; i++ {
		fin := now - span + span*int64(i)/int64(n)
		run := int64(rng.ExpFloat64() * 200)
		r := history.Record{JobID: fmt.Sprintf("%032x", rng.Uint64()), Queue: "arq:queue", Function: functions[rng.IntN(len(functions))],
			Try: 1, EnqueueMS: fin - run - 5, StartMS: fin - run, FinishMS: fin, Success: rng.IntN(10) != 0,
			Args: fmt.Sprintf("%d, 'user_%d@example.com'", i, rng.IntN(100_000)), ArgsJSON: `{"args":[],"kwargs":{}}`,
			Result: "None", Raw: raw, Serializer: "pickle", Source: "redis", RecordedMS: fin}
		if i%20_000 == 7 {
			r.Args += ", note='café Ω #~'"
		}
		if !r.Success {
			r.ExcClass = excs[rng.IntN(len(excs))]
			r.ExcMessage, r.Result = "bad", r.ExcClass+"('bad')"
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := s.Add(ctx, batch); err != nil {
				log.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

func queries(ctx context.Context, path string, n, reps int) map[string]any {
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	fill(ctx, s, n)
	fillTook := time.Since(start)
	// the text index catches up (the store's indexer would, once the
	// inserts pause; this is the same work, timed)
	start = time.Now()
	for {
		k, err := s.(textIndexer).IndexText(ctx, 10_000)
		if err != nil {
			log.Fatal(err)
		}
		if k == 0 {
			break
		}
	}
	indexTook := time.Since(start)
	rebuild := rebuildTextIndexes(ctx, s.(interface{ DB() *sql.DB }).DB())
	res := map[string]any{"rows": n, "fill_seconds": fillTook.Seconds(), "text_index_seconds": indexTook.Seconds(), "text_indexes": rebuild}
	res["p95_ms"], res["records"] = timeQueries(ctx, s, reps)
	return res
}

// postgresQueries is the query benchmark on the PostgreSQL server of dsn
// (a throwaway one: its public schema is dropped first).
func postgresQueries(ctx context.Context, dsn string, n, reps int) map[string]any {
	emptyPostgres(ctx, dsn)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		log.Fatal(err)
	}
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	fill(ctx, s, n)
	fillTook := time.Since(start)
	// the index of the arguments' bytes, built after the migration
	// (on the empty table, so at once): there before the queries
	waitFor(func() bool { lag, err := s.(textIndexer).TextIndexLag(ctx); return err == nil && lag == 0 })
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE records`); err != nil {
		log.Fatal(err)
	}
	res := map[string]any{"rows": n, "fill_seconds": fillTook.Seconds()}
	for _, index := range []string{"records_args_trgm", "records_args_bytes_trgm"} {
		var bytes int64
		if err := db.QueryRowContext(ctx, `SELECT pg_relation_size($1::regclass)`, index).Scan(&bytes); err != nil {
			log.Fatal(err)
		}
		res[index+"_mb"] = float64(bytes) / (1 << 20)
	}
	db.Close()
	res["p95_ms"], res["records"] = timeQueries(ctx, s, reps)
	return res
}

// timeQueries is the p95 of each query over reps runs, and how many
// records each query's page holds (the same on both stores).
func timeQueries(ctx context.Context, s history.Store, reps int) (map[string]float64, map[string]int) {
	now := time.Now()
	no := false
	p, _ := s.Query(ctx, history.Filter{Limit: 1})
	someID := p.Records[0].JobID
	page2, _ := s.Query(ctx, history.Filter{Function: "notify", Limit: 50})
	cases := []struct {
		name string
		f    history.Filter
	}{
		{"newest 50", history.Filter{}},
		{"function", history.Filter{Function: "render_pdf"}},
		{"failed", history.Filter{Success: &no}},
		{"exception class", history.Filter{ExcClass: "app.errors.RateLimited"}},
		{"function + failed + exception", history.Filter{Function: "charge_card", Success: &no, ExcClass: "TimeoutError"}},
		{"since 2h", history.Filter{Since: now.Add(-2 * time.Hour)}},
		{"until 20d ago", history.Filter{Until: now.Add(-20 * 24 * time.Hour)}},
		{"since/until one day, function", history.Filter{Function: "notify", Since: now.Add(-11 * 24 * time.Hour), Until: now.Add(-10 * 24 * time.Hour)}},
		{"job id", history.Filter{JobID: someID}},
		{"text, common", history.Filter{Text: "example.com"}},
		{"text, rare", history.Filter{Text: "'user_4242@"}},
		{"text, rare, last 2 days", history.Filter{Text: "'user_4242@", Since: now.Add(-48 * time.Hour)}},
		{"page 2 (cursor)", history.Filter{Function: "notify", Before: page2.Next}},
		{"text, inside a word", history.Filter{Text: "ser_4242@"}},
		{"text, rare, no whole word (trigram index)", history.Filter{Text: "42424"}},
		{"text, rare, no whole word, last 2 days", history.Filter{Text: "42424", Since: now.Add(-48 * time.Hour)}},
		// the other filters select few rows, the text's words and
		// trigrams are in every row: both indexes are tried and refused
		// (more than 5,000 candidates) before the walk
		{"text, common, one job id", history.Filter{Text: "example.com", JobID: someID}},
		{"text, common, no whole word, one job id", history.Filter{Text: "xampl", JobID: someID}},
		// 1 or 2 characters with no whole word: no trigram of their own,
		// narrowed by the trigram index's terms when rare (50 rows in a
		// million), found in the newest rows when common
		{"text, 1 character, rare (é)", history.Filter{Text: "é"}},
		{"text, 1 character, rare (Ω)", history.Filter{Text: "Ω"}},
		{"text, 1 character, rare, last 2 days", history.Filter{Text: "é", Since: now.Add(-48 * time.Hour)}},
		{"text, 2 characters, rare (#~)", history.Filter{Text: "#~"}},
		{"text, 2 characters, absent (q7)", history.Filter{Text: "q7"}},
		{"text, 1 character, common (@)", history.Filter{Text: "@"}},
		{"text, 2 characters, common (42)", history.Filter{Text: "42"}},
		{"text, 2 characters, common, one job id", history.Filter{Text: "42", JobID: someID}},
	}
	p95 := func(run func()) float64 {
		var ds []time.Duration
		for range reps {
			t := time.Now()
			run()
			ds = append(ds, time.Since(t))
		}
		slices.Sort(ds)
		return float64(ds[int(0.95*float64(len(ds)-1)+0.5)].Microseconds()) / 1000
	}
	ms, found := map[string]float64{}, map[string]int{}
	for _, c := range cases {
		c.f.Limit = 50
		ms[c.name] = p95(func() {
			p, err := s.Query(ctx, c.f)
			if err != nil {
				log.Fatal(err)
			}
			found[c.name] = len(p.Records)
		})
	}
	ms["daily charts, 14 days"] = p95(func() {
		if _, err := s.Daily(ctx, now.Add(-14*24*time.Hour)); err != nil {
			log.Fatal(err)
		}
	})
	ms["retry plan, failed ValueError since 2h"] = p95(func() {
		if _, err := history.PlanRetry(ctx, s, history.Filter{ExcClass: "ValueError", Since: now.Add(-2 * time.Hour)}, 1000); err != nil {
			log.Fatal(err)
		}
	})
	return ms, found
}

// rebuildTextIndexes empties the SQLite store's two text indexes and fills
// them again from every row, one index at a time in the indexer's batches
// of 10,000 rows, timing each (the catch-up time of each index over all
// the rows), then reports the size of each index and of the database.
func rebuildTextIndexes(ctx context.Context, db *sql.DB) map[string]any {
	run := func(q string, args ...any) {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			log.Fatalf("%s: %v", q, err)
		}
	}
	var maxID int64
	if err := db.QueryRowContext(ctx, `SELECT MAX(id) FROM records`).Scan(&maxID); err != nil {
		log.Fatal(err)
	}
	out := map[string]any{}
	// what the store's indexer writes after each row's arguments (the
	// trigram index's tail, see sqlstore.Dialect.ShortTextIndex)
	tails := map[string]string{"records_fts": "", "records_tri": "\x01\x01"}
	for _, table := range []string{"records_fts", "records_tri"} {
		run(`INSERT INTO ` + table + ` (` + table + `) VALUES ('delete-all')`)
		start := time.Now()
		for from := int64(0); from < maxID; from += 10_000 {
			run(`INSERT INTO `+table+` (rowid, args) SELECT id, args || ? FROM records WHERE id > ? AND id <= ?`, tails[table], from, from+10_000)
		}
		out[table+"_fill_all_rows_seconds"] = time.Since(start).Seconds()
		var bytes int64
		// dbstat: the pages of the index's shadow tables
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE ?`, table+"_%").Scan(&bytes); err != nil {
			out[table+"_mb"] = err.Error()
		} else {
			out[table+"_mb"] = float64(bytes) / (1 << 20)
		}
	}
	run(`PRAGMA wal_checkpoint(TRUNCATE)`)
	var pages, pageSize int64
	if err := db.QueryRowContext(ctx, `SELECT (SELECT page_count FROM pragma_page_count()), (SELECT page_size FROM pragma_page_size())`).Scan(&pages, &pageSize); err == nil {
		out["database_mb"] = float64(pages*pageSize) / (1 << 20)
	}
	return out
}
