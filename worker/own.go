// The claimer's targeted claims: the owner is the claimer's state of
// targeted claiming (see below), held in claimer.own.

package worker

import (
	"context"
	"fmt"
	"hash/maphash"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
)

// Targeted claiming: with Settings.OnlyOwnFunctions, or a function with a
// MaxConcurrency, the worker does not claim the first ready ids blindly as
// arq does. It learns the function of each ready id once (the job record
// is immutable while the job is queued), picks the ids it wants, and claims
// exactly those with arqredis.ClaimOwn, which makes arq's per-id checks
// atomically and also checks that the record is still the one decoded.
// Every other job is left untouched: no in-progress key, no retry counter,
// no result, no change of score.
//
// Finding ids: a full scan pages through the ready ids in score order
// (ZRANGEBYSCORE with WITHSCORES and LIMIT, each page O(log N + page)) and
// MGETs the records of ids it does not know yet. Between full scans, a
// poll reads only the window of scores from the highest it has seen (hi)
// up to now, where new jobs and deferred jobs that came due appear: with
// nothing new there that is one command, as arq's idle poll. Every
// ownCheckEvery a ZCOUNT of the scores up to hi tells whether ids appeared
// below the window (an enqueuer whose clock is behind, _defer_until in the
// past): if so, a full scan follows at once. When the count fell instead
// (other workers ran jobs), a full scan follows once ownRescan has passed
// (longer for long queues, so that their cost per second stays flat), to
// forget the ids that left the queue. An idle worker in front of a queue
// of other functions' jobs therefore sends one command per poll plus one
// every ownCheckEvery, and full scans only when the queue changes.

const (
	ownPage       = 1000             // ids per ZRANGEBYSCORE page and records per MGET
	ownCheckEvery = 5 * time.Second  // how often the count below the window is checked
	ownRescan     = 30 * time.Second // the shortest time between full scans that only forget ids
	ownPageCost   = 3 * time.Second  // those are at least this much apart per page they read
	ownScanLimit  = 200_000          // a full scan reads at most this many ids
)

// Groups of a targeted claim: groupAny holds the jobs claimed without a
// limit of their own; each function with a MaxConcurrency has a group.
const (
	groupForeign = -1 // never claimed: a function this worker lacks, or an undecodable record (OnlyOwnFunctions)
	groupAny     = 0
)

// owner is the claimer's state of targeted claiming, under its mu.
type owner struct {
	only    bool           // Settings.OnlyOwnFunctions
	groupOf map[string]int // function name -> group, for functions with a limit
	limits  []int          // per group; 0: no limit of its own (groupAny)

	mu    sync.Mutex
	known map[string]*ownEntry // ids of the queue of its own functions (and expired jobs)
	// foreign are the ids of jobs this worker never claims (groupForeign),
	// kept as a 64-bit hash of the id and the full scan that last saw it:
	// 12 bytes and map overhead per id, where an ownEntry costs about ten
	// times that, so a queue of other functions' jobs costs little memory.
	// A collision (odds about n²/2⁶⁵) would only make this worker leave one
	// of its own jobs to other workers while the foreign one is queued.
	foreign  map[uint64]uint32
	seed     maphash.Seed
	active   map[string]*activeEntry
	running  []int // claimed and not released, per group
	gen      uint32
	lastScan time.Time // the now of the last scan; zero: none yet
	// hi is the highest ready score seen; base the count of scores up to
	// it at the last check, added the ids learned since from the window
	hi, base, added int64
	lastCheck       time.Time
	nextFull        time.Time // a full scan that only forgets ids is not due before then
	forceFull       bool      // a full scan is due at once
}

type ownEntry struct {
	group     int
	sum       string // arqredis.RecordSum of the decoded record
	score     int64
	gen       uint32    // the full scan that last saw it
	busyUntil time.Time // in progress elsewhere: not offered again before then
}

type activeEntry struct{ group, n int }

// newOwner returns nil when the worker claims as arq does.
func newOwner(only bool, funcs map[string]*Function) *owner {
	o := &owner{only: only, groupOf: map[string]int{}, limits: []int{0}}
	names := make([]string, 0, len(funcs))
	for name, f := range funcs {
		if f.MaxConcurrency > 0 {
			names = append(names, name)
		}
	}
	if !only && len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	for _, name := range names {
		o.groupOf[name] = len(o.limits)
		o.limits = append(o.limits, funcs[name].MaxConcurrency)
	}
	o.known, o.active, o.running = map[string]*ownEntry{}, map[string]*activeEntry{}, make([]int, len(o.limits))
	o.foreign, o.seed = map[uint64]uint32{}, maphash.MakeSeed()
	return o
}

// classify is the group of a job from its record (nil: the record is gone,
// the job expired, which any worker may fail as arq does).
func (c *claimer) classify(record []byte) int {
	w := c.w
	o := c.own
	if record == nil {
		return groupAny
	}
	rec, err := arqcompat.DecodeJob(w.s.Serializer, record)
	switch {
	case err != nil && o.only:
		return groupForeign // perhaps a Python worker can read it
	case err != nil:
		return groupAny // fails with arq's DeserializationError
	}
	if g, ok := o.groupOf[rec.Function]; ok {
		return g
	}
	if _, ok := w.funcs[rec.Function]; ok || !o.only {
		return groupAny
	}
	return groupForeign
}

// refreshOwn brings what the worker knows of the queue up to date: a full
// scan when one is due, else the window above the highest score seen.
func (c *claimer) refreshOwn(ctx context.Context, now time.Time) error {
	w := c.w
	o := c.own
	o.mu.Lock()
	full := o.lastScan.IsZero() || o.forceFull
	check := !full && now.Sub(o.lastCheck) >= ownCheckEvery
	hi, expect := o.hi, o.base+o.added
	o.mu.Unlock()
	if check {
		n, err := w.store.CountUpTo(ctx, w.s.QueueName, hi)
		if err != nil {
			return err
		}
		o.mu.Lock()
		o.lastCheck = now
		switch {
		case n > expect: // ids appeared below the window
			full = true
		case n < expect && !now.Before(o.nextFull): // jobs left: forget them
			full = true
		default:
			o.base, o.added = n, 0
		}
		o.mu.Unlock()
	}
	o.mu.Lock()
	if full {
		o.gen++
	}
	gen := o.gen
	o.mu.Unlock()

	nowMS := arqcompat.TimestampMS(now)
	from, to := "-inf", strconv.FormatInt(nowMS, 10)
	if !full {
		from = strconv.FormatInt(hi, 10)
	}
	if w.s.Burst {
		to = "+inf" // burst mode waits for deferred jobs of its own too
	}
	pages, seen, offset := 0, 0, 0
	var learned, top int64
	for seen < ownScanLimit {
		page, err := w.store.ScanQueue(ctx, w.s.QueueName, from, to, offset, ownPage)
		if err != nil {
			return err
		}
		pages++
		seen += len(page)
		n, err := c.learn(ctx, page, gen, full)
		if err != nil {
			return err
		}
		learned += n
		for _, z := range page {
			if z.Score <= nowMS {
				top = max(top, z.Score)
			}
		}
		if len(page) < ownPage {
			break
		}
		last := page[len(page)-1].Score
		same := 0
		for i := len(page) - 1; i >= 0 && page[i].Score == last; i-- {
			same++
		}
		if next := strconv.FormatInt(last, 10); next == from {
			offset += same
		} else {
			from, offset = next, same
		}
	}

	o.mu.Lock()
	o.lastScan = now
	o.hi = max(o.hi, top)
	if !full {
		o.added += learned
		o.mu.Unlock()
		return nil
	}
	for id, e := range o.known {
		if e.gen != gen && o.active[id] == nil {
			delete(o.known, id) // left the queue (or is deferred again: the window finds it when due)
		}
	}
	for h, g := range o.foreign {
		if g != gen {
			delete(o.foreign, h)
		}
	}
	o.forceFull = false
	o.nextFull = now.Add(max(ownRescan, time.Duration(pages)*ownPageCost))
	hi = o.hi
	o.mu.Unlock()
	n, err := w.store.CountUpTo(ctx, w.s.QueueName, hi)
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.base, o.added, o.lastCheck = n, 0, now
	o.mu.Unlock()
	return nil
}

// learn records the scores of a page of ids and, for ids it does not
// know, reads and classifies their records.
func (c *claimer) learn(ctx context.Context, page []arqredis.ScoredID, gen uint32, full bool) (learned int64, err error) {
	w := c.w
	o := c.own
	var unknown []arqredis.ScoredID
	o.mu.Lock()
	for _, z := range page {
		if e, ok := o.known[z.ID]; ok {
			e.score = z.Score
			if full {
				e.gen = gen
			}
		} else if h := maphash.String(o.seed, z.ID); o.hasForeign(h) {
			if full {
				o.foreign[h] = gen
			}
		} else {
			unknown = append(unknown, z)
		}
	}
	o.mu.Unlock()
	if len(unknown) == 0 {
		return 0, nil
	}
	ids := make([]string, len(unknown))
	for i, z := range unknown {
		ids[i] = z.ID
	}
	records, err := w.store.JobRecords(ctx, ids)
	if err != nil {
		return 0, err
	}
	entries := make([]*ownEntry, len(unknown))
	for i, rec := range records {
		e := &ownEntry{group: c.classify(rec), score: unknown[i].Score, gen: gen}
		if e.group != groupForeign {
			e.sum = arqredis.RecordSum(rec)
		}
		entries[i] = e
	}
	o.mu.Lock()
	for i, z := range unknown {
		if entries[i].group == groupForeign {
			if h := maphash.String(o.seed, z.ID); !o.hasForeign(h) {
				o.foreign[h] = gen
				learned++
			}
		} else if _, ok := o.known[z.ID]; !ok {
			o.known[z.ID] = entries[i]
			learned++
		}
	}
	o.mu.Unlock()
	return learned, nil
}

// hasForeign reports a foreign id's hash. The caller holds mu.
func (o *owner) hasForeign(h uint64) bool {
	_, ok := o.foreign[h]
	return ok
}

// ownClaimArgs picks the candidates of a targeted claim of at most max
// jobs: known ids of its own that are ready, not known to be in progress
// elsewhere and whose function is under its limit, oldest first. finishing
// are jobs whose outcomes the same transaction writes: their slots count
// as free. ok is false when there is nothing to claim.
func (c *claimer) ownClaimArgs(max int, now time.Time, finishing []string) (a arqredis.OwnClaimArgs, ok bool) {
	o := c.own
	o.mu.Lock()
	defer o.mu.Unlock()
	caps := make([]int, len(o.limits))
	for g := range caps {
		caps[g] = max
		if o.limits[g] > 0 {
			caps[g] = min(max, o.limits[g]-o.running[g])
		}
	}
	for _, id := range finishing {
		if ae := o.active[id]; ae != nil && o.limits[ae.group] > 0 {
			caps[ae.group] = min(max, caps[ae.group]+1)
		}
	}
	nowMS := arqcompat.TimestampMS(now)
	var cands []arqredis.ScoredID
	for id, e := range o.known {
		if e.group == groupForeign || caps[e.group] <= 0 || e.score > nowMS || e.score == 0 || now.Before(e.busyUntil) || o.active[id] != nil {
			continue
		}
		cands = append(cands, arqredis.ScoredID{ID: id, Score: e.score})
	}
	if len(cands) == 0 {
		return a, false
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].Score != cands[j].Score {
			return cands[i].Score < cands[j].Score
		}
		return cands[i].ID < cands[j].ID
	})
	// offer more than the claim may take, since other workers take some
	// first, but no more of a group than twice what it may take
	offered := make([]int, len(caps))
	for _, c := range cands {
		if len(a.Candidates) >= 2*max+8 {
			break
		}
		e := o.known[c.ID]
		if offered[e.group] >= 2*caps[e.group]+4 {
			continue
		}
		offered[e.group]++
		a.Candidates = append(a.Candidates, arqredis.Candidate{ID: c.ID, Sum: e.sum, Group: e.group})
	}
	a.ClaimArgs = c.claimArgs(max, false)
	a.Now = now
	a.Caps = caps
	return a, true
}

// ownClaimed records what a targeted claim did: the jobs it claimed count
// against their groups until released, and the ids it skipped are
// forgotten (gone), kept back for a while (in progress elsewhere) or
// rescored.
func (c *claimer) ownClaimed(claimed []arqredis.Claimed, skipped []arqredis.Skip, now time.Time) {
	w := c.w
	var held []string
	defer func() { c.noteHeld(held, now) }()
	o := c.own
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range claimed {
		g := groupAny
		if e := o.known[c.ID]; e != nil {
			g = e.group
		}
		ae := o.active[c.ID]
		if ae == nil {
			ae = &activeEntry{group: g}
			o.active[c.ID] = ae
		}
		ae.n++
		o.running[ae.group]++
	}
	for _, s := range skipped {
		if s.Why == "held" {
			held = append(held, s.ID)
		}
		e := o.known[s.ID]
		if e == nil {
			continue
		}
		switch s.Why {
		case "gone":
			delete(o.known, s.ID)
		case "changed":
			delete(o.known, s.ID)
			o.forceFull = true // learn it again
		case "busy":
			e.score = s.Score
			e.busyUntil = now.Add(max(w.s.PollDelay, 100*time.Millisecond))
		case "later", "held":
			e.score = s.Score
		}
	}
}

// ownFinishing notes the outcomes a finish transaction writes: a job that
// finished leaves the queue; one that runs again keeps its entry, with its
// new score.
func (c *claimer) ownFinishing(batch []arqredis.Finish) {
	o := c.own
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range batch {
		if f.Done || f.Failed {
			delete(o.known, f.JobID)
		} else if e := o.known[f.JobID]; e != nil {
			e.score += f.IncrScore
		}
	}
}

// released is the executor's release's part: the job no longer counts
// against its function's limit (targeted claiming).
func (c *claimer) released(id string) {
	if c.own != nil {
		c.own.released(id)
	}
}

// released: the job no longer counts against its function's limit.
func (o *owner) released(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ae := o.active[id]; ae != nil {
		o.running[ae.group]--
		if ae.n--; ae.n == 0 {
			delete(o.active, id)
		}
	}
}

// ownPending counts the jobs of its own the worker knows to be in the
// queue, for burst mode (arq's burst stops on an empty queue; a worker
// that runs only its own functions stops when none of its jobs is left).
func (c *claimer) ownPending() int64 {
	o := c.own
	o.mu.Lock()
	defer o.mu.Unlock()
	n := int64(0)
	for _, e := range o.known {
		if e.group != groupForeign {
			n++
		}
	}
	return n
}

// claimOwn is poll's claim in targeted mode: refresh, pick, claim.
// The caller holds c.mu.
func (c *claimer) claimOwn(ctx context.Context, limit int) ([]arqredis.Claimed, error) {
	w := c.w
	// while it has candidates, the worker reads the queue at most once per
	// poll delay: a draining worker claims without reading it each time
	now := time.Now()
	a, ok := c.ownClaimArgs(limit, now, nil)
	c.own.mu.Lock()
	fresh := now.Sub(c.own.lastScan) < w.s.PollDelay
	c.own.mu.Unlock()
	if !ok || !fresh {
		if err := c.refreshOwn(ctx, now); err != nil {
			return nil, fmt.Errorf("reading the queue: %w", err)
		}
		if a, ok = c.ownClaimArgs(limit, time.Now(), nil); !ok {
			return nil, nil
		}
	}
	rep, err := w.store.ClaimOwn(ctx, a)
	if err != nil {
		return nil, err
	}
	c.ownClaimed(rep.Claimed, rep.Skipped, a.Now)
	return rep.Claimed, nil
}

// ownFlushClaim is the targeted claim that rides on a finish transaction
// (see flush); ok is false when there is none to make.
func (c *claimer) ownFlushClaim(max int, finishing []arqredis.Finish) (arqredis.OwnClaimArgs, bool) {
	if c.own == nil || max <= 0 {
		return arqredis.OwnClaimArgs{}, false
	}
	ids := make([]string, len(finishing))
	for i, f := range finishing {
		ids[i] = f.JobID
	}
	return c.ownClaimArgs(max, time.Now(), ids)
}
