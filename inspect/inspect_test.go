package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/inspect"
	"github.com/goarq/goarq/internal/testutil"
)

// reads counts the job and result records read (GET and MGET keys) and
// the commands sent.
type reads struct {
	mu sync.Mutex
	n  readCounts
}

type readCounts struct{ jobs, results, commands, zrank int }

func (r *reads) count(cmd redis.Cmder) {
	name := strings.ToLower(cmd.Name())
	r.n.commands++
	if name == "zrange" {
		r.n.zrank++
	}
	if name != "get" && name != "mget" {
		return
	}
	for _, a := range cmd.Args()[1:] {
		k, _ := a.(string)
		switch {
		case strings.HasPrefix(k, arqcompat.JobKeyPrefix):
			r.n.jobs++
		case strings.HasPrefix(k, arqcompat.ResultKeyPrefix):
			r.n.results++
		}
	}
}

func (r *reads) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *reads) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.mu.Lock()
		r.count(cmd)
		r.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (r *reads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.mu.Lock()
		for _, c := range cmds {
			r.count(c)
		}
		r.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the counts so far and resets them.
func (r *reads) take() readCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.n
	r.n = readCounts{}
	return got
}

type env struct {
	c  *client.Client
	in *inspect.Inspector
	mr *miniredis.Miniredis
	r  *reads
}

func newEnv(t *testing.T, opts client.Options) *env {
	t.Helper()
	mr, rdb := testutil.Redis(t)
	r := &reads{}
	rdb.AddHook(r)
	c := client.New(rdb, opts)
	return &env{c: c, in: inspect.New(c, inspect.Options{CacheTTL: -1}), mr: mr, r: r}
}

func setResult(t *testing.T, mr *miniredis.Miniredis, ser arqcompat.Serializer, r arqcompat.ResultRecord) {
	t.Helper()
	data, err := arqcompat.EncodeResult(ser, r)
	if err != nil {
		t.Fatal(err)
	}
	mr.Set(arqcompat.ResultKey(r.JobID), string(data))
}

func TestJobsMarksUnreadableAndExpiredJobs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, client.Options{})
	for _, id := range []string{"a", "b"} {
		if _, err := e.c.EnqueueRequest(ctx, client.Request{Function: "f_" + id, Options: client.EnqueueOptions{JobID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	// a JSON-encoded record read with pickle, and a queue entry whose job key is gone
	js, _ := arqcompat.EncodeJob(arqcompat.JSONSerializer(arqcompat.Limits{}), arqcompat.JobRecord{Function: "j", Kwargs: &arqcompat.Dict{}})
	e.mr.Set(arqcompat.JobKey("json"), string(js))
	e.mr.ZAdd(arqcompat.DefaultQueueName, 1, "json")
	e.mr.ZAdd(arqcompat.DefaultQueueName, 2, "gone")

	if _, err := e.in.QueuedJobs(ctx, ""); err == nil {
		t.Error("QueuedJobs: no error for a gone job key (arq's queued_jobs raises)")
	}
	p, err := e.in.Jobs(ctx, inspect.JobsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Jobs) != 4 || p.Total != 4 || p.NextOffset != -1 {
		t.Fatalf("%+v", p)
	}
	byID := map[string]inspect.QueuedJob{}
	for _, j := range p.Jobs {
		byID[j.JobID] = j
	}
	if j := byID["a"]; j.Err != nil || j.Function != "f_a" || j.Score == nil {
		t.Errorf("readable job: %+v", j)
	}
	var re *inspect.RecordError
	if j := byID["json"]; !errors.As(j.Err, &re) || re.LooksLike != "json" ||
		!strings.Contains(j.Err.Error(), "pickle: ") || !strings.Contains(j.Err.Error(), "look json-encoded, not pickle") {
		t.Errorf("json record: %v", j.Err)
	}
	if j := byID["gone"]; !errors.Is(j.Err, inspect.ErrJobExpired) || j.Score == nil || *j.Score != 2 {
		t.Errorf("gone job: %+v", j)
	}
	p, _ = e.in.Jobs(ctx, inspect.JobsQuery{Function: "f_b"})
	if len(p.Jobs) != 3 || p.Jobs[2].JobID != "b" { // the unreadable two are kept: their function is unknown
		t.Errorf("function filter: %+v", p.Jobs)
	}
	if p, _ = e.in.Jobs(ctx, inspect.JobsQuery{Limit: 1}); len(p.Jobs) != 1 || p.NextOffset != 1 {
		t.Errorf("limit: %+v", p)
	}
}

// A page of a long queue reads that page: one ZRANGE of Limit entries and
// their records, not the whole queue (ListJobs read every record).
func TestJobsPageReadsOnlyItsPage(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, client.Options{})
	reqs := make([]client.Request, 2000)
	for i := range reqs {
		reqs[i] = client.Request{Function: "f", Args: []any{i}, Options: client.EnqueueOptions{DeferBy: time.Duration(i) * time.Millisecond}}
	}
	if _, err := e.c.EnqueueMany(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	e.r.take()
	p, err := e.in.Jobs(ctx, inspect.JobsQuery{Limit: 10})
	if err != nil || len(p.Jobs) != 10 || p.Total != 2000 || p.NextOffset != 10 {
		t.Fatalf("%+v %v", p, err)
	}
	if got := e.r.take(); got.jobs != 10 || got.zrank != 1 || got.commands > 25 {
		t.Errorf("a page of 10 of 2000 read %d job records, %d ZRANGEs, %d commands", got.jobs, got.zrank, got.commands)
	}
	all, err := e.in.QueuedJobs(ctx, "")
	if err != nil || len(all) != 2000 {
		t.Fatalf("QueuedJobs: %d %v", len(all), err)
	}
	for i, j := range all {
		if j.Args[0] != int64(i) {
			t.Fatalf("QueuedJobs[%d] = %v, not in score order", i, j.Args)
		}
	}
}

func TestResultsFiltersSortsAndKeepsUnreadable(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, client.Options{})
	ser := e.c.Serializer()
	base := time.Now().UnixMilli()
	for i, r := range []struct {
		id, fn, queue string
		ok            bool
	}{{"r1", "f", "arq:queue", true}, {"r2", "g", "arq:queue", false}, {"r3", "f", "other", true}, {"r4", "f", "arq:queue", false}} {
		setResult(t, e.mr, ser, arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: r.fn, Kwargs: &arqcompat.Dict{}},
			Success: r.ok, JobID: r.id, Queue: r.queue, StartMS: base, FinishMS: base + int64(i)*1000,
			Result: arqcompat.NewException("builtins", "ValueError", "x")})
	}
	e.mr.Set(arqcompat.ResultKey("bad"), "\x80\x04\x95garbage")

	if _, err := e.in.AllJobResults(ctx); err == nil {
		t.Error("AllJobResults: no error for an unreadable result")
	}
	ids := func(rs []inspect.ResultEntry) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Summary.JobID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		q    inspect.ResultsQuery
		want string
	}{
		{inspect.ResultsQuery{Queue: "arq:queue"}, "r4,r2,r1,bad"},
		{inspect.ResultsQuery{Queue: "other"}, "r3,bad"},
		{inspect.ResultsQuery{}, "r4,r3,r2,r1,bad"},
		{inspect.ResultsQuery{Queue: "arq:queue", Function: "f"}, "r4,r1,bad"},
		{inspect.ResultsQuery{Queue: "arq:queue", Success: "failed"}, "r4,r2,bad"},
		{inspect.ResultsQuery{Success: "ok"}, "r3,r1"},
		{inspect.ResultsQuery{Exception: "ValueError"}, "r4,r2"},
		{inspect.ResultsQuery{Queue: "arq:queue", Limit: 2}, "r4,r2"},
		{inspect.ResultsQuery{Queue: "arq:queue", Limit: 2, Offset: 2}, "r1,bad"},
	} {
		p, err := e.in.Results(ctx, nil, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(p.Results); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.q, got, tc.want)
		}
	}
	p, _ := e.in.Results(ctx, nil, inspect.ResultsQuery{Queue: "other"})
	var de *arqcompat.DecodeError
	if bad := p.Results[len(p.Results)-1]; !errors.As(bad.Err, &de) || !strings.HasPrefix(bad.Err.Error(), "pickle: ") || bad.Result != nil {
		t.Errorf("unreadable: %+v", bad)
	}
	if r := p.Results[0].Result; r == nil || r.QueueName != "other" || r.JobID != "r3" {
		t.Errorf("first result %+v", r)
	}

	st, err := e.in.QueueStats(ctx, "", nil)
	if err != nil {
		t.Fatalf("QueueStats fails on one bad result: %v", err)
	}
	if st.ResultsOK != 1 || st.ResultsFailed != 2 || st.ResultsUnreadable != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSniffedSerializerInRecordErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		ser, wrote string
	}{{"json", "pickle"}, {"pickle", "msgpack"}, {"msgpack", "json"}, {"json", "msgpack"}} {
		read, _ := arqcompat.SerializerByName(tc.ser)
		wrote, _ := arqcompat.SerializerByName(tc.wrote)
		e := newEnv(t, client.Options{Serializer: read})
		setResult(t, e.mr, wrote, arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f", Kwargs: &arqcompat.Dict{}}, JobID: "x"})
		p, err := e.in.Results(ctx, nil, inspect.ResultsQuery{})
		if err != nil || len(p.Results) != 1 {
			t.Fatalf("%v %v", p, err)
		}
		want := "look " + tc.wrote + "-encoded, not " + tc.ser
		if p.Results[0].Err == nil || !strings.Contains(p.Results[0].Err.Error(), want) {
			t.Errorf("%s read as %s: %v, want %q", tc.wrote, tc.ser, p.Results[0].Err, want)
		}
	}
}

// Counting and listing kept results again reads and decodes only what is
// new: `goarq stats --watch` used to read every result on every tick.
func TestQueueStatsAndResultsReadEachResultOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, client.Options{})
	put := func(from, to int) {
		for i := from; i < to; i++ {
			setResult(t, e.mr, e.c.Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f", Kwargs: &arqcompat.Dict{}},
				Success: i%3 != 0, JobID: fmt.Sprint("r", i), Queue: arqcompat.DefaultQueueName, FinishMS: int64(i)})
		}
	}
	put(0, 300)
	st, err := e.in.QueueStats(ctx, "", nil)
	if err != nil || st.ResultsOK != 200 || st.ResultsFailed != 100 {
		t.Fatalf("%+v %v", st, err)
	}
	if got := e.r.take(); got.results != 300 {
		t.Errorf("first stats read %d results, want 300", got.results)
	}
	put(300, 302)
	for tick := range 3 {
		st, err = e.in.QueueStats(ctx, "", nil)
		if err != nil || st.ResultsOK+st.ResultsFailed != 302 {
			t.Fatalf("%+v %v", st, err)
		}
		want := 0
		if tick == 0 {
			want = 2
		}
		if got := e.r.take(); got.results != want {
			t.Errorf("stats tick %d read %d results, want %d (the new ones)", tick, got.results, want)
		}
	}
	p, err := e.in.Results(ctx, nil, inspect.ResultsQuery{Limit: 5})
	if err != nil || len(p.Results) != 5 || p.Matched != 302 || p.Results[0].Summary.JobID != "r301" {
		t.Fatalf("%+v %v", p, err)
	}
	if got := e.r.take(); got.results != 5 {
		t.Errorf("a page of 5 results read %d records, want 5", got.results)
	}
}

// Job's status is client.Job.Status's, from the same rule.
func TestJobStatusIsTheClients(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, client.Options{})
	mustEnqueue := func(id string, o client.EnqueueOptions) {
		o.JobID = id
		if _, err := e.c.EnqueueRequest(ctx, client.Request{Function: "f", Options: o}); err != nil {
			t.Fatal(err)
		}
	}
	mustEnqueue("now", client.EnqueueOptions{})
	mustEnqueue("later", client.EnqueueOptions{DeferBy: time.Hour})
	mustEnqueue("running", client.EnqueueOptions{})
	e.mr.Set(arqcompat.InProgressKey("running"), "1")
	setResult(t, e.mr, e.c.Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f"}, JobID: "done", Success: true})
	e.mr.ZAdd(arqcompat.DefaultQueueName, 0, "zero")
	for id, want := range map[string]client.JobStatus{"now": client.StatusQueued, "later": client.StatusDeferred,
		"running": client.StatusInProgress, "done": client.StatusComplete, "zero": client.StatusNotFound, "none": client.StatusNotFound} {
		d, err := e.in.Job(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.c.Job(id, "").Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != want || st != want {
			t.Errorf("%s: Inspector.Job %s, Job.Status %s, want %s", id, d.Status, st, want)
		}
	}
}

func TestHealth(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, client.Options{})
	h, err := e.in.Health(ctx, "")
	if err != nil || h.Present || h.Key != "arq:queue:health-check" {
		t.Fatalf("%+v %v", h, err)
	}
	e.mr.Set("arq:queue:health-check", "Nov-22 10:11:12 j_complete=3 j_failed=1 j_retried=0 j_ongoing=2 queued=7")
	h, err = e.in.Health(ctx, "")
	if err != nil || !h.Present || !h.Parsed || h.Complete != 3 || h.Failed != 1 || h.Ongoing != 2 || h.Queued != 7 {
		t.Fatalf("%+v %v", h, err)
	}
}

// The index holds at most MaxResults results and counts the others.
func TestMaxResultsBoundsTheIndex(t *testing.T) {
	ctx := context.Background()
	mr, rdb := testutil.Redis(t)
	r := &reads{}
	rdb.AddHook(r)
	c := client.New(rdb, client.Options{})
	in := inspect.New(c, inspect.Options{CacheTTL: -1, MaxResults: 10})
	for i := range 25 {
		setResult(t, mr, c.Serializer(), arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f", Kwargs: &arqcompat.Dict{}},
			Success: true, JobID: fmt.Sprint("r", i), Queue: arqcompat.DefaultQueueName})
	}
	snap, err := in.Snapshot(ctx, -1)
	if err != nil || len(snap.Results) != 10 || snap.LeftOut != 15 {
		t.Fatalf("%d results, %d left out, %v; want 10 and 15", len(snap.Results), snap.LeftOut, err)
	}
	if got := r.take(); got.results != 10 {
		t.Errorf("read %d results, want 10", got.results)
	}
	all, err := in.AllJobResults(ctx)
	if err != nil || len(all) != 25 {
		t.Errorf("AllJobResults: %d %v, want all 25", len(all), err)
	}
}
