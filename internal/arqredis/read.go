package arqredis

import (
	"context"
	"errors"
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

// Status is arq's Job.status rule: a kept result is "complete", an
// in-progress key "in_progress", a queue score "deferred" when later than
// nowMS or "queued" (a score of 0 is "not_found", as in arq), else
// "not_found".
func (st JobState) Status(nowMS int64) string {
	switch {
	case st.HasResult:
		return "complete"
	case st.InProgress:
		return "in_progress"
	case !st.Queued || st.Score == 0:
		return "not_found"
	case st.Score > nowMS:
		return "deferred"
	}
	return "queued"
}

// JobState reads a job's state as arq's Job.status does.
func (r *RDB) JobState(ctx context.Context, queue, jobID string) (JobState, error) {
	var res, inProg *redis.IntCmd
	var score *redis.FloatCmd
	cmds, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		res = p.Exists(ctx, arqcompat.ResultKey(jobID))
		inProg = p.Exists(ctx, arqcompat.InProgressKey(jobID))
		score = p.ZScore(ctx, queue, jobID)
		return nil
	})
	if err := pipeErr(cmds, err); err != nil {
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
	cmds, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, arqcompat.ResultKey(jobID))
		score = p.ZScore(ctx, queue, jobID)
		return nil
	})
	if err := pipeErr(cmds, err); err != nil {
		return nil, false, err
	}
	if v, err := get.Bytes(); err == nil {
		return v, true, nil
	}
	return nil, score.Err() == nil, nil
}

// pipeErr is the error of a pipeline or transaction whose commands may
// reply nil (a missing key, which each read handles): the first error of
// cmds that is not redis.Nil, else err unless it is redis.Nil. go-redis's
// Pipelined returns only the first command error, so a nil reply there
// would hide a later WRONGTYPE.
func pipeErr(cmds []redis.Cmder, err error) error {
	for _, c := range cmds {
		if e := c.Err(); e != nil && !IsNil(e) {
			return e
		}
	}
	if err != nil && !IsNil(err) {
		return err
	}
	return nil
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

// ResultTTLs reads the remaining time to live of the result keys of ids
// (PTTL, one pipeline): what the history recorder checks before it yields
// to a burst, so that it never leaves results in Redis for longer than
// they are kept. A key without expiry reads -1 ms, a missing one -2 ms.
func (r *RDB) ResultTTLs(ctx context.Context, ids []string) ([]time.Duration, error) {
	cmds := make([]*redis.DurationCmd, len(ids))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.PTTL(ctx, arqcompat.ResultKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, len(ids))
	for i, c := range cmds {
		out[i] = c.Val() // go-redis keeps PTTL's -1 and -2 as they are (in ns)
	}
	return out, nil
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

// ReadHealth reads a health-check key (arq --check); ok is false when it
// is absent.
func (r *RDB) ReadHealth(ctx context.Context, key string) (line string, ok bool, err error) {
	v, err := r.c.Get(ctx, key).Result()
	if IsNil(err) {
		return "", false, nil
	}
	return v, err == nil, err
}
