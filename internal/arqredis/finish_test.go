package arqredis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/testutil"
)

// A batch of finish transactions written in one MULTI leaves Redis exactly
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
	prepare := func(rdb *redis.Client) {
		for _, f := range batch {
			id := f.JobID
			rdb.Set(ctx, arqcompat.JobKey(id), "job-"+id, time.Hour)
			rdb.Set(ctx, arqcompat.InProgressKey(id), "1", time.Hour)
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
	sent := &pipelineSizes{}
	rdbAll.AddHook(sent)
	if rep := New(rdbAll, testutil.QuietLogger()).WriteFinishes(ctx, batch, nil); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if got, want := state(all), state(one); got != want {
		t.Fatalf("one MULTI for the batch left\n%s\neach job's own finish left\n%s", got, want)
	}
	// MULTI and EXEC; the jobs' own writes: five result SETs, the retry's
	// ZINCRBY and the cron job's PEXPIRE; then one DEL, one ZREM of
	// arq:abort and one ZREM per queue (two): 13, where job by job it is 26
	if len(sent.sizes) != 1 || sent.sizes[0] != 13 {
		t.Errorf("transactions sent %v for the batch of %d jobs, want one of 13 commands", sent.sizes, len(batch))
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
