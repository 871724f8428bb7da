package arqredis

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/testutil"
)

// The targeted claim takes exactly the candidates that pass arq's per-id
// checks and still hold the record the caller decoded, within the caps of
// their groups, and leaves every other id untouched.
func TestClaimOwnChecksEachCandidate(t *testing.T) {
	mr, rdb := testutil.Redis(t)
	ctx := context.Background()
	r := New(rdb, testutil.QuietLogger())
	now := time.Now()
	nowMS := arqcompat.TimestampMS(now)
	q := arqcompat.DefaultQueueName
	add := func(id string, score int64, record string) {
		if record != "" {
			rdb.Set(ctx, arqcompat.JobKey(id), record, 0)
		}
		rdb.ZAdd(ctx, q, redis.Z{Score: float64(score), Member: id})
	}
	add("ok1", nowMS-10, "rec-ok1")
	add("ok2", nowMS-9, "rec-ok2")
	add("limited1", nowMS-8, "rec-l1")
	add("limited2", nowMS-7, "rec-l2")
	add("busy", nowMS-6, "rec-busy")
	rdb.Set(ctx, arqcompat.InProgressKey("busy"), "1", time.Minute)
	add("later", nowMS+60_000, "rec-later")
	add("changed", nowMS-5, "rec-now")
	add("expired", nowMS-4, "")
	sum := func(s string) string { return RecordSum([]byte(s)) }
	a := OwnClaimArgs{
		ClaimArgs: ClaimArgs{Queue: q, Now: now, Max: 10, InProgress: time.Minute, WantSize: true},
		Caps:      []int{10, 1},
		Candidates: []Candidate{
			{ID: "ok1", Sum: sum("rec-ok1")}, {ID: "limited1", Sum: sum("rec-l1"), Group: 1}, {ID: "limited2", Sum: sum("rec-l2"), Group: 1},
			{ID: "busy", Sum: sum("rec-busy")}, {ID: "later", Sum: sum("rec-later")}, {ID: "changed", Sum: sum("rec-then")},
			{ID: "gone", Sum: sum("x")}, {ID: "expired", Sum: ""}, {ID: "ok2", Sum: sum("rec-ok2")},
		},
	}
	rep, err := r.ClaimOwn(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range rep.Claimed {
		got = append(got, c.ID)
		if c.Try != 1 {
			t.Errorf("%s: try %d", c.ID, c.Try)
		}
	}
	if want := []string{"ok1", "limited1", "expired", "ok2"}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("claimed %v, want %v", got, want)
	}
	if rep.Claimed[2].Job != nil || string(rep.Claimed[0].Job) != "rec-ok1" {
		t.Errorf("records %q %q", rep.Claimed[0].Job, rep.Claimed[2].Job)
	}
	why := map[string]string{}
	for _, s := range rep.Skipped {
		why[s.ID] = s.Why
	}
	want := map[string]string{"limited2": "cap", "busy": "busy", "later": "later", "changed": "changed", "gone": "gone"}
	for id, w := range want {
		if why[id] != w {
			t.Errorf("%s skipped as %q, want %q", id, why[id], w)
		}
	}
	if rep.Size != 8 {
		t.Errorf("size %d", rep.Size)
	}
	for _, id := range []string{"limited2", "later", "changed"} {
		if mr.Exists(arqcompat.InProgressKey(id)) || mr.Exists(arqcompat.RetryKey(id)) {
			t.Errorf("%s was touched", id)
		}
	}
	if mr.Exists(arqcompat.RetryKey("busy")) {
		t.Error("busy was touched")
	}
	// the same claim again takes only limited2, within its group's cap: the
	// others are in progress now
	rep, err = r.ClaimOwn(ctx, a)
	if err != nil || len(rep.Claimed) != 1 || rep.Claimed[0].ID != "limited2" {
		t.Fatalf("second claim took %v, %v", rep.Claimed, err)
	}
}

func TestClaimOwnRejectsABadGroup(t *testing.T) {
	_, rdb := testutil.Redis(t)
	r := New(rdb, testutil.QuietLogger())
	_, err := r.ClaimOwn(context.Background(), OwnClaimArgs{ClaimArgs: ClaimArgs{Queue: "q", Now: time.Now(), Max: 1},
		Caps: []int{1}, Candidates: []Candidate{{ID: "a", Group: 1}}})
	if err == nil {
		t.Fatal("no error")
	}
}
