package worker

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
	"github.com/goarq/goarq/internal/testutil"
)

// With OnlyOwnFunctions, a queue full of other functions' jobs costs the
// worker little memory: a few dozen bytes per id, not an entry each.
func TestOnlyOwnFunctionsHoldsLittlePerForeignJob(t *testing.T) {
	_, rdb := testutil.Redis(t)
	ctx := context.Background()
	const n = 20_000
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	now := arqcompat.TimestampMS(time.Now())
	p := rdb.Pipeline()
	for i := range n {
		id := fmt.Sprintf("python-job-%d", i)
		data, err := arqcompat.EncodeJob(ser, arqcompat.JobRecord{Function: "python_only", EnqueueTimeMS: now - int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		p.Set(ctx, arqcompat.JobKey(id), data, time.Hour)
		p.ZAdd(ctx, arqcompat.DefaultQueueName, redis.Z{Score: float64(now - int64(i)), Member: id})
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := New(Settings{Functions: []Function{Func("mine", func(context.Context) {})}, OnlyOwnFunctions: true,
		RedisClient: rdb, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	w.store = arqredis.New(rdb, testutil.QuietLogger())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := w.claim.refreshOwn(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := w.claim.ownPending(); got != 0 {
		t.Fatalf("%d jobs of its own pending, want 0", got)
	}
	perID := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes held per foreign id", perID)
	if perID > 48 {
		t.Errorf("%d bytes held per queued id of another function, want at most 48", perID)
	}
	runtime.KeepAlive(w)
}
