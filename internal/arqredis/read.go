package arqredis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

// readBatch bounds how many keys one MGET or pipeline of reads asks for.
const readBatch = 1000

// JobState is what Job.status reads, in one MULTI: EXISTS result key,
// EXISTS in-progress key, ZSCORE queue id.
type JobState struct {
	HasResult, InProgress bool
	// Score is the queue score; Queued is false when the job is not in the
	// queue.
	Score  int64
	Queued bool
}

// JobState reads a job's state as arq's Job.status does.
func (r *RDB) JobState(ctx context.Context, queue, jobID string) (JobState, error) {
	var res, inProg *redis.IntCmd
	var score *redis.FloatCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		res = p.Exists(ctx, arqcompat.ResultKey(jobID))
		inProg = p.Exists(ctx, arqcompat.InProgressKey(jobID))
		score = p.ZScore(ctx, queue, jobID)
		return nil
	})
	if err != nil && !IsNil(err) {
		return JobState{}, err
	}
	st := JobState{HasResult: res.Val() > 0, InProgress: inProg.Val() > 0}
	if s, err := score.Result(); err == nil {
		st.Score, st.Queued = int64(s), true
	}
	return st, nil
}

// PollResult is one round of arq's Job.result loop, in one MULTI: GET the
// result key, ZSCORE the queue. result is nil when there is none yet;
// queued is false when the job is not in the queue either.
func (r *RDB) PollResult(ctx context.Context, queue, jobID string) (result []byte, queued bool, err error) {
	var get *redis.StringCmd
	var score *redis.FloatCmd
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, arqcompat.ResultKey(jobID))
		score = p.ZScore(ctx, queue, jobID)
		return nil
	})
	if err != nil && !IsNil(err) {
		return nil, false, err
	}
	if v, err := get.Bytes(); err == nil {
		return v, true, nil
	}
	return nil, score.Err() == nil, nil
}

// ErrNotFound is returned by the single-key reads when the key is missing.
var ErrNotFound = errors.New("key not found")

func getBytes(ctx context.Context, c redis.UniversalClient, key string) ([]byte, error) {
	v, err := c.Get(ctx, key).Bytes()
	if IsNil(err) {
		return nil, ErrNotFound
	}
	return v, err
}

// GetResult reads arq:result:<id> (Job.result_info); ErrNotFound when absent.
func (r *RDB) GetResult(ctx context.Context, jobID string) ([]byte, error) {
	return getBytes(ctx, r.c, arqcompat.ResultKey(jobID))
}

// GetJob reads arq:job:<id> (Job.info); ErrNotFound when absent.
func (r *RDB) GetJob(ctx context.Context, jobID string) ([]byte, error) {
	return getBytes(ctx, r.c, arqcompat.JobKey(jobID))
}

// Score is ZSCORE queue id; ok is false when the job is not in the queue.
func (r *RDB) Score(ctx context.Context, queue, jobID string) (score int64, ok bool, err error) {
	s, err := r.c.ZScore(ctx, queue, jobID).Result()
	if IsNil(err) {
		return 0, false, nil
	}
	return int64(s), err == nil, err
}

// RequestAbort is arq's Job.abort before it waits: the id is added to
// arq:abort scored now and a deferred job is re-scored to 1 (ZREM, ZADD 1)
// so a worker picks it up at once. arq sends the re-score first and the
// abort request in a second round trip; here both go in one MULTI, so no
// worker can claim the re-scored job before the request is there (it then
// claims it as aborted, arq's "aborted before start").
func (r *RDB) RequestAbort(ctx context.Context, queue, jobID string, now time.Time, rescore bool) error {
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, arqcompat.AbortJobsSS, redis.Z{Score: float64(arqcompat.TimestampMS(now)), Member: jobID})
		if rescore {
			p.ZRem(ctx, queue, jobID)
			p.ZAdd(ctx, queue, redis.Z{Score: 1, Member: jobID})
		}
		return nil
	})
	return err
}

// Record is a stored job or result record read by a listing; Data is nil
// when the key was gone by the time it was read.
type Record struct {
	JobID string
	Score int64 // queue listings only
	Data  []byte
}

// QueuedJobs is the read behind arq's queued_jobs: ZRANGE queue WITHSCORES,
// then the job records with MGET, readBatch keys at a time.
func (r *RDB) QueuedJobs(ctx context.Context, queue string) ([]Record, error) {
	zs, err := r.c.ZRangeWithScores(ctx, queue, 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(zs))
	keys := make([]string, len(zs))
	for i, z := range zs {
		id, _ := z.Member.(string)
		out[i] = Record{JobID: id, Score: int64(z.Score)}
		keys[i] = arqcompat.JobKey(id)
	}
	vals, err := r.mget(ctx, keys)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Data = vals[i]
	}
	return out, nil
}

// ScanResultIDs lists the ids of the kept results with SCAN (arq's
// all_job_results uses KEYS; the ids are the same).
func (r *RDB) ScanResultIDs(ctx context.Context) ([]string, error) {
	return r.scanIDs(ctx, arqcompat.ResultKeyPrefix)
}

// Results reads the result records of ids with MGET, readBatch at a time.
func (r *RDB) Results(ctx context.Context, ids []string) ([]Record, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = arqcompat.ResultKey(id)
	}
	vals, err := r.mget(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(ids))
	for i, id := range ids {
		out[i] = Record{JobID: id, Data: vals[i]}
	}
	return out, nil
}

func (r *RDB) scanIDs(ctx context.Context, prefix string) ([]string, error) {
	var ids []string
	iter := r.c.Scan(ctx, 0, prefix+"*", readBatch).Iterator()
	for iter.Next(ctx) {
		ids = append(ids, strings.TrimPrefix(iter.Val(), prefix))
	}
	return ids, iter.Err()
}

// mget reads keys with MGET, readBatch at a time; a missing key reads nil.
func (r *RDB) mget(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, 0, len(keys))
	for start := 0; start < len(keys); start += readBatch {
		vals, err := r.c.MGet(ctx, keys[start:min(start+readBatch, len(keys))]...).Result()
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			if s, ok := v.(string); ok {
				out = append(out, []byte(s))
			} else {
				out = append(out, nil)
			}
		}
	}
	return out, nil
}

// QueueCounts are a queue's ready (score up to now) and total jobs:
// ZCOUNT queue -inf now and ZCARD queue, in one pipeline.
func (r *RDB) QueueCounts(ctx context.Context, queue string, now time.Time) (ready, total int64, err error) {
	var zc, zn *redis.IntCmd
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		zc = p.ZCount(ctx, queue, "-inf", strconv.FormatInt(arqcompat.TimestampMS(now), 10))
		zn = p.ZCard(ctx, queue)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return zc.Val(), zn.Val(), nil
}

// InProgressIn counts the jobs of queue that hold an in-progress key:
// SCAN arq:in-progress:*, then ZSCORE each id in the queue, pipelined
// (in-progress keys carry no queue name; a job in the queue is this
// queue's).
func (r *RDB) InProgressIn(ctx context.Context, queue string) (int, error) {
	ids, err := r.scanIDs(ctx, arqcompat.InProgressKeyPrefix)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	n := 0
	for start := 0; start < len(ids); start += readBatch {
		chunk := ids[start:min(start+readBatch, len(ids))]
		cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, id := range chunk {
				p.ZScore(ctx, queue, id)
			}
			return nil
		})
		if err != nil && !IsNil(err) {
			return 0, err
		}
		for _, c := range cmds {
			if c.Err() == nil {
				n++
			}
		}
	}
	return n, nil
}

// ReadHealth reads a health-check key (arq --check); ok is false when it
// is absent.
func (r *RDB) ReadHealth(ctx context.Context, key string) (line string, ok bool, err error) {
	v, err := r.c.Get(ctx, key).Result()
	if IsNil(err) {
		return "", false, nil
	}
	return v, err == nil, err
}
