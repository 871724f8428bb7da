package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
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
	// YieldAbove, when set, makes the recorder yield during a burst: while
	// tracking reports results written faster than this many per second
	// (over the last 100 ms) the recorder holds its reads, and when that
	// lasts half a second it stops tracking and reading, so that the
	// workers keep Redis and the CPU (a result costs the recorder about
	// 20 µs to read, decode and store; the tracking costs Redis up to
	// about 1 µs). It then measures the rate every
	// second (tracking armed for 100 ms), and when the rate has fallen
	// under YieldAbove, or MaxLag after the yield began, it re-arms
	// tracking and catches up at full speed with one SCAN pass, which
	// finds every result written meanwhile. The results wait in Redis
	// while it yields, so MaxLag must stay well under keep_result. Zero:
	// never yield. Without client tracking there is nothing to yield.
	YieldAbove float64
	// NoStage makes the recorder yield during a burst even when its store
	// is a Stager. By default, a recorder whose store is a Stager (the SQL
	// stores) does not yield: while results are written faster than
	// YieldAbove it keeps tracking and reading them, paced at MaxRate, and
	// appends their raw bytes, undecoded, to the store's staging table (a
	// few µs a result, where decoding and storing a record costs about
	// 20); once the rate falls under YieldAbove it promotes them (decodes,
	// adds as records, deletes the staged rows). Staged results are safe
	// from keep_result's expiry but not visible to queries until promoted.
	// A recorder promotes what is staged when it starts, so a recorder
	// killed during a burst loses nothing. When the burst outruns MaxRate,
	// the recorder tracks only a share of the job ids, sized so that it is
	// told of about MaxRate results a second (Redis then sends nothing for
	// the rest, and the recorder wakes for no more than it stages); the
	// others wait in Redis, and the SCAN pass that follows the burst reads
	// them. As a yield, that share lasts at most MaxLag, and is not taken
	// when results written lately expire sooner than twice MaxLag.
	NoStage bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// RecorderStats count what a Recorder did.
type RecorderStats struct {
	// Recorded results added to the store; Duplicates read again but
	// already stored; Aged read but not recorded, as they finished before
	// Retention.MaxAge (the prune would delete them).
	Recorded, Duplicates, Aged int64
	// Commands are the Redis commands sent for reads (MGET, SCAN); the
	// tracking connection's pushes cost none.
	Commands int64
	Scans    int64
	// Paced is how long MaxRate held the recorder back.
	Paced time.Duration
	// Yields counts the bursts the recorder yielded to (YieldAbove), and
	// Yielded is how long it stood aside in all.
	Yields  int64
	Yielded time.Duration
	// Staged results were staged raw during bursts; Promoted staged
	// results were added as records since (their duplicates included).
	Staged, Promoted int64
	// Narrows counts the bursts staged through a share of the job ids
	// (see RecorderOptions.NoStage), and Narrowed is how long tracking
	// followed a share only, in all.
	Narrows  int64
	Narrowed time.Duration
	// Share is how many sixteenths of the job ids tracking follows now
	// (by their first hex digit; 16: every result).
	Share int
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

	recorded, dups, aged, cmds, scans, paced atomic.Int64
	watcher                                  atomic.Pointer[arqredis.Watcher]

	// seen counts the ids tracking reported, in thousandths of the
	// results they stand for (a share of the ids stands for all), for the
	// burst rate
	// (YieldAbove); catchUp is set from a yield's end until the SCAN pass
	// that follows it has read everything, which pace then skips.
	seen            atomic.Int64
	catchUp         atomic.Bool
	yields, yielded atomic.Int64
	// burst is signalled by the burst detector (watchRate) when the write
	// rate passes YieldAbove; Run then yields. lastIDs are the ids
	// tracking reported last (under mu), whose keys' TTL tells whether the
	// results outlive a yield; shortWarned: that was logged.
	burst       chan struct{}
	lastIDs     []string
	shortWarned bool
	// hot: the write rate was over YieldAbove in the last burstTick, and
	// drain holds its reads back, unless yielding was declined (noYield:
	// results kept briefly) or fails.
	hot, noYield atomic.Bool

	// stager is the store as a Stager (nil if it is not one); stage: the
	// recorder stages during a burst (not NoStage). unpromoted: staged
	// rows may wait in the store (set at start and by every stage);
	// staging: the recorder stages now (for the log; Run's goroutine).
	stager            Stager
	stage             bool
	unpromoted        atomic.Bool
	staging           bool
	promoteMu         sync.Mutex // promote's (Run's and Sync's)
	promoting         int        // promoted since the last log (under promoteMu)
	promoteT0         time.Time  // when they began
	staged, promotedN atomic.Int64

	// share is how many of the 16 first hex digits of a job id tracking
	// follows (16: every result); below 16 while a burst is staged through
	// a share of the ids (narrow), since narrowedAt. Run's goroutine sets
	// it; watchRate (which signals calm when the rate has stayed under
	// YieldAbove for burstWindow), promote and Stats read it too.
	// burstRate is the rate the last burst signal measured (float64 bits).
	share                atomic.Int32
	noNarrow             bool // the last narrow was declined (shortKept)
	narrowedAt           time.Time
	calm                 chan struct{}
	burstRate            atomic.Uint64
	narrows, narrowedFor atomic.Int64
}

// A burst is a write rate above YieldAbove over burstWindow, sampled every
// burstTick; while yielding, the rate is probed every probeEvery with
// tracking armed for probeWindow.
const (
	burstTick   = 100 * time.Millisecond
	burstWindow = 500 * time.Millisecond
	probeEvery  = time.Second
	probeWindow = 100 * time.Millisecond
	// trackCoalesce is how long tracking's messages gather between reads
	// (arqredis.ResultWatchOptions.Coalesce).
	trackCoalesce = 50 * time.Millisecond
	// ttlSample is how many of the last written results' keys are checked
	// before a yield.
	ttlSample = 32
)

// idDigits are the first digits of a job id (uuid4 hex) that narrow
// shares out.
const (
	idDigits  = 16
	hexDigits = "0123456789abcdef"
)

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
	r := &Recorder{rdb: arqredis.New(c.Redis(), o.Logger), store: store, o: o, log: o.Logger,
		pending: map[string]struct{}{}, wake: make(chan struct{}, 1), burst: make(chan struct{}, 1),
		calm: make(chan struct{}, 1)}
	r.share.Store(idDigits)
	if st, ok := store.(Stager); ok {
		r.stager, r.stage = st, !o.NoStage
		r.unpromoted.Store(true) // what a previous recorder staged
	}
	return r
}

// Stats reads the counters.
func (r *Recorder) Stats() RecorderStats {
	w := r.watcher.Load()
	return RecorderStats{Recorded: r.recorded.Load(), Duplicates: r.dups.Load(), Aged: r.aged.Load(), Commands: r.cmds.Load(),
		Scans: r.scans.Load(), Paced: time.Duration(r.paced.Load()), Tracking: w != nil && w.Armed(),
		Yields: r.yields.Load(), Yielded: time.Duration(r.yielded.Load()), Staged: r.staged.Load(), Promoted: r.promotedN.Load(),
		Narrows: r.narrows.Load(), Narrowed: time.Duration(r.narrowedFor.Load()), Share: int(r.share.Load())}
}

func (r *Recorder) onIDs(ids []string) { r.onShareIDs(ids, idDigits) }

// onShareIDs takes the ids tracking reported while it followed share of
// the 16 first digits.
func (r *Recorder) onShareIDs(ids []string, share int) {
	if ids == nil && share < idDigits {
		// a share's arm (or re-arm) missed what changed meanwhile: the
		// widen that ends the share arms a Watcher on every result, whose
		// nil report has it all read by SCAN
		return
	}
	r.seen.Add(int64(len(ids)) * 1000 * idDigits / int64(share))
	r.mu.Lock()
	if ids == nil {
		r.fullScan = true
	} else {
		r.lastIDs = ids[len(ids)-min(len(ids), ttlSample):]
	}
	if ids != nil && !r.fullScan {
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
	notify(r.wake)
}

// Run records until ctx ends; it returns nil then, or the store's error.
// Redis errors are logged and retried.
func (r *Recorder) Run(ctx context.Context) error {
	if err := r.arm(ctx); err != nil {
		return err
	}
	defer func() {
		if w := r.watcher.Swap(nil); w != nil {
			w.Close()
		}
	}()
	scanT := time.NewTicker(r.o.ScanInterval)
	defer scanT.Stop()
	pruneT := time.NewTicker(r.o.PruneInterval)
	defer pruneT.Stop()
	if r.o.YieldAbove > 0 && r.watcher.Load() != nil {
		dctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); r.watchRate(dctx) }()
		defer func() { stop(); <-done }()
	}
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
		case <-r.calm:
			r.widen(ctx)
			notify(r.wake)
			continue
		case <-r.burst:
			if r.stage {
				// drain stages while the rate is high (hot): nothing to
				// stand aside for, but a share of the ids may do
				r.narrow(ctx)
				notify(r.wake)
				continue
			}
			r.yield(ctx)
			notify(r.wake) // what drain left pending when the burst cut it short
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

// arm starts client tracking. The Watcher reports nil keys once armed (and
// on every re-arm), so the next pass reads everything kept. A server that
// refuses tracking leaves the recorder to SCAN every ScanInterval.
func (r *Recorder) arm(ctx context.Context) error {
	w, err := r.track(ctx, idDigits)
	switch {
	case errors.Is(err, arqredis.ErrTrackingUnsupported):
		r.log.WarnContext(ctx, fmt.Sprintf("history: client tracking unavailable (%v); recording by SCAN every %s", err, r.o.ScanInterval))
		r.onIDs(nil) // the next pass reads everything kept
	case err != nil:
		return err
	default:
		r.watcher.Store(w)
	}
	return nil
}

// track starts a Watcher on the results whose job id starts with one of
// the first share of the 16 hex digits (all of them: every result). Its
// reads are coalesced: the recorder runs beside the workers, often on
// their machine, and waking for every message Redis sends during a burst
// (one per pass of its event loop) cost the drain more than the reading.
func (r *Recorder) track(ctx context.Context, share int) (*arqredis.Watcher, error) {
	o := arqredis.ResultWatchOptions{Logger: r.log, Coalesce: trackCoalesce,
		OnIDs: func(ids []string) { r.onShareIDs(ids, share) }}
	if share < idDigits {
		o.IDPrefixes = make([]string, share)
		for i := range share {
			o.IDPrefixes[i] = hexDigits[i : i+1]
		}
	}
	return r.rdb.WatchResults(ctx, o)
}

// narrow stages a burst through a share of the job ids (uuid4 hex, as arq
// and goarq make them, spread evenly over the 16 first digits), sized so
// that tracking reports about MaxRate results a second: Redis then sends,
// and the recorder reads and stages, that share only, and the rest wait in
// Redis for the SCAN pass that follows the burst (widen). A burst measured
// again at a rate that puts the share's over 5/4 or under 4/5 of MaxRate
// re-sizes it (a share sized on the burst's first ticks may be off; the
// band is wider than a sixteenth's step at the rates that need a share). It tracks every result when MaxRate is 0, and when results
// are kept too briefly to wait (shortKept); and MaxLag after it narrowed,
// it widens, to catch up.
func (r *Recorder) narrow(ctx context.Context) {
	rate := math.Float64frombits(r.burstRate.Load())
	if r.o.MaxRate <= 0 || rate <= 0 {
		return
	}
	cur := int(r.share.Load())
	if cur < idDigits && time.Since(r.narrowedAt) >= r.o.MaxLag {
		r.widen(ctx)
		return
	}
	if got := rate * float64(cur) / idDigits; cur < idDigits && got >= r.o.MaxRate*4/5 && got <= r.o.MaxRate*5/4 {
		return // near enough: a re-size would track some ids twice over
	}
	share := min(max(int(math.Round(idDigits*r.o.MaxRate/rate)), 1), idDigits)
	if share == cur || share == idDigits {
		return
	}
	if cur == idDigits {
		if r.noNarrow = r.shortKept(ctx, "tracking every result through a burst"); r.noNarrow {
			return
		}
	}
	w, err := r.track(ctx, share)
	if err != nil || !w.Armed() {
		if w != nil {
			_ = w.Close()
		}
		return // tracking every result still
	}
	if cur == idDigits {
		r.narrowedAt = time.Now()
		r.narrows.Add(1)
	}
	r.log.InfoContext(ctx, fmt.Sprintf("history: results written at about %.0f/s: staging those of %d/16 of the job ids raw, the rest after the burst", rate, share))
	// the new Watcher is armed before the old one goes: no gap (and a gap
	// it reports is read by the SCAN after widen; see onShareIDs)
	if old := r.watcher.Swap(w); old != nil {
		_ = old.Close()
	}
	r.share.Store(int32(share))
	// what is pending outside the share waits for the SCAN too
	r.mu.Lock()
	for id := range r.pending {
		if !inShare(id, share) {
			delete(r.pending, id)
		}
	}
	r.mu.Unlock()
}

// narrowed reports whether tracking follows a share of the job ids only.
func (r *Recorder) narrowed() bool { return r.share.Load() < idDigits }

// inShare reports whether tracking a share of the job ids follows id.
func inShare(id string, share int) bool {
	return id != "" && strings.IndexByte(hexDigits[:share], id[0]) >= 0
}

// widen tracks every result again once a narrowed burst is over (or MaxLag
// after it began); the re-arm's full scan then reads the rest, unpaced.
func (r *Recorder) widen(ctx context.Context) {
	if !r.narrowed() {
		return
	}
	w, err := r.track(ctx, idDigits)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		// refused now: record by SCAN from here on
		r.log.WarnContext(ctx, fmt.Sprintf("history: client tracking unavailable (%v); recording by SCAN every %s", err, r.o.ScanInterval))
		w = nil
	}
	if old := r.watcher.Swap(w); old != nil {
		_ = old.Close()
	}
	r.share.Store(idDigits)
	r.narrowedFor.Add(int64(time.Since(r.narrowedAt)))
	r.catchUp.Store(true)
	r.onIDs(nil)
	r.log.InfoContext(ctx, fmt.Sprintf("history: tracking every result again after %s; catching up", time.Since(r.narrowedAt).Round(time.Millisecond)))
}

// watchRate is the burst detector: it samples the ids tracking reported
// every burstTick, and signals r.burst when they came faster than
// YieldAbove over burstWindow while tracking is armed.
func (r *Recorder) watchRate(ctx context.Context) {
	t := time.NewTicker(burstTick)
	defer t.Stop()
	var at []time.Time
	var seen []int64
	cold := 0 // ticks in a row that were not hot
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, n := time.Now(), r.seen.Load()
		if r.watcher.Load() == nil { // yielding (or tracking lost): start over
			at, seen = at[:0], seen[:0]
			r.hot.Store(false)
			cold = 0
			continue
		}
		at, seen = append(at, now), append(seen, n)
		// a rate over YieldAbove in the last tick holds the reads back
		// (drain) until the window tells a burst, to yield to, from a
		// short rush, read when it is over; the share is sized on the last
		// two ticks (recent): tracking's reads are coalesced, so one tick
		// may see one read more than the next
		last := len(at) - 1
		hot := last > 0 && float64(n-seen[last-1])/1000/now.Sub(at[last-1]).Seconds() > r.o.YieldAbove
		recent := 0.0
		if k := max(last-2, 0); k < last {
			recent = float64(n-seen[k]) / 1000 / now.Sub(at[k]).Seconds()
		}
		if r.hot.Swap(hot) && !hot {
			notify(r.wake)
		}
		// a narrowed burst is over once no tick was hot for burstWindow
		if cold = cold + 1; hot {
			cold = 0
		}
		if r.narrowed() && time.Duration(cold)*burstTick >= burstWindow {
			notify(r.calm)
			cold = 0
		}
		// a rate twice MaxRate (and over YieldAbove) is staged through a
		// share at once: the window would track every result for half a
		// second more
		if hot && r.stage && !r.narrowed() && r.o.MaxRate > 0 && recent > max(2*r.o.MaxRate, r.o.YieldAbove) {
			r.burstRate.Store(math.Float64bits(recent))
			notify(r.burst)
		}
		for len(at) > 1 && now.Sub(at[1]) >= burstWindow {
			at, seen = at[1:], seen[1:]
		}
		if span := now.Sub(at[0]); span >= burstWindow {
			if rate := float64(n-seen[0]) / 1000 / span.Seconds(); rate > r.o.YieldAbove {
				// a share is sized on the last ticks' rate (the window's
				// includes the ticks before the burst began) and re-sized
				// on the window's (two ticks' vary with the coalesced reads)
				if !r.narrowed() {
					rate = recent
				}
				r.burstRate.Store(math.Float64bits(rate))
				notify(r.burst)
				at, seen = at[:0], seen[:0]
			}
		}
	}
}

// bursting reports whether the burst detector has signalled, leaving the
// signal for Run.
func (r *Recorder) bursting() bool { return len(r.burst) > 0 }

// yield stands aside during a burst (YieldAbove): it closes the tracking
// connection, which ends the tracking and its cost to Redis, probes the
// rate every probeEvery, and re-arms tracking once the rate has fallen
// under YieldAbove or MaxLag has passed. The re-arm reports nil ids: the
// SCAN pass that follows reads what was written meanwhile, unpaced.
func (r *Recorder) yield(ctx context.Context) {
	short := r.shortKept(ctx, "not yielding to a burst")
	r.noYield.Store(short)
	if short {
		return
	}
	w := r.watcher.Swap(nil)
	if w == nil {
		return
	}
	_ = w.Close()
	// the catch-up's SCAN pass reads every kept result: what is pending
	// need not be read twice
	r.mu.Lock()
	clear(r.pending)
	r.mu.Unlock()
	start := time.Now()
	r.yields.Add(1)
	r.log.InfoContext(ctx, fmt.Sprintf("history: results written faster than %.0f/s: yielding to the workers until the rate falls or %s have passed",
		r.o.YieldAbove, r.o.MaxLag))
	for ctx.Err() == nil && time.Since(start)+probeEvery < r.o.MaxLag {
		sleep(ctx, probeEvery)
		if rate, ok := r.probe(ctx); !ok || rate <= r.o.YieldAbove {
			break
		}
	}
	r.yielded.Add(int64(time.Since(start)))
	if ctx.Err() != nil {
		return
	}
	r.catchUp.Store(true)
	if err := r.arm(ctx); err != nil || r.watcher.Load() == nil {
		// refused now (SCAN from here on), or ctx ended
		r.onIDs(nil)
		return
	}
	r.log.InfoContext(ctx, fmt.Sprintf("history: yielded for %s; catching up", time.Since(start).Round(time.Millisecond)))
}

// shortKept reports whether results written lately are kept for less than
// twice MaxLag (or their TTL could not be read): they could expire before
// the catch-up after a yield, so the recorder does not yield.
func (r *Recorder) shortKept(ctx context.Context, what string) bool {
	r.mu.Lock()
	ids := r.lastIDs
	r.mu.Unlock()
	if len(ids) == 0 {
		return false
	}
	ttls, err := r.rdb.ResultTTLs(ctx, ids)
	if err != nil {
		return true // Redis is failing: keep reading what tracking reports
	}
	for _, ttl := range ttls {
		if ttl >= 0 && ttl < 2*r.o.MaxLag {
			if !r.shortWarned {
				r.shortWarned = true
				r.log.WarnContext(ctx, fmt.Sprintf("history: %s: a result written lately expires in %s (keep_result), "+
					"sooner than twice the max lag (2 × %s); lower the max lag (goarq recorder --max-lag) to let the recorder leave results in Redis during a burst",
					what, ttl.Round(time.Millisecond), r.o.MaxLag))
			}
			return true
		}
	}
	return false
}

// probe measures the write rate with tracking armed for probeWindow; ok is
// false when it could not (Redis unreachable), and the recorder resumes.
func (r *Recorder) probe(ctx context.Context) (float64, bool) {
	var n atomic.Int64
	w, err := r.rdb.WatchResults(ctx, arqredis.ResultWatchOptions{Logger: r.log, OnIDs: func(ids []string) { n.Add(int64(len(ids))) }})
	if err != nil {
		return 0, false
	}
	defer w.Close()
	if !w.Armed() {
		return 0, false
	}
	t0 := time.Now()
	if !sleep(ctx, probeWindow) {
		return 0, false
	}
	return float64(n.Load()) / time.Since(t0).Seconds(), w.Armed()
}

// gather waits BatchWait for more ids, unless a batch is already full.
func (r *Recorder) gather(ctx context.Context) {
	r.mu.Lock()
	n := len(r.pending)
	r.mu.Unlock()
	if n < storeBatch {
		sleep(ctx, r.o.BatchWait)
	}
}

// sleep waits d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// notify signals ch (a wake-up channel of capacity 1) unless a signal is
// already waiting there.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
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
	sleep(ctx, *backoff)
	notify(r.wake)
	return nil
}

// drain reads what tracking reported, and runs a full scan when asked.
func (r *Recorder) drain(ctx context.Context) error {
	for {
		if r.stage && r.bursting() {
			return nil // Run sizes the share of the ids to track (narrow)
		}
		// a backlog of more ids than YieldAbove brings in a BatchWait is a
		// burst's too, staged, when the detector has not told it yet (the
		// first tick of a burst, or a tick whose coalesced read came late)
		r.mu.Lock()
		backlog := len(r.pending)
		r.mu.Unlock()
		rush := r.stage && r.o.YieldAbove > 0 && float64(backlog) > r.o.YieldAbove*r.o.BatchWait.Seconds()
		hot := r.bursting() || r.hot.Load() || r.narrowed() || rush
		if hot && !r.stage && !r.noYield.Load() {
			return nil // Run may yield; what is pending waits (watchRate wakes drain again)
		}
		stage := hot && r.stage
		if stage != r.staging {
			r.staging = stage
			if stage {
				r.log.InfoContext(ctx, fmt.Sprintf("history: results written faster than %.0f/s: staging them raw until the rate falls", r.o.YieldAbove))
			}
		}
		if !hot && r.stager != nil && r.unpromoted.Load() {
			if err := r.promote(ctx, false); err != nil {
				return err
			}
		}
		r.mu.Lock()
		// a full scan waits for the burst's end: it would read (and
		// stage) every kept result
		full := r.fullScan && !stage
		r.fullScan = r.fullScan && stage
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
			r.catchUp.Store(false)
		}
		if len(ids) == 0 {
			if full {
				continue
			}
			return nil
		}
		read := r.read
		if stage {
			read = r.stageRead
		}
		if err := read(ctx, ids, false); err != nil {
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
// stored. Redis: one SCAN and one MGET per 1,000 kept results. The
// pages' ids are read storeBatch at a time: a store transaction's commit
// costs about as much for 1,000 results as for 5,000.
func (r *Recorder) scan(ctx context.Context) error {
	r.scans.Add(1)
	var batch []string
	err := r.rdb.ScanResultPages(ctx, func(ids []string) error {
		r.cmds.Add(1)
		batch = append(batch, ids...)
		if len(batch) < storeBatch {
			return nil
		}
		err := r.read(ctx, batch, true)
		batch = batch[:0]
		return err
	})
	if err != nil || len(batch) == 0 {
		return err
	}
	return r.read(ctx, batch, true)
}

// read reads the results of ids with MGET and stores those not stored
// yet; known (a SCAN page) asks the store first which of them it holds.
// Ids reported by tracking are mostly new: their duplicates are left to
// the store's INSERT OR IGNORE.
func (r *Recorder) read(ctx context.Context, ids []string, known bool) error {
	t0 := time.Now()
	recs, err := r.results(ctx, ids)
	if err != nil {
		return err
	}
	ds := make([]decoded, 0, len(recs))
	for _, rr := range recs {
		if rr.Data == nil { // deleted or expired
			continue
		}
		ds = append(ds, r.decode(rr.JobID, rr.Data))
	}
	var stored map[string][]int64
	if known && len(ds) > 0 {
		present := make([]string, len(ds))
		for i, d := range ds {
			present[i] = d.jobID
		}
		if stored, err = r.store.Recorded(ctx, present); err != nil {
			return storeError{err}
		}
	}
	now := r.o.Now()
	out := r.records(ds, stored, now)
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

// decoded is a result read from Redis or from the staging table, and
// decoded.
type decoded struct {
	jobID string
	data  []byte
	res   arqcompat.ResultRecord
	err   error
}

func (r *Recorder) decode(jobID string, data []byte) decoded {
	res, err := arqcompat.DecodeResult(r.o.Serializer, data)
	return decoded{jobID, data, res, err}
}

// records builds the records of ds that are to be added, by the rules
// that read and promote share: a result that finished before the
// retention's age bound (kept forever in Redis, say) is not recorded (the
// next prune would delete it and the next SCAN pass record it again,
// every minute; counted in Aged), nor one whose job id and start time
// stored holds (counted in Duplicates; nil stored leaves duplicates to
// the store's INSERT OR IGNORE).
func (r *Recorder) records(ds []decoded, stored map[string][]int64, now time.Time) []Record {
	var tooOld int64
	if r.o.Retention.MaxAge > 0 {
		tooOld = now.Add(-r.o.Retention.MaxAge).UnixMilli()
	}
	out := make([]Record, 0, len(ds))
	for _, d := range ds {
		if d.err == nil && d.res.FinishMS < tooOld {
			r.aged.Add(1)
			continue
		}
		start := d.res.StartMS
		if d.err != nil {
			start = 0 // as FromResult records an undecodable result
		}
		if slices.Contains(stored[d.jobID], start) {
			r.dups.Add(1)
			continue
		}
		out = append(out, fromDecoded(r.o.Serializer, d.jobID, d.data, d.res, d.err, now))
	}
	return out
}

// results reads the results of ids (MGET, 1,000 keys each), counted in
// Commands.
func (r *Recorder) results(ctx context.Context, ids []string) ([]arqredis.Record, error) {
	r.cmds.Add(int64((len(ids) + 999) / 1000))
	return r.rdb.Results(ctx, ids)
}

// stageRead reads the results of ids with MGET and stages their raw
// bytes, undecoded (a burst: see RecorderOptions.NoStage), paced at
// MaxRate unless tracking follows a share of the ids (sized to MaxRate).
func (r *Recorder) stageRead(ctx context.Context, ids []string, _ bool) error {
	t0 := time.Now()
	recs, err := r.results(ctx, ids)
	if err != nil {
		return err
	}
	now := r.o.Now().UnixMilli()
	rows := make([]Staged, 0, len(recs))
	for _, rr := range recs {
		if rr.Data != nil { // else deleted or expired
			rows = append(rows, Staged{JobID: rr.JobID, Data: rr.Data, StagedMS: now})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := r.stager.Stage(ctx, rows); err != nil {
		return storeError{err}
	}
	r.unpromoted.Store(true)
	r.staged.Add(int64(len(rows)))
	// paced, unless the ids waiting to be read fill 90% of MaxPending:
	// past MaxPending they would be dropped, to be found by a SCAN after
	// the burst, when a briefly kept result may have expired
	r.mu.Lock()
	backlog := len(r.pending)
	r.mu.Unlock()
	lag := time.Duration(0)
	if backlog >= r.o.MaxPending/10*9 {
		lag = r.o.MaxLag
	}
	if r.narrowed() {
		return nil // the share tracked is sized to MaxRate already
	}
	r.pace(ctx, t0, len(rows), lag)
	return nil
}

// promote moves the staged results into records, storeBatch at a time
// (decode, Add, Unstage: a crash between Add and Unstage only makes the
// next promote add them again, which Add skips), until none are left or a
// burst begins; all promotes what is staged, burst or not. The records
// follow read's rules (records): a result that finished before
// Retention.MaxAge is unstaged, not recorded (counted in Aged). The store
// is not asked first which results it holds, as it is for a SCAN page
// (read's known): staged results were reported by tracking during a burst
// and are mostly new, so the few recorded already (by a SCAN pass that
// read them too) are left to Add's INSERT OR IGNORE (counted in
// Duplicates), as tracking's reads leave theirs.
func (r *Recorder) promote(ctx context.Context, all bool) error {
	r.promoteMu.Lock()
	defer r.promoteMu.Unlock()
	if r.promoting == 0 {
		r.promoteT0 = time.Now()
	}
	for all || (!r.bursting() && !r.hot.Load() && !r.narrowed()) {
		rows, err := r.stager.StagedBatch(ctx, storeBatch)
		if err != nil {
			return storeError{err}
		}
		if len(rows) == 0 {
			r.unpromoted.Store(false)
			if r.promoting > 0 {
				r.log.InfoContext(ctx, fmt.Sprintf("history: promoted %d staged results in %s", r.promoting, time.Since(r.promoteT0).Round(time.Millisecond)))
				r.promoting = 0
			}
			return nil
		}
		ds := make([]decoded, len(rows))
		ids := make([]int64, len(rows))
		for i, row := range rows {
			ds[i] = r.decode(row.JobID, row.Data)
			ids[i] = row.ID
		}
		if out := r.records(ds, nil, r.o.Now()); len(out) > 0 {
			added, err := r.store.Add(ctx, out)
			if err != nil {
				return storeError{err}
			}
			r.recorded.Add(int64(added))
			r.dups.Add(int64(len(out) - added))
		}
		if err := r.stager.Unstage(ctx, ids); err != nil {
			return storeError{err}
		}
		r.promotedN.Add(int64(len(rows)))
		r.promoting += len(rows)
		// a short batch was the end of what was staged: all is met, and
		// what a running recorder stages meanwhile during a burst is left
		// to it (Sync ends)
		all = all && len(rows) == storeBatch
	}
	return nil
}

// pace waits after a batch of n results, read from t0 on, so that the
// recorder stores at most MaxRate results per second, unless it is
// MaxLag behind already.
func (r *Recorder) pace(ctx context.Context, t0 time.Time, n int, lag time.Duration) {
	if r.o.MaxRate <= 0 || lag >= r.o.MaxLag || r.catchUp.Load() {
		return
	}
	wait := time.Duration(float64(n)/r.o.MaxRate*float64(time.Second)) - time.Since(t0)
	if wait <= 0 {
		return
	}
	r.paced.Add(int64(wait))
	t := time.NewTimer(wait)
	defer t.Stop()
	burst := r.burst
	if r.stage && (r.narrowed() || r.noNarrow) {
		burst = nil // staged through at MaxRate: nothing for Run to do
	}
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-burst: // cut short, and left for Run, which yields or narrows
		notify(r.burst)
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

// Sync promotes every staged result (what a recorder stopped during a
// burst left staged), then reads every kept result once (one SCAN walk)
// into the store, without tracking: what goarq retry runs so that kept
// results are covered even when no recorder is running. It leaves
// nothing staged that was staged when it began.
func (r *Recorder) Sync(ctx context.Context) error {
	if r.stager != nil {
		if err := r.promote(ctx, true); err != nil {
			return err
		}
	}
	return r.scan(ctx)
}
