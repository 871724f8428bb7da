package inspect

import (
	"context"
	"fmt"
	"slices"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
)

// ResultsQuery selects kept results from the index, newest finish first;
// the results that cannot be read come last (their finish is unknown).
type ResultsQuery struct {
	// Queue keeps the results of this queue's jobs, by the queue name each
	// record carries, and those whose record names none ('<unknown>');
	// "" keeps every queue's.
	Queue string
	// Function keeps the results of this function; Exception (a class
	// name as ExceptionClass gives it) the failures with this exception;
	// "" keeps all.
	Function, Exception string
	// Success: "ok", "failed" or "" for both.
	Success string
	// Offset and Limit page the matches (Limit default 50, at most
	// MaxLimit).
	Offset, Limit int
}

// match reports whether s passes q's filters. A result that cannot be
// read passes the Queue, Function and "failed" filters (its values are
// unknown, so it may be one), and no Exception or "ok" filter.
func (q ResultsQuery) match(s ResultSummary) bool {
	if s.Unreadable {
		return q.Exception == "" && q.Success != "ok"
	}
	return (q.Queue == "" || s.Queue == q.Queue || s.Queue == unknownQueue) &&
		(q.Function == "" || s.Function == q.Function) &&
		(q.Exception == "" || s.ExceptionClass == q.Exception) &&
		(q.Success != "ok" || s.Success) && (q.Success != "failed" || !s.Success)
}

// ResultEntry is one result of a page: the record as read now, or Err (a
// *RecordError) when it cannot be decoded.
type ResultEntry struct {
	Summary ResultSummary
	Result  *client.JobResult
	Err     error
}

// ResultsPage is a page of the matching results.
type ResultsPage struct {
	Results []ResultEntry
	// Matched counts the results of snap that match the query.
	Matched  int
	Snapshot *Snapshot
}

// Results filters the index snap and reads the page's records (one MGET):
// a page of Limit results reads and decodes at most Limit records. snap
// may be nil: then Snapshot is called and waited for. A result deleted
// since the snapshot is left out of the page.
func (in *Inspector) Results(ctx context.Context, snap *Snapshot, q ResultsQuery) (ResultsPage, error) {
	if snap == nil {
		var err error
		if snap, err = in.Snapshot(ctx, -1); err != nil {
			return ResultsPage{}, err
		}
	}
	q.Limit = pageLimit(q.Limit)
	q.Offset = max(q.Offset, 0)
	page := ResultsPage{Snapshot: snap}
	var sums []ResultSummary
	for _, s := range snap.Results {
		if !q.match(s) {
			continue
		}
		if page.Matched >= q.Offset && len(sums) < q.Limit {
			sums = append(sums, s)
		}
		page.Matched++
	}
	var err error
	page.Results, err = in.readResults(ctx, sums)
	return page, err
}

// readResults reads and decodes the records of sums (MGET, a batch at a
// time); a record gone since the snapshot is left out.
func (in *Inspector) readResults(ctx context.Context, sums []ResultSummary) ([]ResultEntry, error) {
	ids := make([]string, len(sums))
	for i, s := range sums {
		ids[i] = s.JobID
	}
	recs, err := in.r.Results(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]ResultEntry, 0, len(recs))
	for i, rec := range recs {
		if rec.Data == nil {
			continue // expired or deleted since the snapshot
		}
		e := ResultEntry{Summary: sums[i]}
		if r, err := arqcompat.DecodeResult(in.c.Serializer(), rec.Data); err != nil {
			e.Err = in.recordError(arqcompat.ResultKey(rec.JobID), rec.Data, err)
		} else {
			e.Result = jobResultFrom(rec.JobID, r)
		}
		out = append(out, e)
	}
	return out, nil
}

// AllJobResults lists every kept result, as arq's all_job_results, sorted
// by enqueue time; a result that cannot be read is an error, as in arq.
// Unlike Results, its work grows with the number of kept results: it
// reads and decodes every one of them (with SCAN rather than KEYS).
func (in *Inspector) AllJobResults(ctx context.Context) ([]*client.JobResult, error) {
	census, err := in.r.KeyCensus(ctx, 0)
	if err != nil {
		return nil, err
	}
	out := make([]*client.JobResult, 0, len(census.ResultIDs))
	batch := make([]ResultSummary, 0, MaxLimit)
	for start := 0; start < len(census.ResultIDs); start += MaxLimit {
		batch = batch[:0]
		for _, id := range census.ResultIDs[start:min(start+MaxLimit, len(census.ResultIDs))] {
			batch = append(batch, ResultSummary{JobID: id})
		}
		entries, err := in.readResults(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Err != nil {
				return nil, fmt.Errorf("job %s: unable to deserialize job result: %w", e.Summary.JobID, e.Err)
			}
			out = append(out, e.Result)
		}
	}
	slices.SortStableFunc(out, func(a, b *client.JobResult) int { return a.EnqueueTime.Compare(b.EnqueueTime) })
	return out, nil
}
