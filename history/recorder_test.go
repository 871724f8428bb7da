package history_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/sqlite"
	"github.com/goarq/goarq/internal/redistest"
	"github.com/goarq/goarq/internal/testutil"
)

func writeResult(t *testing.T, ctx context.Context, srv *redistest.Server, id, fn string, ok bool, res any, startMS int64) {
	t.Helper()
	c := srv.Client(t, nil)
	data, err := arqcompat.EncodeResult(arqcompat.PickleSerializer(arqcompat.Limits{}), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: fn, Args: []any{int64(1), "a"}, JobTry: 1, EnqueueTimeMS: startMS - 5},
		Success:   ok, Result: res, StartMS: startMS, FinishMS: startMS + 7, Queue: "arq:queue", JobID: id})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, arqcompat.ResultKey(id), data, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
}

func waitCount(t *testing.T, s history.Store, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := s.Count(context.Background())
		if err == nil && got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("recorded %d, want %d (%v)", got, n, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serverAndStore starts a redis-server and opens a SQLite history in the
// test's directory, closed when the test ends.
func serverAndStore(ctx context.Context, t *testing.T) (*redistest.Server, history.Store) {
	t.Helper()
	srv := redistest.Start(t)
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return srv, store
}

// The recorder records results that were kept before it started (its
// first SCAN), those written while it runs (tracking: its SCAN interval is
// an hour) and undecodable ones (with the reason); each once.
func TestRecorderCapturesByScanAndTracking(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	now := time.Now().UnixMilli()
	writeResult(t, ctx, srv, "before", "f", true, int64(3), now-1000)
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), store, history.RecorderOptions{ScanInterval: time.Hour})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	waitCount(t, store, 1)
	for i := range 50 {
		writeResult(t, ctx, srv, fmt.Sprintf("live%d", i), "g", false, arqcompat.NewException("builtins", "ValueError", "no"), now+int64(i))
	}
	st := rec.Stats()
	waitCount(t, store, 51)
	// results written together are read together (one MGET per batch)
	if c := rec.Stats().Commands - st.Commands; c > 10 {
		t.Errorf("%d Redis commands to read 50 results", c)
	}
	if err := srv.Client(t, nil).Set(ctx, arqcompat.ResultKey("garbage"), "\x80\x04junk", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	waitCount(t, store, 52)
	// the same results written again (same start) are not recorded twice
	writeResult(t, ctx, srv, "live0", "g", false, arqcompat.NewException("builtins", "ValueError", "no"), now)
	writeResult(t, ctx, srv, "after", "f", true, nil, now+100)
	waitCount(t, store, 53)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, _ := store.Count(context.Background()); n != 53 {
		t.Fatalf("recorded %d, want 53", n)
	}
	p, err := store.Query(context.Background(), history.Filter{JobID: "garbage"})
	if err != nil || len(p.Records) != 1 || p.Records[0].Undecodable == "" || p.Records[0].Function != history.UnreadableFunction {
		t.Fatalf("garbage = %+v, %v", p.Records, err)
	}
	p, _ = store.Query(context.Background(), history.Filter{JobID: "live7"})
	if r := p.Records[0]; r.ExcClass != "ValueError" || r.ExcMessage != "no" || r.Args != "1, 'a'" || r.Function != "g" {
		t.Fatalf("live7 = %+v", r)
	}
	st = rec.Stats()
	if st.Scans != 1 {
		t.Fatalf("scans = %d, want only the first (the rest came by tracking)", st.Scans)
	}
	t.Logf("%d results recorded with %d Redis commands (%.2f per result)", st.Recorded, st.Commands, float64(st.Commands)/float64(st.Recorded))
}

// A Redis restart (tracking lost, then re-armed) is followed by a full
// SCAN: what was written while the connection was down is recorded.
func TestRecorderRescansAfterRedisRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), store, history.RecorderOptions{ScanInterval: time.Hour})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	now := time.Now().UnixMilli()
	writeResult(t, ctx, srv, "one", "f", true, nil, now)
	waitCount(t, store, 1)
	srv.Restart(t) // an empty Redis: nothing kept, tracking re-arms
	writeResult(t, ctx, srv, "two", "f", true, nil, now+1)
	waitCount(t, store, 2)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRecorder is the recorder's whole cost per result: tracking
// pushes, MGET, decoding and the SQLite store, for results written in
// pipelines of 1,000.
func BenchmarkRecorder(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := redistest.Start(b)
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "h.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	rc := srv.Client(b, nil)
	rec := history.NewRecorder(client.New(rc, client.Options{}), store, history.RecorderOptions{ScanInterval: time.Hour})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	now := time.Now().UnixMilli()
	b.ResetTimer()
	for i := 0; i < b.N; i += 1000 {
		pipe := rc.Pipeline()
		for j := i; j < min(i+1000, b.N); j++ {
			data, _ := arqcompat.EncodeResult(ser, arqcompat.ResultRecord{
				JobRecord: arqcompat.JobRecord{Function: "add", Args: []any{int64(j), int64(1)}, JobTry: 1, EnqueueTimeMS: now},
				Success:   true, Result: int64(j + 1), StartMS: now + int64(j), FinishMS: now + int64(j) + 1, Queue: "arq:queue", JobID: fmt.Sprint(j)})
			pipe.Set(ctx, arqcompat.ResultKey(fmt.Sprint(j)), data, time.Hour)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for rec.Stats().Recorded < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
}

// MaxRate paces the recorder while it keeps up (results finished less
// than MaxLag ago), and not once it is MaxLag behind; nothing is lost
// either way.
func TestRecorderPacesOnlyWhileItKeepsUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	now := time.Now().UnixMilli()
	for i := range 300 { // a backlog two minutes old: read at full speed
		writeResult(t, ctx, srv, fmt.Sprintf("old%d", i), "f", true, nil, now-120_000+int64(i))
	}
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), store,
		history.RecorderOptions{ScanInterval: time.Hour, MaxRate: 100, MaxLag: time.Minute})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	waitCount(t, store, 300)
	if p := rec.Stats().Paced; p != 0 {
		t.Fatalf("paced %s over a backlog older than MaxLag", p)
	}
	for i := range 50 { // fresh results: at most 100 a second
		writeResult(t, ctx, srv, fmt.Sprintf("new%d", i), "f", true, nil, time.Now().UnixMilli())
	}
	waitCount(t, store, 350)
	deadline := time.Now().Add(10 * time.Second)
	for rec.Stats().Paced < 300*time.Millisecond { // 50 at 100/s: 0.5 s less the time storing them took
		if time.Now().After(deadline) {
			t.Fatalf("paced %s for 50 fresh results at 100/s", rec.Stats().Paced)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// brokenIndex is a store whose text indexer fails.
type brokenIndex struct{ history.Store }

func (brokenIndex) TextIndexErr() error { return errors.New("disk I/O error") }

// The recorder logs a store's failing text indexer (the store has no
// logger of its own).
func TestRecorderReportsATextIndexFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	var logs testutil.SyncBuffer
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), brokenIndex{store},
		history.RecorderOptions{PruneInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "the text index is not being updated"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning logged: %s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "disk I/O error") {
		t.Errorf("the warning does not say why: %s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// burst writes results kept for keep from its own goroutine, about rate
// a second in pipelines of 50, until stopped; stop returns how many it
// wrote.
func burst(t *testing.T, ctx context.Context, srv *redistest.Server, prefix string, rate int, keep time.Duration) (stop func() int) {
	t.Helper()
	return burstIDs(t, ctx, srv, func(n int) string { return fmt.Sprint(prefix, n) }, rate, keep)
}

// burstIDs is burst with the job ids id(0), id(1), ...
func burstIDs(t *testing.T, ctx context.Context, srv *redistest.Server, id func(n int) string, rate int, keep time.Duration) (stop func() int) {
	t.Helper()
	c := srv.Client(t, nil)
	quit, done := make(chan struct{}), make(chan int, 1)
	go func() {
		n := 0
		tick := time.NewTicker(time.Duration(float64(time.Second) * 50 / float64(rate)))
		defer tick.Stop()
		for {
			select {
			case <-quit:
				done <- n
				return
			case <-tick.C:
			}
			pipe := c.Pipeline()
			for range 50 {
				now := time.Now().UnixMilli()
				data, err := arqcompat.EncodeResult(arqcompat.PickleSerializer(arqcompat.Limits{}), arqcompat.ResultRecord{
					JobRecord: arqcompat.JobRecord{Function: "f", Args: []any{int64(n)}, JobTry: 1, EnqueueTimeMS: now - 5},
					Success:   true, Result: int64(n), StartMS: now, FinishMS: now + 1, Queue: "arq:queue", JobID: id(n)})
				if err != nil {
					panic(err)
				}
				pipe.Set(ctx, arqcompat.ResultKey(id(n)), data, keep)
				n++
			}
			if _, err := pipe.Exec(ctx); err != nil && ctx.Err() == nil {
				panic(err)
			}
		}
	}()
	return func() int { close(quit); return <-done }
}

// trackingClients counts the connections with client tracking on.
func trackingClients(t *testing.T, ctx context.Context, srv *redistest.Server) int {
	t.Helper()
	list, err := srv.Client(t, nil).ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		for _, f := range strings.Fields(line) {
			if flags, ok := strings.CutPrefix(f, "flags="); ok && strings.Contains(flags, "t") {
				n++
			}
		}
	}
	return n
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// With YieldAbove, a burst of results makes the recorder yield: it drops
// its tracking (Redis then tracks nothing for it) and reads nothing, and
// once the burst is over it re-arms and catches up, recording every
// result once, those written while it yielded included.
func TestRecorderYieldsToABurstAndCatchesUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), store,
		history.RecorderOptions{ScanInterval: time.Hour, YieldAbove: 1000, NoStage: true, MaxLag: time.Minute})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	await(t, "tracking is armed", func() bool { return rec.Stats().Tracking })
	if n := trackingClients(t, ctx, srv); n != 1 {
		t.Fatalf("%d tracking connections before the burst, want the recorder's 1", n)
	}
	stop := burst(t, ctx, srv, "b", 5000, time.Hour)
	await(t, "the recorder yields", func() bool { st := rec.Stats(); return st.Yields == 1 && !st.Tracking })
	if n := trackingClients(t, ctx, srv); n != 0 {
		t.Errorf("%d tracking connections while the recorder yields, want 0", n)
	}
	yielded, err := store.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the burst goes on; the recorder stays aside
	if n, _ := store.Count(ctx); n != yielded {
		t.Errorf("recorded %d results while yielding (%d before)", n-yielded, yielded)
	}
	wrote := stop()
	waitCount(t, store, int64(wrote))
	await(t, "tracking is re-armed", func() bool { return rec.Stats().Tracking })
	if n, _ := store.Count(ctx); n != int64(wrote) {
		t.Fatalf("recorded %d, wrote %d", n, wrote)
	}
	await(t, "the recorder counts what it stored", func() bool { return rec.Stats().Recorded == int64(wrote) })
	if st := rec.Stats(); st.Yields != 1 || st.Yielded <= 0 {
		t.Errorf("stats %+v after %d results in one burst", st, wrote)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A burst longer than MaxLag gets the recorder back after MaxLag: it
// re-arms and catches up while the burst goes on, so the results wait in
// Redis no longer than that.
func TestRecorderYieldsNoLongerThanMaxLag(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	const maxLag = 2500 * time.Millisecond
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), store,
		history.RecorderOptions{ScanInterval: time.Hour, YieldAbove: 1000, NoStage: true, MaxLag: maxLag})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	await(t, "tracking is armed", func() bool { return rec.Stats().Tracking })
	stop := burst(t, ctx, srv, "b", 5000, time.Hour)
	await(t, "the recorder yields", func() bool { return !rec.Stats().Tracking })
	t0 := time.Now()
	await(t, "the recorder is back", func() bool { return rec.Stats().Tracking })
	if back := time.Since(t0); back > maxLag {
		t.Errorf("back after %s, over MaxLag %s", back, maxLag)
	}
	recorded, err := store.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wrote := stop()
	if recorded == 0 || rec.Stats().Yields == 0 {
		t.Fatalf("back from yielding, recorded %d (stats %+v)", recorded, rec.Stats())
	}
	waitCount(t, store, int64(wrote))
	if n, _ := store.Count(ctx); n != int64(wrote) {
		t.Fatalf("recorded %d, wrote %d", n, wrote)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The recorder does not yield when the results are kept for less than
// twice MaxLag: they could expire before it caught up. It says so once,
// and records every result as it is written.
func TestRecorderDoesNotYieldWhenResultsAreKeptBriefly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	var logs testutil.SyncBuffer
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), store,
		history.RecorderOptions{ScanInterval: time.Hour, YieldAbove: 1000, NoStage: true, MaxLag: 10 * time.Second,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	await(t, "tracking is armed", func() bool { return rec.Stats().Tracking })
	stop := burst(t, ctx, srv, "b", 2500, 15*time.Second) // under 2 × MaxLag
	await(t, "the recorder declines to yield", func() bool { return strings.Contains(logs.String(), "not yielding to a burst") })
	time.Sleep(600 * time.Millisecond) // the burst goes on: the recorder would yield again
	wrote := stop()
	waitCount(t, store, int64(wrote))
	if st := rec.Stats(); st.Yields != 0 || !st.Tracking {
		t.Errorf("stats %+v: yielded with results kept 15 s and MaxLag 10 s", st)
	}
	if n := strings.Count(logs.String(), "not yielding to a burst"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// countingStore counts the records handed to Add: the results the
// recorder built in full and inserted.
type countingStore struct {
	history.Store
	added atomic.Int64
}

func (s *countingStore) Add(ctx context.Context, recs []history.Record) (int, error) {
	s.added.Add(int64(len(recs)))
	return s.Store.Add(ctx, recs)
}

// writeResults writes the results of ids started at start+i, in one
// pipeline.
func writeResults(t *testing.T, ctx context.Context, srv *redistest.Server, ids []string, start int64) {
	t.Helper()
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	pipe := srv.Client(t, nil).Pipeline()
	for i, id := range ids {
		data, err := arqcompat.EncodeResult(ser, arqcompat.ResultRecord{
			JobRecord: arqcompat.JobRecord{Function: "f", Args: []any{int64(i)}, JobTry: 1, EnqueueTimeMS: start + int64(i) - 5},
			Success:   true, Result: int64(i), StartMS: start + int64(i), FinishMS: start + int64(i) + 7, Queue: "arq:queue", JobID: id})
		if err != nil {
			t.Fatal(err)
		}
		pipe.Set(ctx, arqcompat.ResultKey(id), data, time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// The SCAN backstop does not insert again what is stored: a pass over
// results recorded earlier (by this recorder or another, whatever its
// memory) hands the store nothing, and a later pass hands it only the new
// results and the keys rewritten with another start time (an id that ran
// again), which are recorded.
func TestRecorderScanInsertsOnlyWhatIsNew(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	now := time.Now().UnixMilli()
	var ids []string
	for i := range 1500 { // more than one SCAN page and one MGET
		ids = append(ids, fmt.Sprintf("kept%d", i))
	}
	writeResults(t, ctx, srv, ids, now-60_000)
	if err := srv.Client(t, nil).Set(ctx, arqcompat.ResultKey("garbage"), "\x80\x04junk", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	counting := &countingStore{Store: store}
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), counting,
		history.RecorderOptions{ScanInterval: 20 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	waitCount(t, store, 1501)
	scans := rec.Stats().Scans
	for deadline := time.Now().Add(10 * time.Second); rec.Stats().Scans < scans+3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d SCAN passes in 10 s", rec.Stats().Scans-scans)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := counting.added.Load(); n != 1501 {
		t.Fatalf("the store was handed %d records over %d SCAN passes; want the 1501 results once", n, rec.Stats().Scans)
	}

	// another recorder (an empty memory, as after a restart) over the same
	// results, two rewritten with a new start and three new ones
	ctx = context.Background()
	writeResults(t, ctx, srv, []string{"kept7", "kept1400"}, now)
	writeResults(t, ctx, srv, []string{"new0", "new1", "new2"}, now)
	counting = &countingStore{Store: store}
	rec = history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), counting, history.RecorderOptions{})
	if err := rec.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st := rec.Stats()
	if n := counting.added.Load(); n != 5 || st.Recorded != 5 || st.Duplicates != 1499 {
		t.Fatalf("handed %d records to the store, recorded %d, %d duplicates; want 5, 5 and 1499", n, st.Recorded, st.Duplicates)
	}
	if n, _ := store.Count(context.Background()); n != 1506 {
		t.Fatalf("%d records, want 1506", n)
	}
	p, err := store.Query(context.Background(), history.Filter{JobID: "kept1400"})
	if err != nil || len(p.Records) != 2 || p.Records[0].StartMS != now+1 || p.Records[1].StartMS != now-60_000+1400 {
		t.Fatalf("kept1400's records = %+v, %v; want both runs", p.Records, err)
	}
	// 1 SCAN + 1 MGET per page of at most 1,000 keys: 2 pages or a few more
	if c := st.Commands; c > 8 {
		t.Errorf("%d Redis commands for one pass over 1,506 results", c)
	}
}

// With YieldAbove and a store that stages (the default), a burst of
// results is staged raw: the staged rows grow while the records do not,
// tracking stays armed, and once the burst is over every staged result
// is promoted into a record, each exactly once.
func TestRecorderStagesABurstAndPromotesIt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	stager := store.(history.Stager)
	var logs testutil.SyncBuffer
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), store,
		history.RecorderOptions{ScanInterval: time.Hour, YieldAbove: 1000, MaxLag: time.Minute,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	await(t, "tracking is armed", func() bool { return rec.Stats().Tracking })
	stop := burst(t, ctx, srv, "b", 5000, time.Hour)
	await(t, "results are staged", func() bool { n, _ := stager.StagedCount(ctx); return n > 0 })
	before, err := store.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	staged0, _ := stager.StagedCount(ctx)
	await(t, "more results are staged", func() bool { n, _ := stager.StagedCount(ctx); return n >= staged0+1000 })
	if n, _ := store.Count(ctx); n != before {
		t.Errorf("recorded %d results while staging (%d before)", n-before, before)
	}
	if st := rec.Stats(); !st.Tracking || st.Yields != 0 {
		t.Errorf("stats %+v while staging: want tracking armed, no yield", st)
	}
	wrote := stop()
	waitCount(t, store, int64(wrote))
	await(t, "the staged rows are promoted", func() bool { st := rec.Stats(); return st.Promoted == st.Staged })
	if n, _ := stager.StagedCount(ctx); n != 0 {
		t.Errorf("%d rows still staged", n)
	}
	if n, _ := store.Count(ctx); n != int64(wrote) {
		t.Fatalf("recorded %d, wrote %d", n, wrote)
	}
	page, err := store.Query(ctx, history.Filter{JobID: "b7"})
	if err != nil || len(page.Records) != 1 || page.Records[0].Args != "7" || page.Records[0].Result != "7" {
		t.Fatalf("record of b7 = %+v, %v", page.Records, err)
	}
	st := rec.Stats()
	if st.Staged == 0 || st.Promoted != st.Staged || st.Recorded != int64(wrote) {
		t.Errorf("stats %+v after %d results", st, wrote)
	}
	await(t, "the promotion is logged", func() bool { return strings.Contains(logs.String(), "promoted") })
	if !strings.Contains(logs.String(), "staging them raw") {
		t.Errorf("log:\n%s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A recorder that ends with results staged (killed during a burst: no
// promote) leaves them in the store, and the next recorder promotes them
// when it starts, even once the results are gone from Redis.
func TestRecorderPromotesWhatAnEndedRecorderStaged(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	stager := store.(history.Stager)
	c := client.New(srv.Client(t, nil), client.Options{})
	rctx, rcancel := context.WithCancel(ctx)
	rec := history.NewRecorder(c, store, history.RecorderOptions{ScanInterval: time.Hour, YieldAbove: 1000, MaxLag: time.Minute})
	done := make(chan error, 1)
	go func() { done <- rec.Run(rctx) }()
	await(t, "tracking is armed", func() bool { return rec.Stats().Tracking })
	stop := burst(t, ctx, srv, "b", 5000, time.Hour)
	await(t, "results are staged", func() bool { n, _ := stager.StagedCount(ctx); return n >= 500 })
	rcancel() // during the burst: nothing promoted
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wrote := stop()
	// what the store holds, recorded or staged: a result may be both (the
	// first SCAN read it and tracking reported it)
	rows, err := stager.StagedBatch(ctx, wrote+1)
	if err != nil || len(rows) < 500 {
		t.Fatalf("staged %d, %v", len(rows), err)
	}
	all := make([]string, wrote)
	for i := range all {
		all[i] = fmt.Sprint("b", i)
	}
	recorded, err := store.Recorded(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for id := range recorded {
		want[id] = true
	}
	for _, row := range rows {
		want[row.JobID] = true
	}
	if err := srv.Client(t, nil).FlushAll(ctx).Err(); err != nil { // only the staged rows hold them now
		t.Fatal(err)
	}
	rec2 := history.NewRecorder(c, store, history.RecorderOptions{ScanInterval: time.Hour})
	go func() { done <- rec2.Run(ctx) }()
	await(t, "the staged rows are promoted", func() bool { return rec2.Stats().Promoted >= int64(len(rows)) })
	if n, _ := stager.StagedCount(ctx); n != 0 {
		t.Errorf("%d rows still staged", n)
	}
	if n, _ := store.Count(ctx); n != int64(len(want)) {
		t.Errorf("recorded %d after promoting, want %d (%d recorded before, %d staged)", n, len(want), len(recorded), len(rows))
	}
	got, err := store.Recorded(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for id := range want {
		if len(got[id]) != 1 {
			t.Fatalf("%s recorded %d times", id, len(got[id]))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A kept result that finished before the retention's age bound (arq's
// keep_result_forever, or a --history-retention under keep_result) is not
// recorded: each SCAN pass used to record it again after each prune had
// deleted it, every minute.
func TestRecorderDoesNotRecordWhatRetentionDeletes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	now := time.Now().UnixMilli()
	writeResults(t, ctx, srv, []string{"old0", "old1", "old2"}, now-2*time.Hour.Milliseconds())
	writeResults(t, ctx, srv, []string{"fresh0", "fresh1"}, now-time.Minute.Milliseconds())
	counting := &countingStore{Store: store}
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), counting, history.RecorderOptions{
		ScanInterval: 20 * time.Millisecond, PruneInterval: 20 * time.Millisecond, Retention: history.Retention{MaxAge: time.Hour}})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	waitCount(t, store, 2)
	for deadline := time.Now().Add(10 * time.Second); rec.Stats().Scans < 5; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d SCAN passes in 10 s", rec.Stats().Scans)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := rec.Stats()
	if n := counting.added.Load(); n != 2 || st.Recorded != 2 || st.Aged < 3 {
		t.Fatalf("over %d SCAN passes the store was handed %d records (recorded %d, %d too old); want the 2 fresh ones once",
			st.Scans, n, st.Recorded, st.Aged)
	}
	if n, _ := store.Count(context.Background()); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
}

// A burst faster than MaxRate is staged through a share of the job ids
// (by their first hex digit), sized to MaxRate: the recorder stages those
// only, and once the burst is over it tracks every result again and reads
// the rest by SCAN, recording every result once.
func TestRecorderStagesAShareOfAFastBurst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	stager := store.(history.Stager)
	var logs testutil.SyncBuffer
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), store,
		history.RecorderOptions{ScanInterval: time.Hour, YieldAbove: 1000, MaxRate: 1000, MaxLag: time.Minute,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	await(t, "tracking is armed", func() bool { return rec.Stats().Tracking })
	// ids spread over the 16 first digits, as uuid4 hex ids are; at
	// 4,000/s the share is 4/16, re-sized only past 5,000/s or under 3,200
	stop := burstIDs(t, ctx, srv, func(n int) string { return fmt.Sprintf("%x-%d", n%16, n) }, 4000, time.Hour)
	await(t, "the recorder tracks a share of the ids", func() bool { return rec.Stats().Share < 16 })
	// staged rows by whether their id is in a share
	counts := func(share int) (in, out int) {
		rows, err := stager.StagedBatch(ctx, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if strings.IndexByte("0123456789abcdef"[:share], r.JobID[0]) >= 0 {
				in++
			} else {
				out++
			}
		}
		return in, out
	}
	// the first share is sized on the burst's first 200 ms, and may be
	// re-sized on a whole window's rate (or when the burst's own rate
	// wavers on a loaded machine): a share that holds for a second, then
	// 2,000 staged results in it and none outside it (a re-size in
	// between starts over, three times at most)
	for attempt := 1; ; attempt++ {
		share, since := rec.Stats().Share, time.Now()
		await(t, "the share holds for a second", func() bool {
			if now := rec.Stats().Share; now != share {
				share, since = now, time.Now()
			}
			return time.Since(since) >= time.Second
		})
		in0, _ := counts(share) // what was pending when it narrowed is staged first
		await(t, "the share is staged", func() bool { in, _ := counts(share); return in >= in0+1000 })
		in1, out1 := counts(share)
		await(t, "more of the share is staged", func() bool { in, _ := counts(share); return in >= in1+1000 })
		if now := rec.Stats().Share; now != share {
			if attempt < 3 {
				continue
			}
			t.Fatalf("the share went from %d/16 to %d/16 three times in a row at a steady rate", share, now)
		}
		if _, out2 := counts(share); out2 != out1 {
			t.Errorf("%d results outside the share (%d/16 of the ids) were staged while it tracked the share only", out2-out1, share)
		}
		break
	}
	wrote := stop()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stats %+v; log:\n%s", rec.Stats(), logs.String())
		}
	})
	await(t, "every result is tracked again", func() bool { return rec.Stats().Share == 16 })
	waitCount(t, store, int64(wrote))
	if n, _ := store.Count(ctx); n != int64(wrote) {
		t.Fatalf("recorded %d, wrote %d", n, wrote)
	}
	if n, _ := stager.StagedCount(ctx); n != 0 {
		t.Errorf("%d rows still staged", n)
	}
	st := rec.Stats()
	if st.Narrows == 0 || st.Narrowed <= 0 || st.Recorded != int64(wrote) || st.Yields != 0 {
		t.Errorf("stats %+v after %d results", st, wrote)
	}
	for _, line := range []string{"/16 of the job ids raw, the rest after the burst", "tracking every result again after"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("no %q in the log:\n%s", line, logs.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// stageResults stages the encoded results of ids (not written to Redis),
// started at start+i and finished 7 ms later, as a burst leaves them.
func stageResults(t *testing.T, ctx context.Context, st history.Stager, ids []string, start int64) {
	t.Helper()
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	rows := make([]history.Staged, len(ids))
	for i, id := range ids {
		data, err := arqcompat.EncodeResult(ser, arqcompat.ResultRecord{
			JobRecord: arqcompat.JobRecord{Function: "f", Args: []any{int64(i)}, JobTry: 1, EnqueueTimeMS: start + int64(i) - 5},
			Success:   true, Result: int64(i), StartMS: start + int64(i), FinishMS: start + int64(i) + 7, Queue: "arq:queue", JobID: id})
		if err != nil {
			t.Fatal(err)
		}
		rows[i] = history.Staged{JobID: id, Data: data, StagedMS: start}
	}
	if err := st.Stage(ctx, rows); err != nil {
		t.Fatal(err)
	}
}

// Sync, the one-shot pass goarq retry runs, promotes what a recorder
// stopped during a burst left staged (the results are gone from Redis),
// as well as reading the kept results: it leaves nothing staged, and a
// failure staged is then there for goarq retry to find.
func TestRecorderSyncPromotesWhatIsStaged(t *testing.T) {
	ctx := context.Background()
	srv, store := serverAndStore(ctx, t)
	st := store.(history.Stager)
	now := time.Now().UnixMilli()
	var ids []string
	for i := range 5002 { // more than one promote batch
		ids = append(ids, fmt.Sprint("st", i))
	}
	stageResults(t, ctx, st, ids, now-60_000)
	writeResults(t, ctx, srv, []string{"kept0"}, now-30_000)
	rec := history.NewRecorder(client.New(srv.Client(t, nil), client.Options{}), store, history.RecorderOptions{})
	if err := rec.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := st.StagedCount(ctx); err != nil || n != 0 {
		t.Fatalf("%d rows still staged after Sync (%v)", n, err)
	}
	if n, _ := store.Count(ctx); n != 5003 {
		t.Fatalf("%d records after Sync, want the 5,002 staged and the one kept", n)
	}
	p, err := store.Query(ctx, history.Filter{JobID: "st5001"})
	if err != nil || len(p.Records) != 1 || p.Records[0].Args != "5001" || p.Records[0].StartMS != now-60_000+5001 {
		t.Fatalf("record of st5001 = %+v, %v", p.Records, err)
	}
	if s := rec.Stats(); s.Promoted != 5002 || s.Recorded != 5003 {
		t.Fatalf("stats %+v: want 5002 promoted, 5003 recorded", s)
	}
}

// Promotion records by the rules of reading from Redis: a staged result
// that finished before Retention.MaxAge is not recorded (Aged; the next
// prune would delete it), and one recorded already (a SCAN pass read it
// before tracking reported it for staging) is not recorded twice
// (Duplicates). Both leave the staging table.
func TestRecorderPromotesByTheRulesOfReading(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, store := serverAndStore(ctx, t)
	st := store.(history.Stager)
	c := client.New(srv.Client(t, nil), client.Options{})
	now := time.Now().UnixMilli()
	// dup0 recorded from Redis, then gone from it
	writeResults(t, ctx, srv, []string{"dup0"}, now-60_000)
	if err := history.NewRecorder(c, store, history.RecorderOptions{}).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client(t, nil).FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	stageResults(t, ctx, st, []string{"dup0"}, now-60_000)
	stageResults(t, ctx, st, []string{"old0", "old1"}, now-2*time.Hour.Milliseconds())
	stageResults(t, ctx, st, []string{"new0", "new1", "new2"}, now-30_000)
	counting := &countingStore{Store: store}
	rec := history.NewRecorder(c, struct {
		*countingStore
		history.Stager
	}{counting, st}, history.RecorderOptions{ScanInterval: time.Hour, PruneInterval: time.Hour, Retention: history.Retention{MaxAge: time.Hour}})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	await(t, "the staged rows are promoted", func() bool { n, _ := st.StagedCount(ctx); return n == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := rec.Stats()
	if s.Promoted != 6 || s.Aged != 2 || s.Recorded != 3 || s.Duplicates != 1 {
		t.Errorf("stats %+v: want 6 promoted, 2 aged, 3 recorded, 1 duplicate", s)
	}
	if n := counting.added.Load(); n != 4 {
		t.Errorf("the store was handed %d records, want the 3 new and dup0 (left to INSERT OR IGNORE)", n)
	}
	all := []string{"dup0", "old0", "old1", "new0", "new1", "new2"}
	got, err := store.Recorded(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range all {
		want := 1
		if strings.HasPrefix(id, "old") {
			want = 0
		}
		if len(got[id]) != want {
			t.Errorf("%s recorded %d times, want %d", id, len(got[id]), want)
		}
	}
}
