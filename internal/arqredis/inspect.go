package arqredis

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

// The reads of dashboards and exporters (package inspect). Each is bounded:
// a page of a sorted set by rank, a pipeline of per-id reads for that page,
// or a SCAN walk with a cursor. None reads every record of a queue.

// censusScanCount is the COUNT hint of the census SCAN: large, so that a
// walk of 200,000 keys is about 20 round trips.
const censusScanCount = 10_000

// Census is one SCAN walk over the keys arq writes per job id: kept results
// and in-progress markers (retry counters are counted only).
type Census struct {
	ResultIDs     []string
	InProgressIDs []string
	Retries       int
	// ResultsLeftOut counts the result keys past KeyCensus's maxResults.
	ResultsLeftOut int
}

// KeyCensus walks the keyspace once with SCAN MATCH arq:[ir]* and sorts the
// keys it finds by prefix, keeping at most maxResults result ids (<= 0:
// all) and counting the others. Its cost is one pass over the keyspace on
// the server and a transfer of the matching key names.
func (r *RDB) KeyCensus(ctx context.Context, maxResults int) (Census, error) {
	var c Census
	err := r.scanJobKeys(ctx, func(prefix, id string) {
		switch prefix {
		case arqcompat.ResultKeyPrefix:
			if maxResults > 0 && len(c.ResultIDs) >= maxResults {
				c.ResultsLeftOut++
				return
			}
			c.ResultIDs = append(c.ResultIDs, id)
		case arqcompat.InProgressKeyPrefix:
			c.InProgressIDs = append(c.InProgressIDs, id)
		case arqcompat.RetryKeyPrefix:
			c.Retries++
		}
	})
	return c, err
}

// scanJobKeys is the one walk of the keyspace behind KeyCensus and
// ScanJobKeys: SCAN MATCH arq:[ir]*, calling visit with the prefix
// (result, in-progress or retry) and the job id of each key it finds.
func (r *RDB) scanJobKeys(ctx context.Context, visit func(prefix, id string)) error {
	iter := r.c.Scan(ctx, 0, "arq:[ir]*", censusScanCount).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		for _, prefix := range [...]string{arqcompat.ResultKeyPrefix, arqcompat.InProgressKeyPrefix, arqcompat.RetryKeyPrefix} {
			if strings.HasPrefix(k, prefix) {
				visit(prefix, k[len(prefix):])
				break
			}
		}
	}
	return iter.Err()
}

// QueueHead is a queue's counts and its first entries by score.
type QueueHead struct {
	// Ready counts the entries scored up to now (running jobs included:
	// a job stays in the queue while it runs); Total is ZCARD.
	Ready, Total int64
	// Head are the first ready entries by score, lowest first.
	Head []redis.Z
	// InQueue reports, for each id asked about, whether it is in the queue.
	InQueue []bool
}

// QueueHead reads, in one pipeline, ZCOUNT queue -inf now, ZCARD queue,
// ZRANGE queue (1 now BYSCORE LIMIT 0 headLen WITHSCORES (the first ready
// entries; score 1 is a deferred job re-scored by an abort, which runs at
// once and has no age) and ZSCORE queue id for each of ids
// (the in-progress ids of a census, to tell which belong to this queue).
func (r *RDB) QueueHead(ctx context.Context, queue string, nowMS int64, headLen int, ids []string) (QueueHead, error) {
	var zc, zn *redis.IntCmd
	var head *redis.ZSliceCmd
	scores := make([]*redis.FloatCmd, len(ids))
	cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		zc = p.ZCount(ctx, queue, "-inf", strconv.FormatInt(nowMS, 10))
		zn = p.ZCard(ctx, queue)
		head = p.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: queue, ByScore: true, Start: "(1",
			Stop: strconv.FormatInt(nowMS, 10), Count: int64(max(headLen, 1))})
		for i, id := range ids {
			scores[i] = p.ZScore(ctx, queue, id)
		}
		return nil
	})
	if err := pipeErr(cmds, err); err != nil {
		return QueueHead{}, err
	}
	h := QueueHead{Ready: zc.Val(), Total: zn.Val(), Head: head.Val(), InQueue: make([]bool, len(ids))}
	for i, s := range scores {
		h.InQueue[i] = s.Err() == nil
	}
	return h, nil
}

// PageEntry is one queue entry of a page: its id and score, its job record
// (nil when the key is gone) and whether it holds an in-progress key.
type PageEntry struct {
	Record
	InProgress bool
}

// QueuePage reads the entries of rank start..stop (inclusive; stop -1 is
// the last) of a queue by score: ZRANGE WITHSCORES, then pipelines of GET
// arq:job:<id> and EXISTS arq:in-progress:<id>, readBatch entries each.
// ZRANGE by rank costs O(log N + M).
func (r *RDB) QueuePage(ctx context.Context, queue string, start, stop int64) ([]PageEntry, error) {
	zs, err := r.c.ZRangeWithScores(ctx, queue, start, stop).Result()
	if err != nil || len(zs) == 0 {
		return nil, err
	}
	out := make([]PageEntry, len(zs))
	for from := 0; from < len(zs); from += readBatch {
		chunk := zs[from:min(from+readBatch, len(zs))]
		gets := make([]*redis.StringCmd, len(chunk))
		ex := make([]*redis.IntCmd, len(chunk))
		cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, z := range chunk {
				id, _ := z.Member.(string)
				gets[i] = p.Get(ctx, arqcompat.JobKey(id))
				ex[i] = p.Exists(ctx, arqcompat.InProgressKey(id))
			}
			return nil
		})
		if err := pipeErr(cmds, err); err != nil {
			return nil, err
		}
		for i, z := range chunk {
			e := &out[from+i]
			e.JobID, _ = z.Member.(string)
			e.Score = int64(z.Score)
			if v, err := gets[i].Bytes(); err == nil {
				e.Data = v
			}
			e.InProgress = ex[i].Val() > 0
		}
	}
	return out, nil
}

// JobKeys is everything stored under one job id, read in one pipeline.
type JobKeys struct {
	JobState
	Job, Result []byte // nil when absent
	// AbortRequestedMS is the id's score in arq:abort; 0 when absent.
	AbortRequestedMS int64
	// Retry is the value of arq:retry:<id> (the try the worker has
	// reached); 0 when absent.
	Retry int64
}

// JobKeys reads arq:job:<id>, arq:result:<id>, the queue score,
// arq:in-progress:<id>, the id's score in arq:abort and arq:retry:<id>.
func (r *RDB) JobKeys(ctx context.Context, queue, jobID string) (JobKeys, error) {
	var job, res, retry *redis.StringCmd
	var score, abort *redis.FloatCmd
	var inProg *redis.IntCmd
	cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		job = p.Get(ctx, arqcompat.JobKey(jobID))
		res = p.Get(ctx, arqcompat.ResultKey(jobID))
		score = p.ZScore(ctx, queue, jobID)
		inProg = p.Exists(ctx, arqcompat.InProgressKey(jobID))
		abort = p.ZScore(ctx, arqcompat.AbortJobsSS, jobID)
		retry = p.Get(ctx, arqcompat.RetryKey(jobID))
		return nil
	})
	if err := pipeErr(cmds, err); err != nil {
		return JobKeys{}, err
	}
	var k JobKeys
	k.Job, _ = job.Bytes()
	k.Result, _ = res.Bytes()
	k.HasResult = k.Result != nil
	if s, err := score.Result(); err == nil {
		k.Score, k.Queued = int64(s), true
	}
	k.InProgress = inProg.Val() > 0
	if s, err := abort.Result(); err == nil {
		k.AbortRequestedMS = int64(s)
	}
	k.Retry, _ = retry.Int64()
	return k, nil
}

// OldestAbortRequest is the lowest score in arq:abort (a millisecond
// timestamp); ok is false when the set is empty. A worker that allows
// aborts drops entries older than AbortJobMaxAge on every poll, so an old
// entry means no such worker is running.
func (r *RDB) OldestAbortRequest(ctx context.Context) (ms int64, ok bool, err error) {
	zs, err := r.c.ZRangeWithScores(ctx, arqcompat.AbortJobsSS, 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return 0, false, err
	}
	return int64(zs[0].Score), true, nil
}

// DeleteResult deletes arq:result:<id> (python-arq/arq#229); deleted is
// false when there was none.
func (r *RDB) DeleteResult(ctx context.Context, jobID string) (deleted bool, err error) {
	n, err := r.c.Del(ctx, arqcompat.ResultKey(jobID)).Result()
	return n > 0, err
}
