package inspect

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// QueueStats are a queue's counts, its kept results' counts and its
// health-check line.
type QueueStats struct {
	Queue string
	// Queued are ready to run now and not running; Deferred are scored in
	// the future; InProgress hold an in-progress key (as of the snapshot).
	Queued, Deferred, InProgress int64
	// OldestReady is the age of the oldest ready job that is not running
	// (now minus its score); HasReady is false when there is none.
	OldestReady time.Duration
	HasReady    bool
	// ResultsOK and ResultsFailed count the kept results of this queue's
	// jobs (and of jobs whose record names no queue, '<unknown>'), as of
	// the snapshot.
	ResultsOK, ResultsFailed int
	// ResultsUnreadable counts the kept results, of any queue, that cannot
	// be read with the client's serializer (their queue is unknown).
	ResultsUnreadable int
	// ResultsLeftOut counts the kept results, of any queue, past
	// Options.MaxResults, which the counts above leave out.
	ResultsLeftOut int
	Health         Health
}

// headCap bounds the head of a queue read to find its oldest ready job.
const headCap = 1000

// QueueStats reads a queue's counts in one pipeline (ZCOUNT, ZCARD, the
// head of the queue, ZSCORE of each in-progress id of snap) and its
// health-check key, and counts its kept results in snap. queue "" is the
// client's. snap may be nil: then Snapshot is called and waited for, which
// reads and decodes only the results that are new since the last one.
func (in *Inspector) QueueStats(ctx context.Context, queue string, snap *Snapshot) (QueueStats, error) {
	queue = in.queue(queue)
	if snap == nil {
		var err error
		if snap, err = in.Snapshot(ctx, -1); err != nil {
			return QueueStats{Queue: queue}, err
		}
	}
	nowMS := arqcompat.TimestampMS(in.now())
	ids := snap.InProgressIDs
	h, err := in.r.QueueHead(ctx, queue, nowMS, min(len(ids)+1, headCap), ids)
	if err != nil {
		return QueueStats{Queue: queue}, err
	}
	st := QueueStats{Queue: queue, Deferred: h.Total - h.Ready, ResultsLeftOut: snap.LeftOut}
	running := map[string]bool{}
	for i, ok := range h.InQueue {
		if ok {
			st.InProgress++
			running[ids[i]] = true
		}
	}
	// a running job is still in the queue: count it once, as running
	st.Queued = max(0, h.Ready-st.InProgress)
	for _, z := range h.Head {
		id, _ := z.Member.(string)
		score := int64(z.Score)
		if score > nowMS {
			break
		}
		if running[id] {
			continue
		}
		st.OldestReady, st.HasReady = time.Duration(nowMS-score)*time.Millisecond, true
		break
	}
	for _, r := range snap.Results {
		switch {
		case r.Unreadable:
			st.ResultsUnreadable++
		case r.Queue != queue && r.Queue != unknownQueue:
		case r.Success:
			st.ResultsOK++
		default:
			st.ResultsFailed++
		}
	}
	st.Health, err = in.Health(ctx, arqcompat.HealthCheckKey(queue))
	return st, err
}

// Health is a worker's health-check line, parsed.
type Health struct {
	Key  string
	Line string
	// Present is false when the key does not exist (no worker has written
	// it within its health-check interval).
	Present bool
	// Parsed is set when Line has arq's format; then At is its time (in
	// the Inspector's HealthLocation) and the counters are filled.
	Parsed                                     bool
	At                                         time.Time
	Complete, Failed, Retried, Ongoing, Queued int64
}

// ParseHealth parses arq's health-check line, "Nov-22 10:11:12
// j_complete=1 j_failed=0 j_retried=0 j_ongoing=0 queued=0". The line has
// no year: it is the year that puts At closest before now (plus a day of
// slack for clock skew).
func ParseHealth(line string, now time.Time, loc *time.Location) (h Health, ok bool) {
	h.Line = line
	if len(line) < 15 {
		return h, false
	}
	t, err := time.ParseInLocation("Jan-02 15:04:05", line[:15], loc)
	if err != nil {
		return h, false
	}
	now = now.In(loc)
	at := time.Date(now.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
	if at.After(now.Add(24 * time.Hour)) {
		at = at.AddDate(-1, 0, 0)
	}
	h.At = at
	for _, f := range strings.Fields(line[15:]) {
		k, v, found := strings.Cut(f, "=")
		if !found {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "j_complete":
			h.Complete = n
		case "j_failed":
			h.Failed = n
		case "j_retried":
			h.Retried = n
		case "j_ongoing":
			h.Ongoing = n
		case "queued":
			h.Queued = n
		}
	}
	h.Parsed = true
	return h, true
}

// Health reads and parses a health-check key, as arq's check_health
// does: Present is false when no worker has written it within its
// interval. key "" is the client queue's (<queue>:health-check).
func (in *Inspector) Health(ctx context.Context, key string) (Health, error) {
	if key == "" {
		key = arqcompat.HealthCheckKey(in.c.QueueName())
	}
	line, ok, err := in.r.ReadHealth(ctx, key)
	if err != nil || !ok {
		return Health{Key: key}, err
	}
	h, _ := ParseHealth(line, in.now(), in.loc)
	h.Key, h.Present = key, true
	return h, nil
}
