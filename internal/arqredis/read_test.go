package arqredis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/goarq/goarq/internal/arqredis"
	"github.com/goarq/goarq/internal/testutil"
)

// A read whose pipeline meets a missing key (redis.Nil) before a real
// error reports the error: a queue key of the wrong type is not "not
// queued". go-redis returns only a pipeline's first error, and these reads
// used to accept redis.Nil as it.
func TestReadsReportErrorsAfterAMissingKey(t *testing.T) {
	ctx := context.Background()
	mr, rdb := testutil.Redis(t)
	r := arqredis.New(rdb, testutil.QuietLogger())
	mr.Set("q", "not a sorted set") // WRONGTYPE for ZSCORE, ZRANGE, ZCOUNT
	mr.ZAdd("zq", 0, "gone")        // its job key is missing
	mr.ZAdd("zq", 1, "j")
	mr.Set("arq:in-progress:j", "1")
	mr.HSet("arq:job:j", "f", "not a string") // WRONGTYPE for GET, after a job key that is missing

	wrongType := func(name string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Errorf("%s: err %v, want WRONGTYPE", name, err)
		}
	}
	_, err := r.JobState(ctx, "q", "j")
	wrongType("JobState", err)
	data, queued, err := r.PollResult(ctx, "q", "missing") // GET result: nil, then ZSCORE: WRONGTYPE
	if err == nil {
		t.Errorf("PollResult: %q queued=%v and no error", data, queued)
	}
	wrongType("PollResult", err)
	_, err = r.JobKeys(ctx, "q", "missing") // GET job: nil, ..., ZSCORE queue: WRONGTYPE
	wrongType("JobKeys", err)
	_, err = r.QueuePage(ctx, "zq", 0, 10) // GET arq:job:gone: nil, then GET arq:job:j: WRONGTYPE
	wrongType("QueuePage", err)
	k, err := r.JobKeys(ctx, "zq", "j")
	wrongType("JobKeys of a job key of the wrong type", err)
	if err == nil && k.Job == nil {
		t.Errorf("JobKeys: a job key of the wrong type reads as missing: %+v", k)
	}
}
