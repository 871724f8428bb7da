// Command goclient is the interop suite's Go producer and reader: the
// pytest cases run it to enqueue from Go into Python workers and to read in
// Go what Python wrote. Every subcommand prints one JSON object.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/inspect"
	"github.com/goarq/goarq/internal/samples"
	"github.com/goarq/goarq/internal/view"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goclient COMMAND [flags]")
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	redisURL := fs.String("redis", os.Getenv("REDIS_URL"), "Redis URL")
	serName := fs.String("serializer", "pickle", "pickle, json or msgpack")
	queue := fs.String("queue", "", "queue name")
	jobID := fs.String("job-id", "", "job id")
	function := fs.String("function", "echo", "function name")
	argsJSON := fs.String("args", "[]", "positional args, a JSON array")
	kwargsJSON := fs.String("kwargs", "{}", "keyword args, a JSON object")
	deferBy := fs.Duration("defer-by", 0, "defer by")
	deferUntilMS := fs.Int64("defer-until-ms", 0, "defer until (unix ms)")
	expires := fs.Duration("expires", 0, "expires")
	jobTry := fs.Int("job-try", 0, "job try")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout")
	poll := fs.Duration("poll", 50*time.Millisecond, "poll delay")
	from := fs.String("from", "", "source job id (relay)")
	watchMulti := fs.Bool("watch-multi", false, "enqueue with arq's WATCH/MULTI sequence instead of the script")
	count := fs.Int("n", 0, "enqueue-many: jobs add(i, i) with ids <job-id>-<i>")
	seconds := fs.Float64("seconds", 0, "produce: each work job's seconds")
	interval := fs.Duration("interval", 0, "produce: pause between enqueues")
	sentinels := fs.String("sentinel", "", "comma-separated sentinel addresses: find the master through Sentinel")
	sentinelMaster := fs.String("sentinel-master", "mymaster", "the master's name in Sentinel")
	_ = fs.Parse(os.Args[2:])

	ser, err := arqcompat.SerializerByName(*serName)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	rs, err := client.ParseDSN(*redisURL)
	if err != nil {
		fail(err)
	}
	if *sentinels != "" {
		rs.Sentinel, rs.SentinelAddrs, rs.SentinelMaster = true, strings.Split(*sentinels, ","), *sentinelMaster
	}
	c, err := client.Dial(ctx, rs, client.Options{QueueName: *queue, Serializer: ser, WatchMulti: *watchMulti})
	if err != nil {
		fail(err)
	}
	defer c.Close()
	job := c.Job(*jobID, "")
	ro := client.ResultOptions{Timeout: *timeout, PollDelay: *poll}

	switch cmd {
	case "enqueue":
		args, err := arqcompat.UnmarshalJSON([]byte(*argsJSON))
		if err != nil {
			fail(err)
		}
		kwargs, err := arqcompat.UnmarshalJSON([]byte(*kwargsJSON))
		if err != nil {
			fail(err)
		}
		opts := client.EnqueueOptions{JobID: *jobID, DeferBy: *deferBy, Expires: *expires, JobTry: *jobTry}
		if *deferUntilMS != 0 {
			opts.DeferUntil = time.UnixMilli(*deferUntilMS)
		}
		j, err := c.EnqueueRequest(ctx, client.Request{Function: *function, Args: args.([]any), Kwargs: kwargs, Options: opts})
		if errors.Is(err, client.ErrJobExists) {
			out(map[string]any{"enqueued": false})
			return
		}
		if err != nil {
			fail(err)
		}
		out(map[string]any{"enqueued": true, "job_id": j.ID})
	case "enqueue-many":
		reqs := make([]client.Request, *count)
		for i := range reqs {
			reqs[i] = client.Request{Function: *function, Args: []any{i, i},
				Options: client.EnqueueOptions{JobID: fmt.Sprintf("%s-%d", *jobID, i)}}
		}
		jobs, err := c.EnqueueMany(ctx, reqs)
		if err != nil {
			fail(err)
		}
		enqueued := 0
		for _, j := range jobs {
			if j != nil {
				enqueued++
			}
		}
		out(map[string]any{"enqueued": enqueued})
	case "enqueue-concurrent":
		// n jobs add(i, i) with ids <job-id>-<i>, each from its own
		// goroutine at once through one Client (concurrent calls share
		// pipelines); reports how many were enqueued and how many ids
		// already existed
		var wg sync.WaitGroup
		var mu sync.Mutex
		enqueued, existed := 0, 0
		for i := 0; i < *count; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.EnqueueRequest(ctx, client.Request{Function: *function, Args: []any{i, i},
					Options: client.EnqueueOptions{JobID: fmt.Sprintf("%s-%d", *jobID, i)}})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					enqueued++
				case errors.Is(err, client.ErrJobExists):
					existed++
				default:
					fail(err)
				}
			}()
		}
		wg.Wait()
		out(map[string]any{"enqueued": enqueued, "existed": existed})
	case "produce":
		// n jobs work("<job-id>-count-<i>", seconds) with ids <job-id>-<i>,
		// one at a time. A call that fails (Redis restarting, a failover) is
		// retried with the same id until --timeout; ErrJobExists on a retry
		// means an earlier attempt landed.
		failures, deadline := 0, time.Now().Add(*timeout)
		for i := 0; i < *count; i++ {
			req := client.Request{Function: "work", Args: []any{fmt.Sprintf("%s-count-%d", *jobID, i), *seconds},
				Options: client.EnqueueOptions{JobID: fmt.Sprintf("%s-%d", *jobID, i)}}
			for tries, backoff := 1, 50*time.Millisecond; ; tries, backoff = tries+1, min(2*backoff, time.Second) {
				_, err := c.EnqueueRequest(ctx, req)
				if err == nil || (errors.Is(err, client.ErrJobExists) && tries > 1) {
					break
				}
				if errors.Is(err, client.ErrJobExists) || time.Now().After(deadline) {
					fail(fmt.Errorf("job %d: %w", i, err))
				}
				failures++
				time.Sleep(backoff)
			}
			time.Sleep(*interval)
		}
		out(map[string]any{"enqueued": *count, "failed_attempts": failures})
	case "samples-enqueue":
		var args []any
		kwargs := &arqcompat.Dict{}
		var names []string
		for _, s := range samples.For(*serName) {
			args = append(args, s.Value)
			_ = kwargs.Set(s.Name, s.Value)
			names = append(names, s.Name)
		}
		j, err := c.EnqueueRequest(ctx, client.Request{Function: *function, Args: args, Kwargs: kwargs, Options: client.EnqueueOptions{JobID: *jobID}})
		if err != nil {
			fail(err)
		}
		out(map[string]any{"job_id": j.ID, "names": names})
	case "values-enqueue":
		valuesEnqueue(ctx, c, *function)
	case "value-result-into":
		valueResultInto(ctx, job, *function, ro)
	case "samples-check":
		// the Python worker's echo returned (args, kwargs): compare with the catalog
		v, err := job.Result(ctx, ro)
		if err != nil {
			fail(err)
		}
		checkSamples(v, *serName)
	case "status":
		st, err := job.Status(ctx)
		if err != nil {
			fail(err)
		}
		out(map[string]any{"status": string(st)})
	case "result":
		v, err := job.Result(ctx, ro)
		var fe *client.JobFailedError
		var exc *arqcompat.Exception
		switch {
		case err == nil:
			out(map[string]any{"kind": "ok", "value": view.JSON(v)})
		case errors.As(err, &exc):
			errors.As(err, &fe)
			out(map[string]any{"kind": "failed", "exception": view.Exception(exc), "error": err.Error(),
				"aborted": errors.Is(err, client.ErrJobAborted), "job_try": fe.Result.JobTry})
		case errors.As(err, &fe):
			out(map[string]any{"kind": "failed", "value": view.JSON(fe.Result.Result), "error": err.Error()})
		case errors.Is(err, client.ErrResultNotFound):
			out(map[string]any{"kind": "not_found", "error": err.Error()})
		case errors.Is(err, client.ErrResultTimeout):
			out(map[string]any{"kind": "timeout", "error": err.Error()})
		default:
			fail(err)
		}
	case "result-into":
		// a Python job_info() result read with ResultInto into a typed struct;
		// --function wrong reads it into a struct whose job_try is a string
		var info struct {
			JobID       string    `arq:"job_id"`
			JobTry      int       `arq:"job_try"`
			EnqueueTime time.Time `arq:"enqueue_time"`
			Score       int64     `arq:"score"`
		}
		var wrong struct {
			JobTry string `arq:"job_try"`
		}
		dst := any(&info)
		if *function == "wrong" {
			dst = &wrong
		}
		if err := job.ResultInto(ctx, dst, ro); err != nil {
			var ae *arqcompat.AssignError
			out(map[string]any{"error": err.Error(), "assign_error": errors.As(err, &ae)})
			return
		}
		out(map[string]any{"job_id": info.JobID, "job_try": info.JobTry, "score": info.Score,
			"enqueue_time": info.EnqueueTime.Format(time.RFC3339Nano)})
	case "abort":
		ok, err := job.Abort(ctx, ro)
		if err != nil {
			fail(err)
		}
		out(map[string]any{"aborted": ok})
	case "info":
		info, err := job.Info(ctx)
		if errors.Is(err, client.ErrJobNotFound) {
			out(map[string]any{"found": false})
			return
		}
		if err != nil {
			fail(err)
		}
		out(map[string]any{"found": true, "function": info.Function, "args": view.JSON(info.Args), "kwargs": view.JSON(info.Kwargs),
			"job_try": info.JobTry, "enqueue_time_ms": info.EnqueueTime.UnixMilli(), "score": info.Score, "finished": info.IsFinished(),
			"success": info.Success, "result": view.JSON(info.Result)})
	case "queued":
		jobs, err := inspect.New(c, inspect.Options{}).QueuedJobs(ctx, "")
		if err != nil {
			fail(err)
		}
		var rows []any
		for _, j := range jobs {
			rows = append(rows, map[string]any{"job_id": j.JobID, "function": j.Function, "args": view.JSON(j.Args),
				"kwargs": view.JSON(j.Kwargs), "score": *j.Score, "job_try": j.JobTry, "enqueue_time_ms": j.EnqueueTime.UnixMilli()})
		}
		out(map[string]any{"jobs": rows})
	case "results":
		res, err := inspect.New(c, inspect.Options{}).AllJobResults(ctx)
		if err != nil {
			fail(err)
		}
		var rows []any
		for _, r := range res {
			rows = append(rows, map[string]any{"job_id": r.JobID, "function": r.Function, "success": r.Success,
				"result": view.JSON(r.Result), "queue": r.QueueName, "job_try": r.JobTry})
		}
		out(map[string]any{"results": rows})
	case "relay":
		// read a job Python enqueued and enqueue its args unchanged as a new job
		info, err := c.Job(*from, "").Info(ctx)
		if err != nil {
			fail(err)
		}
		j, err := c.EnqueueRequest(ctx, client.Request{Function: *function, Args: info.Args, Kwargs: info.Kwargs,
			Options: client.EnqueueOptions{JobID: *jobID}})
		if err != nil {
			fail(err)
		}
		out(map[string]any{"job_id": j.ID, "args": view.JSON(info.Args)})
	default:
		fail(fmt.Errorf("unknown command %q", cmd))
	}
}

func checkSamples(v any, ser string) {
	pair, ok := v.(arqcompat.Tuple)
	if !ok {
		if l, isList := v.([]any); isList {
			pair, ok = arqcompat.Tuple(l), true
		}
	}
	if !ok || len(pair) != 2 {
		fail(fmt.Errorf("result is %s, want (args, kwargs)", arqcompat.Repr(v)))
	}
	var args []any
	switch a := pair[0].(type) {
	case arqcompat.Tuple:
		args = a
	case []any:
		args = a
	}
	kwargs, _ := pair[1].(*arqcompat.Dict)
	var mismatches []string
	i := 0
	for _, s := range samples.For(ser) {
		want := samples.Expected(s.Value, ser)
		if i >= len(args) || !arqcompat.Equal(args[i], want) {
			got := "<missing>"
			if i < len(args) {
				got = fmt.Sprintf("%s %s", arqcompat.PyTypeName(args[i]), arqcompat.Repr(args[i]))
			}
			mismatches = append(mismatches, fmt.Sprintf("arg %s: got %s, want %s %s", s.Name, got, arqcompat.PyTypeName(want), arqcompat.Repr(want)))
		}
		if kv, ok := kwargs.Get(s.Name); !ok || !arqcompat.Equal(kv, want) {
			mismatches = append(mismatches, fmt.Sprintf("kwarg %s: got %s, want %s", s.Name, arqcompat.Repr(kv), arqcompat.Repr(want)))
		}
		i++
	}
	if i != len(args) {
		mismatches = append(mismatches, fmt.Sprintf("%d args, want %d", len(args), i))
	}
	out(map[string]any{"ok": len(mismatches) == 0, "checked": i, "mismatches": mismatches})
	if len(mismatches) > 0 {
		os.Exit(1)
	}
}

func out(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(b))
}

func fail(err error) {
	b, _ := json.Marshal(map[string]any{"fatal": err.Error()})
	fmt.Println(string(b))
	os.Exit(3)
}
