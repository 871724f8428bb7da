package arqredis

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/testutil"
)

// A claim tells the worker what it left behind, so that an idle worker
// needs no further round trip: whether ready jobs may remain, when the
// next deferred job is due, and, when it claimed nothing, which ready jobs
// other workers already run.
func TestClaimReportsWhatItLeft(t *testing.T) {
	_, rdb := testutil.Redis(t)
	ctx := context.Background()
	r := New(rdb, testutil.QuietLogger())
	now := time.Now()
	nowMS := arqcompat.TimestampMS(now)
	q := arqcompat.DefaultQueueName
	add := func(id string, score int64) {
		rdb.Set(ctx, arqcompat.JobKey(id), "rec-"+id, 0)
		rdb.ZAdd(ctx, q, redis.Z{Score: float64(score), Member: id})
	}
	claim := func(max, readLimit int) ClaimReply {
		t.Helper()
		rep, err := r.Claim(ctx, ClaimArgs{Queue: q, Now: now, ReadLimit: readLimit, Max: max, InProgress: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	ids := func(rep ClaimReply) (out []string) {
		for _, j := range rep.Jobs {
			out = append(out, j.ID)
		}
		return out
	}

	add("a", nowMS-3)
	add("b", nowMS-2)
	add("c", nowMS-1)
	add("later", nowMS+5_000)
	add("latest", nowMS+9_000)

	// stopped at its maximum: more may be ready, the next due is not read
	rep := claim(1, 100)
	if got := ids(rep); !slices.Equal(got, []string{"a"}) || !rep.More || rep.NextDue != 0 || rep.Busy != nil {
		t.Fatalf("max 1: %v %+v", got, rep)
	}
	// stopped at the read limit (a runs, b is taken): the same
	rep = claim(10, 2)
	if got := ids(rep); !slices.Equal(got, []string{"b"}) || !rep.More {
		t.Fatalf("read limit 2: %v %+v", got, rep)
	}
	// took every ready job: nothing more, and the next deferred job's score
	rep = claim(10, 100)
	if got := ids(rep); !slices.Equal(got, []string{"c"}) || rep.More || rep.NextDue != nowMS+5_000 || rep.Busy != nil {
		t.Fatalf("all ready: %v %+v", got, rep)
	}
	// nothing to claim: the ready jobs already running are named
	rep = claim(10, 100)
	if len(rep.Jobs) != 0 || rep.More || rep.NextDue != nowMS+5_000 || !slices.Equal(rep.Busy, []string{"a", "b", "c"}) {
		t.Fatalf("all running: %+v", rep)
	}
	// an empty queue
	rdb.Del(ctx, q)
	if rep = claim(10, 100); len(rep.Jobs) != 0 || rep.More || rep.NextDue != 0 || len(rep.Busy) != 0 {
		t.Fatalf("empty: %+v", rep)
	}
}

// Head tells an idle worker, in one or two reads, whether a claim may find
// work, which ready jobs already run, the oldest ready job nobody runs and
// when the next deferred job is due.
func TestHeadReadsTheQueueHead(t *testing.T) {
	_, rdb := testutil.Redis(t)
	ctx := context.Background()
	r := New(rdb, testutil.QuietLogger())
	now := time.Now()
	nowMS := arqcompat.TimestampMS(now)
	q := arqcompat.DefaultQueueName
	head := func() HeadReply {
		t.Helper()
		h, err := r.Head(ctx, q, now, 16)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := head(); h.Claimable || h.NextDue != 0 || h.FreeScore != 0 || h.Busy != nil {
		t.Fatalf("empty queue: %+v", h)
	}
	rdb.ZAdd(ctx, q, redis.Z{Score: float64(nowMS - 20), Member: "running"}, redis.Z{Score: float64(nowMS - 10), Member: "free"},
		redis.Z{Score: float64(nowMS + 700), Member: "deferred"})
	rdb.Set(ctx, arqcompat.InProgressKey("running"), "1", time.Minute)
	if h := head(); !h.Claimable || h.NextDue != nowMS+700 || h.FreeScore != nowMS-10 || !slices.Equal(h.Busy, []string{"running"}) {
		t.Fatalf("one free: %+v", h)
	}
	rdb.Set(ctx, arqcompat.InProgressKey("free"), "1", time.Minute)
	if h := head(); h.Claimable || h.FreeScore != 0 || !slices.Equal(h.Busy, []string{"running", "free"}) {
		t.Fatalf("all running: %+v", h)
	}
}

// A job that arq's Job.abort has re-scored to 1 but not yet added to
// arq:abort is held, not claimed, while aborts are allowed; once the abort
// request is there it is claimed as aborted; allowed by the caller (held
// long enough: an abort that never completed) it is claimed to run. The
// claim stores a token of its own in the in-progress key, where arq writes
// "1", and reports it.
func TestClaimHoldsAJobBeingAborted(t *testing.T) {
	mr, rdb := testutil.Redis(t)
	ctx := context.Background()
	r := New(rdb, testutil.QuietLogger())
	q := arqcompat.DefaultQueueName
	for _, id := range []string{"aborting", "stalled"} {
		rdb.Set(ctx, arqcompat.JobKey(id), "rec-"+id, 0)
		rdb.ZAdd(ctx, q, redis.Z{Score: 1, Member: id})
	}
	claim := func(allow ...string) ClaimReply {
		t.Helper()
		rep, err := r.Claim(ctx, ClaimArgs{Queue: q, Now: time.Now(), ReadLimit: 100, Max: 10, InProgress: time.Minute, AllowAbort: true, Allow: allow})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := claim(); len(rep.Jobs) != 0 || !slices.Equal(rep.Held, []string{"aborting", "stalled"}) {
		t.Fatalf("claimed %+v, held %v; want none claimed, both held", rep.Jobs, rep.Held)
	}
	rdb.ZAdd(ctx, arqcompat.AbortJobsSS, redis.Z{Score: float64(arqcompat.TimestampMS(time.Now())), Member: "aborting"})
	rep := claim()
	if len(rep.Jobs) != 1 || rep.Jobs[0].ID != "aborting" || !rep.Jobs[0].Aborted || !slices.Equal(rep.Held, []string{"stalled"}) {
		t.Fatalf("claimed %+v, held %v; want the aborted job claimed as aborted, the other held", rep.Jobs, rep.Held)
	}
	if v, _ := mr.Get(arqcompat.InProgressKey("aborting")); v == "1" || v != rep.Jobs[0].Token {
		t.Errorf("in-progress key holds %q, the claim reported token %q", v, rep.Jobs[0].Token)
	}
	if rep := claim("stalled"); len(rep.Jobs) != 1 || rep.Jobs[0].ID != "stalled" || rep.Jobs[0].Aborted || len(rep.Held) != 0 {
		t.Fatalf("claimed %+v, held %v; want the allowed job claimed to run", rep.Jobs, rep.Held)
	}
}

// Jobs scored 0 are never claimed; a head made of 16 of them does not hide
// the ready job behind them from an idle worker.
func TestHeadSeesPastJobsScoredZero(t *testing.T) {
	_, rdb := testutil.Redis(t)
	ctx := context.Background()
	r := New(rdb, testutil.QuietLogger())
	now := time.Now()
	nowMS := arqcompat.TimestampMS(now)
	q := arqcompat.DefaultQueueName
	for i := range 16 {
		rdb.ZAdd(ctx, q, redis.Z{Score: 0, Member: fmt.Sprintf("zero-%02d", i)})
	}
	rdb.ZAdd(ctx, q, redis.Z{Score: float64(nowMS - 10), Member: "ready"}, redis.Z{Score: float64(nowMS + 700), Member: "deferred"})
	h, err := r.Head(ctx, q, now, 16)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Claimable || h.FreeScore != nowMS-10 || h.NextDue != nowMS+700 {
		t.Fatalf("16 jobs scored 0, then a ready one: %+v, want it claimable", h)
	}
	rdb.ZRem(ctx, q, "ready")
	if h, err = r.Head(ctx, q, now, 16); err != nil || h.Claimable || h.NextDue != nowMS+700 {
		t.Fatalf("16 jobs scored 0, then a deferred one: %+v %v, want nothing claimable, its due time", h, err)
	}
}
