package arqredis

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/testutil"
)

// A batch of finish transactions written in one script leaves Redis exactly
// as writing each job's finish_job or finish_failed_job alone does: the
// same keys, values, TTLs and queue members, for every kind of outcome.
func TestFinishBatchLeavesWhatEachFinishLeaves(t *testing.T) {
	ctx := context.Background()
	q := arqcompat.DefaultQueueName
	batch := []Finish{
		{JobID: "done", Queue: q, Done: true, Result: []byte("r1"), Keep: time.Hour},
		{JobID: "forever", Queue: q, Done: true, Result: []byte("r2"), KeepForever: true},
		{JobID: "noresult", Queue: q, Done: true},
		{JobID: "failed", Queue: q, Failed: true, Result: []byte("r3"), Keep: time.Minute},
		{JobID: "retry", Queue: q, IncrScore: 2500},
		{JobID: "cron", Queue: q, Done: true, Result: []byte("r4"), Keep: time.Hour, KeepInProgress: 60 * time.Second},
		{JobID: "other", Queue: "arq:other", Done: true, Result: []byte("r5"), Keep: time.Hour},
	}
	for i := range batch {
		batch[i].Token = "tok-" + batch[i].JobID
	}
	prepare := func(rdb *redis.Client) {
		for _, f := range batch {
			id := f.JobID
			rdb.Set(ctx, arqcompat.JobKey(id), "job-"+id, time.Hour)
			rdb.Set(ctx, arqcompat.InProgressKey(id), f.Token, time.Hour)
			rdb.Set(ctx, arqcompat.RetryKey(id), "1", time.Hour)
			rdb.ZAdd(ctx, f.Queue, redis.Z{Score: 1000, Member: id})
			rdb.ZAdd(ctx, arqcompat.AbortJobsSS, redis.Z{Score: 1, Member: id})
		}
		rdb.ZAdd(ctx, q, redis.Z{Score: 5, Member: "bystander"})
	}
	state := func(mr *miniredis.Miniredis) string {
		out := ""
		for _, k := range mr.Keys() {
			switch typ := mr.Type(k); typ {
			case "zset":
				m, _ := mr.ZMembers(k)
				for _, id := range m {
					s, _ := mr.ZScore(k, id)
					out += fmt.Sprintf("%s %s %v\n", k, id, s)
				}
			default:
				v, _ := mr.Get(k)
				out += fmt.Sprintf("%s=%q ttl %s\n", k, v, mr.TTL(k))
			}
		}
		return out
	}
	one, rdbOne := testutil.Redis(t)
	all, rdbAll := testutil.Redis(t)
	prepare(rdbOne)
	prepare(rdbAll)
	for _, f := range batch {
		if rep := New(rdbOne, testutil.QuietLogger()).WriteFinishes(ctx, []Finish{f}, nil); rep.Err != nil {
			t.Fatal(rep.Err)
		}
	}
	if err := New(rdbAll, testutil.QuietLogger()).LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	sent := &pipelineSizes{}
	rdbAll.AddHook(sent)
	if rep := New(rdbAll, testutil.QuietLogger()).WriteFinishes(ctx, batch, nil); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if got, want := state(all), state(one); got != want {
		t.Fatalf("one script for the batch left\n%s\neach job's own finish left\n%s", got, want)
	}
	for _, want := range []string{`arq:result:done="r1"`, `arq:in-progress:cron="1" ttl 1m0s`, "arq:queue retry 3500", `arq:result:other="r5"`} {
		if !strings.Contains(state(all), want) {
			t.Errorf("after the finishes, no %s in\n%s", want, state(all))
		}
	}
	// MULTI, the finish script and EXEC, where job by job arq sends 26
	if len(sent.sizes) != 1 || sent.sizes[0] != 3 {
		t.Errorf("transactions sent %v for the batch of %d jobs, want one of 3 commands", sent.sizes, len(batch))
	}
}

// pipelineSizes records how many commands each MULTI sends.
type pipelineSizes struct{ sizes []int }

func (h *pipelineSizes) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *pipelineSizes) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *pipelineSizes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() == "multi" { // not a new connection's CLIENT SETINFO
			h.sizes = append(h.sizes, len(cmds))
		}
		return next(ctx, cmds)
	}
}

// A finish applies once: sent again after its reply was lost it writes
// nothing (no second ZINCRBY, no DEL of the next claim's in-progress key,
// no DEL of a job enqueued again under the same id), and a finish whose
// claim was taken over by another worker leaves that claim alone.
func TestFinishAppliesOnlyWhileItsClaimHoldsTheKey(t *testing.T) {
	ctx := context.Background()
	q := arqcompat.DefaultQueueName
	mr, rdb := testutil.Redis(t)
	r := New(rdb, testutil.QuietLogger())
	rdb.ZAdd(ctx, q, redis.Z{Score: 1000, Member: "retry"}, redis.Z{Score: 1000, Member: "noresult"}, redis.Z{Score: 1000, Member: "taken"})
	for _, id := range []string{"retry", "noresult", "taken"} {
		rdb.Set(ctx, arqcompat.JobKey(id), "job-"+id, time.Hour)
		rdb.Set(ctx, arqcompat.InProgressKey(id), "mine-"+id, time.Hour)
	}
	batch := []Finish{
		{JobID: "retry", Queue: q, Token: "mine-retry", IncrScore: 2500},
		{JobID: "noresult", Queue: q, Token: "mine-noresult", Done: true},
	}
	rep := r.WriteFinishes(ctx, batch, nil)
	if rep.Err != nil || len(rep.Skipped) != 0 {
		t.Fatalf("first finish: %+v", rep)
	}
	// the reply was lost: meanwhile the retried job was claimed again by
	// another worker, and a new job was enqueued under the finished id
	rdb.Set(ctx, arqcompat.InProgressKey("retry"), "1", time.Hour)
	rdb.Set(ctx, arqcompat.JobKey("noresult"), "new-job", time.Hour)
	rdb.ZAdd(ctx, q, redis.Z{Score: 5000, Member: "noresult"})
	// and the third job's claim lapsed and was taken by another worker
	rdb.Set(ctx, arqcompat.InProgressKey("taken"), "theirs", time.Hour)
	again := r.WriteFinishes(ctx, append(batch, Finish{JobID: "taken", Queue: q, Token: "mine-taken", Done: true, Result: []byte("x"), Keep: time.Hour}), nil)
	if again.Err != nil || len(again.Skipped) != 3 {
		t.Fatalf("repeated finish: %+v, want all three skipped", again)
	}
	if s, _ := mr.ZScore(q, "retry"); s != 3500 {
		t.Errorf("retry scored %v, want 3500 (the defer applied once)", s)
	}
	if v, _ := mr.Get(arqcompat.InProgressKey("retry")); v != "1" {
		t.Errorf("the next claim's in-progress key holds %q, want it untouched", v)
	}
	if v, _ := mr.Get(arqcompat.JobKey("noresult")); v != "new-job" {
		t.Errorf("the job enqueued again under the same id holds %q, want it untouched", v)
	}
	if v, _ := mr.Get(arqcompat.InProgressKey("taken")); v != "theirs" || mr.Exists(arqcompat.ResultKey("taken")) {
		t.Errorf("a finish whose claim was taken over wrote: in-progress %q, result %v", v, mr.Exists(arqcompat.ResultKey("taken")))
	}
}
