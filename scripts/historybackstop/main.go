// Command historybackstop measures what one SCAN backstop pass of `goarq
// recorder` costs over results it recorded already (see
// scripts/history_backstop.sh): it keeps -results results in Redis,
// records them once, then starts each given goarq binary in turn on that
// history (alternating, so the figures are side by side) and measures the
// recorder's CPU for its first pass (a SCAN over every kept result) until
// it is idle, per kept result, with the Redis CPU and commands of the
// pass. Not part of the test suite.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/history/sqlite"
	"github.com/goarq/goarq/scripts/internal/procstat"
)

func main() {
	redisURL := flag.String("redis", "", "Redis URL (a throwaway server: it is flushed)")
	n := flag.Int("results", 300_000, "kept results")
	rounds := flag.Int("rounds", 3, "passes of each binary, in turn")
	flag.Parse()
	bins := flag.Args() // name=path
	if *redisURL == "" || len(bins) == 0 {
		log.Fatal("usage: historybackstop -redis URL [-results N] [-rounds R] name=goarq-binary ...")
	}
	ctx := context.Background()
	opt, err := redis.ParseURL(*redisURL)
	if err != nil {
		log.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	dir, err := os.MkdirTemp("", "historybackstop")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "h.db")

	rdb.FlushAll(ctx)
	keep(ctx, rdb, *n)
	// record them once (the last binary), and let its text index and
	// checkpoint finish
	first := run(ctx, rdb, bins[len(bins)-1], *redisURL, db, *n)
	log.Printf("recorded %d results once (%.1f s CPU)", *n, first.CPU)

	type agg struct {
		CPUusPerResult, WallS, RedisCPUusPerResult, CommandsPerResult []float64
		Recorded                                                      []int64
	}
	out := map[string]*agg{}
	for r := 0; r < *rounds; r++ {
		for _, b := range bins {
			name, _, _ := strings.Cut(b, "=")
			p := run(ctx, rdb, b, *redisURL, db, *n)
			a := out[name]
			if a == nil {
				a = &agg{}
				out[name] = a
			}
			a.CPUusPerResult = append(a.CPUusPerResult, p.CPU/float64(*n)*1e6)
			a.WallS = append(a.WallS, p.Wall.Seconds())
			a.RedisCPUusPerResult = append(a.RedisCPUusPerResult, p.RedisCPU/float64(*n)*1e6)
			a.CommandsPerResult = append(a.CommandsPerResult, float64(p.Commands)/float64(*n))
			a.Recorded = append(a.Recorded, p.Recorded)
			log.Printf("round %d %s: %.2f µs CPU per kept result, %.2f s, %d recorded", r, name, p.CPU/float64(*n)*1e6, p.Wall.Seconds(), p.Recorded)
		}
	}
	res := map[string]any{"kept_results": *n, "rounds": *rounds, "passes": out}
	if len(bins) == 2 {
		b, _, _ := strings.Cut(bins[0], "=")
		a, _, _ := strings.Cut(bins[1], "=")
		res["cpu_ratio_"+a+"_over_"+b] = median(out[a].CPUusPerResult) / median(out[b].CPUusPerResult)
	}
	j, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(j))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// keep writes n results of add(i, 1), finished two minutes ago (so that
// no pacing applies), kept for an hour.
func keep(ctx context.Context, rdb *redis.Client, n int) {
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	now := time.Now().Add(-2 * time.Minute).UnixMilli()
	for i := 0; i < n; i += 1000 {
		pipe := rdb.Pipeline()
		for j := i; j < min(i+1000, n); j++ {
			id := fmt.Sprintf("%032x", j)
			data, err := arqcompat.EncodeResult(ser, arqcompat.ResultRecord{
				JobRecord: arqcompat.JobRecord{Function: "add", Args: []any{int64(j), int64(1)}, JobTry: 1, EnqueueTimeMS: now - 5},
				Success:   true, Result: int64(j + 1), StartMS: now + int64(j%1000), FinishMS: now + int64(j%1000) + 1, Queue: "arq:queue", JobID: id})
			if err != nil {
				log.Fatal(err)
			}
			pipe.Set(ctx, arqcompat.ResultKey(id), data, time.Hour)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			log.Fatal(err)
		}
	}
}

type pass struct {
	CPU, RedisCPU      float64
	Wall               time.Duration
	Commands, Recorded int64
}

// run starts the binary of spec (name=path) as goarq recorder on db,
// waits until its first pass is done (n records stored and the process
// idle) and stops it.
func run(ctx context.Context, rdb *redis.Client, spec, redisURL, db string, n int) pass {
	_, bin, _ := strings.Cut(spec, "=")
	var stdout bytes.Buffer
	cmd := exec.Command(bin, "--redis", redisURL, "recorder", "--history", db, "--scan-interval", "1h", "--max-rate", "0")
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	r0 := procstat.RedisCPU(ctx, rdb)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	waitFor(func() bool { c, _ := store.Count(ctx); return c >= int64(n) })
	// idle: no CPU for 3 samples of 100 ms (the pass, the text index and
	// the checkpoint are done)
	last, idle := procstat.CPUSeconds(cmd.Process.Pid), 0
	for idle < 3 {
		time.Sleep(100 * time.Millisecond)
		c := procstat.CPUSeconds(cmd.Process.Pid)
		if c-last < 0.005 {
			idle++
		} else {
			idle = 0
		}
		last = c
	}
	p := pass{CPU: last, Wall: time.Since(start) - 300*time.Millisecond, RedisCPU: procstat.RedisCPU(ctx, rdb) - r0}
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var rec, cmds, scans int64
		if _, err := fmt.Sscanf(sc.Text(), "goarq recorder: stopped after recording %d results with %d Redis commands (%d SCAN passes)", &rec, &cmds, &scans); err == nil {
			p.Recorded, p.Commands = rec, cmds
		}
	}
	if c, _ := store.Count(ctx); c != int64(n) {
		log.Fatalf("%s: %d records, want %d", spec, c, n)
	}
	return p
}

func waitFor(cond func() bool) {
	deadline := time.Now().Add(10 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			log.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
