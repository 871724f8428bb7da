package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/arqredis"
)

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	// Serializer decodes the results (the fleet's job_serializer); default
	// the client's.
	Serializer arqcompat.Serializer
	// ScanInterval is how often the SCAN backstop walks the result keys;
	// default 1 minute. It also runs at start and whenever tracking re-arms.
	ScanInterval time.Duration
	// Retention is enforced every PruneInterval (default 1 minute).
	Retention     Retention
	PruneInterval time.Duration
	// BatchWait is how long the recorder lets reported ids gather before
	// it reads them with one MGET (default 100 ms): at a high rate one
	// command then reads many results.
	BatchWait time.Duration
	// MaxPending bounds the ids waiting to be read (default 100,000); past
	// it, they are dropped and the next SCAN finds them.
	MaxPending int
	// MaxRate, when set, paces the recorder: it stores at most this many
	// results per second while it is less than MaxLag behind (the oldest
	// result of a batch finished less than MaxLag ago), and at full speed
	// past that. A recorder sharing its machine with workers then leaves
	// them the CPU during a burst, and catches up when the burst ends or
	// it falls MaxLag behind; the results wait in Redis meanwhile, so
	// MaxLag must stay well under the fleet's keep_result (arq's default
	// is one hour). Zero: no pacing.
	MaxRate float64
	// MaxLag defaults to 1 minute.
	MaxLag time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// RecorderStats count what a Recorder did.
type RecorderStats struct {
	// Recorded results added to the store; Duplicates read again but
	// already stored.
	Recorded, Duplicates int64
	// Commands are the Redis commands sent for reads (MGET, SCAN); the
	// tracking connection's pushes cost none.
	Commands int64
	Scans    int64
	// Paced is how long MaxRate held the recorder back.
	Paced time.Duration
	// Tracking reports whether client tracking is armed now.
	Tracking bool
}

// Recorder copies every result a worker writes into a Store. Capture:
// client tracking on arq:result: tells it which ids were written (one MGET
// per 1,000 of them reads them, up to 5,000 per store transaction); a
// SCAN pass at start, on every tracking re-arm and every ScanInterval
// finds what tracking could not report. A recorder that was down for less than keep_result finds the
// results written meanwhile on its first SCAN. Each result is stored once,
// keyed by job id and start time.
type Recorder struct {
	rdb   *arqredis.RDB
	store Store
	o     RecorderOptions
	log   *slog.Logger

	mu       sync.Mutex
	pending  map[string]struct{}
	fullScan bool // tracking lost sight: the next scan reads every id
	wake     chan struct{}

	recorded, dups, cmds, scans, paced atomic.Int64
	watcher                            atomic.Pointer[arqredis.Watcher]
}

// storeBatch is the most results one store transaction adds: SQLite's
// cost per record falls with the batch (fewer commits, each rewriting
// the indexes' hot pages once), up to a few thousand.
const storeBatch = 5000

// NewRecorder makes a Recorder reading the Redis of c into store.
func NewRecorder(c *client.Client, store Store, o RecorderOptions) *Recorder {
	if o.Serializer == nil {
		o.Serializer = c.Serializer()
	}
	if o.ScanInterval <= 0 {
		o.ScanInterval = time.Minute
	}
	if o.PruneInterval <= 0 {
		o.PruneInterval = time.Minute
	}
	if o.BatchWait <= 0 {
		o.BatchWait = 100 * time.Millisecond
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 100_000
	}
	if o.MaxLag <= 0 {
		o.MaxLag = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Recorder{rdb: arqredis.New(c.Redis(), o.Logger), store: store, o: o, log: o.Logger,
		pending: map[string]struct{}{}, wake: make(chan struct{}, 1)}
}

// Stats reads the counters.
func (r *Recorder) Stats() RecorderStats {
	w := r.watcher.Load()
	return RecorderStats{Recorded: r.recorded.Load(), Duplicates: r.dups.Load(), Commands: r.cmds.Load(),
		Scans: r.scans.Load(), Paced: time.Duration(r.paced.Load()), Tracking: w != nil && w.Armed()}
}

func (r *Recorder) onIDs(ids []string) {
	r.mu.Lock()
	if ids == nil {
		r.fullScan = true
	} else if !r.fullScan {
		for _, id := range ids {
			if len(r.pending) >= r.o.MaxPending {
				// the SCAN that follows reads them all
				r.pending = map[string]struct{}{}
				r.fullScan = true
				break
			}
			r.pending[id] = struct{}{}
		}
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run records until ctx ends; it returns nil then, or the store's error.
// Redis errors are logged and retried.
func (r *Recorder) Run(ctx context.Context) error {
	w, err := r.rdb.WatchResults(ctx, arqredis.ResultWatchOptions{OnIDs: r.onIDs, Logger: r.log})
	switch {
	case errors.Is(err, arqredis.ErrTrackingUnsupported):
		r.log.WarnContext(ctx, fmt.Sprintf("history: client tracking unavailable (%v); recording by SCAN every %s", err, r.o.ScanInterval))
		r.onIDs(nil) // the first pass reads everything kept
	case err != nil:
		return err
	default:
		// the Watcher reports nil keys once armed (and on every re-arm):
		// the first pass then reads everything kept
		r.watcher.Store(w)
		defer w.Close()
	}
	scanT := time.NewTicker(r.o.ScanInterval)
	defer scanT.Stop()
	pruneT := time.NewTicker(r.o.PruneInterval)
	defer pruneT.Stop()
	r.prune(ctx)
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
			r.gather(ctx)
		case <-scanT.C:
			if err := r.scan(ctx); err != nil {
				if fatal := r.failed(ctx, err, &backoff); fatal != nil {
					return fatal
				}
			}
			continue
		case <-pruneT.C:
			r.prune(ctx)
			continue
		}
		if err := r.drain(ctx); err != nil {
			if fatal := r.failed(ctx, err, &backoff); fatal != nil {
				return fatal
			}
			continue
		}
		backoff = 0
	}
}

// gather waits BatchWait for more ids, unless a batch is already full.
func (r *Recorder) gather(ctx context.Context) {
	r.mu.Lock()
	n := len(r.pending)
	r.mu.Unlock()
	if n >= storeBatch {
		return
	}
	t := time.NewTimer(r.o.BatchWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// storeError marks a failure of the store, which ends Run when ctx is done
// and is retried otherwise.
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

// failed logs err and waits before the next attempt; the wake channel is
// re-armed so the attempt happens.
func (r *Recorder) failed(ctx context.Context, err error, backoff *time.Duration) error {
	if ctx.Err() != nil {
		return nil
	}
	r.log.WarnContext(ctx, "history: recording failed, retrying", "error", err)
	*backoff = min(max(2**backoff, 100*time.Millisecond), 5*time.Second)
	t := time.NewTimer(*backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// drain reads what tracking reported, and runs a full scan when asked.
func (r *Recorder) drain(ctx context.Context) error {
	for {
		r.mu.Lock()
		full := r.fullScan
		r.fullScan = false
		var ids []string
		for id := range r.pending {
			ids = append(ids, id)
			delete(r.pending, id)
			if len(ids) == storeBatch {
				break
			}
		}
		r.mu.Unlock()
		if full {
			if err := r.scan(ctx); err != nil {
				r.mu.Lock()
				r.fullScan = true
				r.mu.Unlock()
				return err
			}
		}
		if len(ids) == 0 {
			if full {
				continue
			}
			return nil
		}
		if err := r.read(ctx, ids, false); err != nil {
			r.mu.Lock()
			for _, id := range ids {
				r.pending[id] = struct{}{}
			}
			r.mu.Unlock()
			return err
		}
	}
}

// scan walks the result keys, a page (SCAN COUNT 1000) at a time. Most
// results it finds are stored already (tracking reported them, or an
// earlier pass found them), so it reads each page with one MGET and asks
// the store which of the page's ids it holds (one query): a result whose
// job id and start time are stored is decoded (for its start time) but
// neither built into a record nor inserted. A key rewritten since with
// another start (an id that ran again once its result expired) is
// stored. Redis: one SCAN and one MGET per 1,000 kept results.
func (r *Recorder) scan(ctx context.Context) error {
	r.scans.Add(1)
	return r.rdb.ScanResultPages(ctx, func(ids []string) error {
		r.cmds.Add(1)
		return r.read(ctx, ids, true)
	})
}

// read reads the results of ids with MGET and stores those not stored
// yet; known (a SCAN page) asks the store first which of them it holds.
// Ids reported by tracking are mostly new: their duplicates are left to
// the store's INSERT OR IGNORE.
func (r *Recorder) read(ctx context.Context, ids []string, known bool) error {
	t0 := time.Now()
	recs, err := r.rdb.Results(ctx, ids)
	r.cmds.Add(int64((len(ids) + 999) / 1000))
	if err != nil {
		return err
	}
	type decoded struct {
		rr  arqredis.Record
		res arqcompat.ResultRecord
		err error
	}
	ds := make([]decoded, 0, len(recs))
	for _, rr := range recs {
		if rr.Data == nil { // deleted or expired
			continue
		}
		res, err := arqcompat.DecodeResult(r.o.Serializer, rr.Data)
		ds = append(ds, decoded{rr, res, err})
	}
	var stored map[string][]int64
	if known && len(ds) > 0 {
		present := make([]string, len(ds))
		for i, d := range ds {
			present[i] = d.rr.JobID
		}
		if stored, err = r.store.Recorded(ctx, present); err != nil {
			return storeError{err}
		}
	}
	now := r.o.Now()
	out := make([]Record, 0, len(ds))
	for _, d := range ds {
		start := d.res.StartMS
		if d.err != nil {
			start = 0 // as FromResult records an undecodable result
		}
		if slices.Contains(stored[d.rr.JobID], start) {
			r.dups.Add(1)
			continue
		}
		out = append(out, fromDecoded(r.o.Serializer, d.rr.JobID, d.rr.Data, d.res, d.err, now))
	}
	if len(out) == 0 {
		return nil
	}
	n, err := r.store.Add(ctx, out)
	if err != nil {
		return storeError{err}
	}
	r.recorded.Add(int64(n))
	r.dups.Add(int64(len(out) - n))
	oldest := out[0].FinishMS
	for _, rec := range out {
		oldest = min(oldest, rec.FinishMS)
	}
	r.pace(ctx, t0, len(out), now.Sub(time.UnixMilli(oldest)))
	return nil
}

// pace waits after a batch of n results, read from t0 on, so that the
// recorder stores at most MaxRate results per second, unless it is
// MaxLag behind already.
func (r *Recorder) pace(ctx context.Context, t0 time.Time, n int, lag time.Duration) {
	if r.o.MaxRate <= 0 || lag >= r.o.MaxLag {
		return
	}
	wait := time.Duration(float64(n)/r.o.MaxRate*float64(time.Second)) - time.Since(t0)
	if wait <= 0 {
		return
	}
	r.paced.Add(int64(wait))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (r *Recorder) prune(ctx context.Context) {
	// a store that indexes text off the insert path (SQLite) says when
	// its indexer fails; the recorder, which has a logger, reports it
	if ix, ok := r.store.(interface{ TextIndexErr() error }); ok {
		if err := ix.TextIndexErr(); err != nil {
			r.log.WarnContext(ctx, "history: the text index is not being updated (text searches read the rows it lacks directly, more slowly)", "error", err)
		}
	}
	if r.o.Retention == (Retention{}) {
		return
	}
	n, err := r.store.Prune(ctx, r.o.Retention, r.o.Now())
	if err != nil {
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "history: retention failed", "error", err)
		}
		return
	}
	if n > 0 {
		r.log.InfoContext(ctx, fmt.Sprintf("history: retention deleted %d records", n))
	}
}

// Sync reads every kept result once (one SCAN walk) into the store,
// without tracking: what goarq retry runs so that kept results are
// covered even when no recorder is running.
func (r *Recorder) Sync(ctx context.Context) error { return r.scan(ctx) }
