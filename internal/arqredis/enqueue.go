package arqredis

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

// ErrJobExists is returned when an enqueue finds the job id taken: the job
// is queued or running (its job key exists) or has a kept result.
var ErrJobExists = errors.New("arqredis: the job id is taken")

// Enqueue is one job ready to be written: its serialized record, queue
// score (ms) and job key TTL (ms).
type Enqueue struct {
	JobID, Queue string
	Score        int64
	ExpiresMS    int64
	Data         []byte
	// JobKey and ResultKey, when set, are arqcompat.JobKey(JobID) and
	// arqcompat.ResultKey(JobID), made by the caller (with the id, in one
	// allocation); when empty, they are made from JobID.
	JobKey, ResultKey string
}

// keys are j's job and result keys, in one allocation when j lacks them.
func (j *Enqueue) keys() (jobKey, resultKey string) {
	if j.JobKey != "" && j.ResultKey != "" {
		return j.JobKey, j.ResultKey
	}
	both := arqcompat.JobKeyPrefix + j.JobID + arqcompat.ResultKeyPrefix + j.JobID
	n := len(arqcompat.JobKeyPrefix) + len(j.JobID)
	return both[:n], both[n:]
}

// enqueueScript is arq's enqueue_job transaction as one atomic script.
//
// Stands for: ArqRedis.enqueue_job (WATCH job key; EXISTS job, result;
// MULTI; PSETEX job; ZADD queue; EXEC).
// KEYS: job key, result key, queue. ARGV: job TTL ms, record, score, job id.
// Reply: 1 enqueued, 0 the id is taken.
//
// One difference: when the job key already holds exactly the bytes being
// written, the job is reported enqueued, not a duplicate. That happens
// when go-redis re-sends the script after a connection was lost with the
// reply (the first attempt landed); the record holds the enqueue time in
// ms, so two separate calls only match within the same millisecond and
// with the same id, function and arguments.
var enqueueScript = redis.NewScript(enqueueLua)

const enqueueLua = `
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  if redis.call('GET', KEYS[1]) == ARGV[2] then return 1 end
  return 0
end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1`

// Arguments of the enqueue command that are the same for every job, boxed
// once: an enqueue is one EVALSHA, built here rather than by
// Script.EvalSha, whose []string of keys and per-call boxing of the
// command name and hash cost allocations on the hot path.
var (
	enqueueSHAArg     any = enqueueScript.Hash()
	enqueueSrcArg     any = enqueueLua
	expiresExtraMSArg any = int64(ExpiresExtraMS)
)

// enqueueCmd is the EVALSHA of enqueueScript for j, the command
// Script.EvalSha would build (same arguments, same first key position).
func enqueueCmd(ctx context.Context, j *Enqueue) *redis.Cmd {
	jobKey, resultKey := j.keys()
	var ttl any = expiresExtraMSArg // the default TTL, without an allocation
	if j.ExpiresMS != ExpiresExtraMS {
		ttl = j.ExpiresMS
	}
	cmd := redis.NewCmd(ctx, "evalsha", enqueueSHAArg, 3, jobKey, resultKey, j.Queue, ttl, j.Data, j.Score, j.JobID)
	cmd.SetFirstKeyPos(3)
	return cmd
}

// EnqueueOne writes one job with one script call, not a pipeline, and
// reports whether it was enqueued (false: the id was taken). It writes what
// Enqueue writes for a batch of one, at less cost per call (no pipeline to
// build), and takes runScript's NOSCRIPT strategy: on NOSCRIPT (a fresh or
// restarted Redis) the same command as EVAL with the script's text.
func (r *RDB) EnqueueOne(ctx context.Context, j Enqueue) (bool, error) {
	cmd := enqueueCmd(ctx, &j)
	if err := r.c.Process(ctx, cmd); IsNoScript(err) {
		args := cmd.Args()
		args[0], args[1] = "eval", enqueueSrcArg
		cmd = redis.NewCmd(ctx, args...)
		cmd.SetFirstKeyPos(3)
		_ = r.c.Process(ctx, cmd)
	}
	n, err := cmd.Int()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// Enqueue writes jobs in one round trip, one script call each, and reports
// for each whether it was enqueued (false: the id was taken). When the
// server does not know the script yet (a fresh or restarted Redis), it
// loads it and re-runs only the jobs that got NOSCRIPT, which therefore
// did not run.
func (r *RDB) Enqueue(ctx context.Context, jobs []Enqueue) ([]bool, error) {
	cmds, err := r.enqueueCmds(ctx, jobs)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(jobs))
	for i, cmd := range cmds {
		n, err := cmd.Int()
		if err != nil {
			return nil, err
		}
		out[i] = n == 1
	}
	return out, nil
}

// EnqueueEach is Enqueue for jobs of separate callers: one round trip, and
// each job its own outcome in oks and errs (of len(jobs)), so that one
// job's error is not another's.
func (r *RDB) EnqueueEach(ctx context.Context, jobs []Enqueue, oks []bool, errs []error) {
	cmds, err := r.enqueueCmds(ctx, jobs)
	for i, cmd := range cmds {
		if err != nil && IsNoScript(cmd.Err()) { // it did not run
			oks[i], errs[i] = false, err
			continue
		}
		n, e := cmd.Int()
		oks[i], errs[i] = n == 1, e
	}
}

// enqueueCmds runs the jobs' scripts in one pipeline, and again, after
// loading the script, those that got NOSCRIPT. A non-nil error says the
// script could not be loaded or run; the jobs whose command does not hold
// NOSCRIPT ran.
func (r *RDB) enqueueCmds(ctx context.Context, jobs []Enqueue) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, len(jobs))
	todo := make([]int, len(jobs))
	for i := range todo {
		todo[i] = i
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		_, _ = r.c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for _, i := range todo {
				cmds[i] = enqueueCmd(ctx, &jobs[i])
				_ = pipe.Process(ctx, cmds[i])
			}
			return nil
		})
		var again []int
		for _, i := range todo {
			if IsNoScript(cmds[i].Err()) {
				again = append(again, i)
			}
		}
		if len(again) > 0 {
			if attempt > 0 {
				return cmds, fmt.Errorf("enqueue script: %w", cmds[again[0]].Err())
			}
			if err := enqueueScript.Load(ctx, r.c).Err(); err != nil {
				return cmds, err
			}
		}
		todo = again
	}
	return cmds, nil
}

// EnqueueWatchMulti is arq's enqueue_job as arq sends it, for a Redis that
// forbids scripting: WATCH the job key; EXISTS job, result; MULTI; PSETEX;
// ZADD; EXEC. prepare builds the job once the id is known to be free (arq
// serializes after the EXISTS check too). A taken id, or a lost race
// (EXEC aborted), is ErrJobExists.
func (r *RDB) EnqueueWatchMulti(ctx context.Context, jobID string, prepare func() (Enqueue, error)) (Enqueue, error) {
	jobKey := arqcompat.JobKey(jobID)
	var j Enqueue
	err := r.c.Watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, jobKey, arqcompat.ResultKey(jobID)).Result()
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrJobExists
		}
		if j, err = prepare(); err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Do(ctx, "PSETEX", jobKey, j.ExpiresMS, j.Data)
			pipe.ZAdd(ctx, j.Queue, redis.Z{Score: float64(j.Score), Member: jobID})
			return nil
		})
		return err
	}, jobKey)
	if errors.Is(err, redis.TxFailedErr) {
		return j, ErrJobExists
	}
	return j, err
}
