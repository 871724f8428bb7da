package inspect

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// ResultSummary is what the index keeps of one kept result.
type ResultSummary struct {
	JobID, Function, Queue string
	Success                bool
	// Unreadable is set when the record could not be decoded; only JobID
	// is known then.
	Unreadable bool
	// ExceptionClass is the class name of a failed job's exception
	// ("ValueError"), with its module unless builtins ("mymod.MyError").
	ExceptionClass               string
	Try                          int
	EnqueueMS, StartMS, FinishMS int64
}

// Run is the job's run time (finish minus start).
func (s ResultSummary) Run() time.Duration {
	return time.Duration(s.FinishMS-s.StartMS) * time.Millisecond
}

// Wait is start minus enqueue time (for a deferred job, its deferral too).
func (s ResultSummary) Wait() time.Duration {
	return time.Duration(s.StartMS-s.EnqueueMS) * time.Millisecond
}

// FunctionStats aggregates the kept results of one function in one queue.
type FunctionStats struct {
	Queue, Function         string
	Count, Succeeded        int
	RunP50, RunP95, WaitP50 time.Duration
	// Waited counts the results WaitP50 is taken over: those with an
	// enqueue time (arq writes 0 for a job whose record had expired).
	Waited int
}

// Snapshot is one state of the results index.
type Snapshot struct {
	// At is when the refresh that built it started; Took how long it ran.
	At   time.Time
	Took time.Duration
	// Pending is set on the empty snapshot returned before the first
	// refresh has finished.
	Pending bool
	// Results are the kept results, newest finish first.
	Results []ResultSummary
	// Functions are sorted by queue, then function; unreadable results
	// are counted under function "<unreadable>".
	Functions []FunctionStats
	// LeftOut counts the kept results past Options.MaxResults, which the
	// index, and so every count and listing of results, leaves out.
	LeftOut int
	// InProgressIDs are the ids holding an in-progress key; Retries counts
	// the retry counters.
	InProgressIDs []string
	Retries       int
}

// UnreadableFunction names the function of results that cannot be decoded.
const UnreadableFunction = "<unreadable>"

// Snapshot returns the results index, refreshing it when it is older than
// CacheTTL. A negative wait waits for the refresh (bounded by ctx). Else an
// index that is merely older than CacheTTL is returned at once, the refresh
// going on in the background; when there is none yet, or after
// Invalidate, Snapshot waits up to wait and then returns the previous
// index, or an empty Pending one. The error is the last refresh's.
func (in *Inspector) Snapshot(ctx context.Context, wait time.Duration) (*Snapshot, error) {
	in.mu.Lock()
	if s := in.snap; s != nil && !in.stale && in.ttl > 0 && time.Since(s.At) < in.ttl {
		in.mu.Unlock()
		return s, nil
	}
	done := in.refreshing
	mustWait := in.snap == nil || in.stale || in.ttl <= 0
	if done == nil {
		done = make(chan struct{})
		in.refreshing = done
		// detached from the request: another reader may wait for it, and
		// its work is reused; it always ends (timeout)
		go in.runRefresh(context.WithoutCancel(ctx), done)
	}
	in.mu.Unlock()
	// an index that is merely older than CacheTTL is served at once while
	// the refresh runs; without one, or after Invalidate, wait for it
	if !mustWait && wait >= 0 {
		wait = 0
	}
	var timeout <-chan time.Time
	if wait >= 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-done:
	case <-timeout:
	case <-ctx.Done():
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.snap == nil {
		if in.lastErr != nil {
			return nil, in.lastErr
		}
		return &Snapshot{Pending: true, At: time.Now()}, nil
	}
	return in.snap, in.lastErr
}

// Invalidate makes the next Snapshot refresh the index (after an action).
func (in *Inspector) Invalidate() {
	in.mu.Lock()
	in.stale = true
	in.mu.Unlock()
}

func (in *Inspector) runRefresh(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	in.mu.Lock()
	in.stale = false
	old := in.byID
	in.mu.Unlock()
	snap, byID, err := in.refresh(ctx, old)
	in.mu.Lock()
	in.lastErr = err
	if err == nil {
		in.snap, in.byID = snap, byID
	}
	in.refreshing = nil
	in.mu.Unlock()
	close(done)
}

// decodeBatch bounds how many new result records one MGET reads.
const decodeBatch = 1000

func (in *Inspector) refresh(ctx context.Context, old map[string]ResultSummary) (*Snapshot, map[string]ResultSummary, error) {
	start := time.Now()
	census, err := in.r.KeyCensus(ctx, in.maxResults)
	if err != nil {
		return nil, nil, err
	}
	intern := map[string]string{}
	str := func(s string) string {
		if v, ok := intern[s]; ok {
			return v
		}
		intern[s] = s
		return s
	}
	byID := make(map[string]ResultSummary, len(census.ResultIDs))
	var missing []string
	for _, id := range census.ResultIDs {
		if s, ok := old[id]; ok {
			byID[id] = s
		} else {
			missing = append(missing, id)
		}
	}
	for i := 0; i < len(missing); i += decodeBatch {
		recs, err := in.r.Results(ctx, missing[i:min(i+decodeBatch, len(missing))])
		if err != nil {
			return nil, nil, err
		}
		for _, rec := range recs {
			if rec.Data == nil {
				continue // expired or deleted since the SCAN
			}
			s := summarize(in.c.Serializer(), rec.JobID, rec.Data)
			s.Function, s.Queue, s.ExceptionClass = str(s.Function), str(s.Queue), str(s.ExceptionClass)
			byID[rec.JobID] = s
		}
	}
	snap := &Snapshot{At: start, InProgressIDs: census.InProgressIDs, Retries: census.Retries,
		LeftOut: census.ResultsLeftOut, Results: make([]ResultSummary, 0, len(byID))}
	for _, s := range byID {
		snap.Results = append(snap.Results, s)
	}
	slices.SortFunc(snap.Results, func(a, b ResultSummary) int {
		if a.FinishMS != b.FinishMS {
			return int(b.FinishMS - a.FinishMS)
		}
		return strings.Compare(a.JobID, b.JobID)
	})
	snap.Functions = functionStats(snap.Results)
	snap.Took = time.Since(start)
	return snap, byID, nil
}

func summarize(ser arqcompat.Serializer, id string, data []byte) ResultSummary {
	r, err := arqcompat.DecodeResult(ser, data)
	if err != nil {
		return ResultSummary{JobID: id, Unreadable: true, Function: UnreadableFunction, Queue: unknownQueue}
	}
	s := ResultSummary{JobID: id, Function: r.Function, Queue: r.Queue, Success: r.Success, Try: int(r.JobTry),
		EnqueueMS: r.EnqueueTimeMS, StartMS: r.StartMS, FinishMS: r.FinishMS}
	if !r.Success {
		s.ExceptionClass = ExceptionClass(r.Result)
	}
	return s
}

// ExceptionClass is the class name of a failed job's result: "ValueError"
// for builtins, "module.Name" otherwise, "" when it is no exception.
func ExceptionClass(v any) string {
	e, ok := v.(*arqcompat.Exception)
	if !ok {
		return ""
	}
	if e.Class.Module == "builtins" || e.Class.Module == "" {
		return e.Class.Name
	}
	return e.Class.Module + "." + e.Class.Name
}

func functionStats(results []ResultSummary) []FunctionStats {
	type key struct{ q, f string }
	type acc struct {
		st        FunctionStats
		run, wait []time.Duration
	}
	m := map[key]*acc{}
	for _, r := range results {
		k := key{r.Queue, r.Function}
		a := m[k]
		if a == nil {
			a = &acc{st: FunctionStats{Queue: r.Queue, Function: r.Function}}
			m[k] = a
		}
		a.st.Count++
		if r.Unreadable {
			continue
		}
		if r.Success {
			a.st.Succeeded++
		}
		a.run = append(a.run, r.Run())
		if r.EnqueueMS > 0 {
			a.wait = append(a.wait, r.Wait())
		}
	}
	out := make([]FunctionStats, 0, len(m))
	for _, a := range m {
		slices.Sort(a.run)
		slices.Sort(a.wait)
		a.st.RunP50, a.st.RunP95, a.st.WaitP50 = quantile(a.run, 0.5), quantile(a.run, 0.95), quantile(a.wait, 0.5)
		a.st.Waited = len(a.wait)
		out = append(out, a.st)
	}
	slices.SortFunc(out, func(a, b FunctionStats) int {
		if c := strings.Compare(a.Queue, b.Queue); c != 0 {
			return c
		}
		return strings.Compare(a.Function, b.Function)
	})
	return out
}

// quantile is the nearest-rank quantile of sorted values; 0 when empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1)+0.5)]
}

// unknownQueue is the queue name of a result whose record names none
// (arq's JobResult.queue_name default).
const unknownQueue = "<unknown>"
