package arqredis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

// Finish is one job's finish transaction, as arq's worker writes it.
type Finish struct {
	JobID, Queue string
	// Failed selects arq's finish_failed_job, for a job that failed before
	// its function ran (expired, unknown function, too many tries, aborted
	// before start, undecodable): DEL retry, in-progress and job keys, ZREM
	// from arq:abort and the queue, then SET the result.
	Failed bool
	// Done is finish_job's finish=True: SET the result, DEL the retry and
	// job keys, ZREM from arq:abort and the queue. Without it the job stays
	// queued to run again, its score raised by IncrScore (a retry).
	Done      bool
	IncrScore int64
	// Result is the serialized result; nil writes none.
	Result []byte
	// Keep is the result's TTL; KeepForever stores it without one. With
	// neither, no result is written.
	Keep        time.Duration
	KeepForever bool
	// KeepInProgress, for cron jobs, PEXPIREs the in-progress key instead
	// of deleting it (arq's keep_cronjob_progress).
	KeepInProgress time.Duration
}

// queueFinishes builds a batch's finish transactions into one MULTI. Each
// job's own writes (its result SET, a cron job's PEXPIRE, a retry's
// ZINCRBY) come in order, then the batch's deletes as one DEL and its
// removals as one ZREM per sorted set. Inside MULTI/EXEC the effect is
// that of each job's finish_job or finish_failed_job: the jobs' keys and
// members are distinct, so no command of one job touches another's. A
// batch of n jobs sends n+3 commands instead of 4n, which saves Redis CPU
// and the worker's garbage when many jobs finish together. A batch that
// names one job twice is built job by job, in its order.
//
// Stands for: Worker.finish_job and Worker.finish_failed_job.
func queueFinishes(ctx context.Context, p redis.Pipeliner, batch []Finish) {
	if len(batch) > 1 && !distinctJobs(batch) {
		for _, f := range batch {
			queueFinishes(ctx, p, []Finish{f})
		}
		return
	}
	var del []string
	var aborts []any
	var queues []string
	removed := map[string][]any{}
	remove := func(f Finish) {
		aborts = append(aborts, f.JobID)
		if _, ok := removed[f.Queue]; !ok {
			queues = append(queues, f.Queue)
		}
		removed[f.Queue] = append(removed[f.Queue], f.JobID)
	}
	for _, f := range batch {
		id := f.JobID
		switch {
		case f.Failed:
			del = append(del, arqcompat.RetryKey(id), arqcompat.InProgressKey(id), arqcompat.JobKey(id))
			remove(f)
			f.setResult(ctx, p)
			continue
		case f.KeepInProgress == 0:
			del = append(del, arqcompat.InProgressKey(id))
		default:
			p.PExpire(ctx, arqcompat.InProgressKey(id), f.KeepInProgress)
		}
		if f.Done {
			f.setResult(ctx, p)
			del = append(del, arqcompat.RetryKey(id), arqcompat.JobKey(id))
			remove(f)
		} else if f.IncrScore != 0 {
			p.ZIncrBy(ctx, f.Queue, float64(f.IncrScore), id)
		}
	}
	if len(del) > 0 {
		p.Del(ctx, del...)
	}
	if len(aborts) > 0 {
		p.ZRem(ctx, arqcompat.AbortJobsSS, aborts...)
	}
	for _, q := range queues {
		p.ZRem(ctx, q, removed[q]...)
	}
}

// distinctJobs reports that no job appears twice in batch.
func distinctJobs(batch []Finish) bool {
	seen := make(map[string]struct{}, len(batch))
	for _, f := range batch {
		if _, dup := seen[f.JobID]; dup {
			return false
		}
		seen[f.JobID] = struct{}{}
	}
	return true
}

// setResult is the one place a result is SET: with PX keep, or without a
// TTL when kept forever (arq sends PX 0 from finish_failed_job there,
// which Redis rejects; a result kept forever is what is meant).
func (f Finish) setResult(ctx context.Context, p redis.Pipeliner) {
	switch {
	case f.Result == nil:
	case f.KeepForever:
		p.Set(ctx, arqcompat.ResultKey(f.JobID), f.Result, 0)
	case f.Keep > 0:
		p.Do(ctx, "SET", arqcompat.ResultKey(f.JobID), f.Result, "PX", f.Keep.Milliseconds())
	}
}

// FinishReply is what WriteFinishes did.
type FinishReply struct {
	// Err is the error of the finish commands: nil when every job's outcome
	// is in Redis. The MULTI is idempotent, so a caller may repeat it after
	// a lost reply.
	Err error
	// Claimed are the jobs the claim at the end of the MULTI took, and
	// ClaimErr its error (nil with none claimed when the script was not
	// loaded yet: it is loaded for the next call).
	Claimed  []Claimed
	ClaimErr error
	// More reports that the claim may have left ready jobs (ClaimReply.More).
	More bool
}

// WriteFinishes writes a batch of finish transactions in one MULTI/EXEC:
// each job's writes stay atomic, and the batch is one round trip. With a
// claim, the MULTI ends with claimScript: Redis runs it after the finish
// commands, so one round trip finishes jobs and claims their successors,
// with the atomicity of a separate claim.
func (r *RDB) WriteFinishes(ctx context.Context, batch []Finish, claim *ClaimArgs) FinishReply {
	ctx = r.with(ctx)
	var cl *redis.Cmd
	var ca ClaimArgs
	cmds, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		queueFinishes(ctx, p, batch)
		if claim != nil {
			ca = *claim
			ca.Now = time.Now()
			keys, args := ca.keysArgs()
			cl = claimScript.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	if cl == nil {
		return FinishReply{Err: err}
	}
	rep := FinishReply{Err: firstErr(cmds[:len(cmds)-1])}
	if rep.ClaimErr = cl.Err(); rep.ClaimErr != nil {
		if IsNoScript(rep.ClaimErr) { // a fresh or restarted Redis: load it for next time
			rep.ClaimErr = r.LoadScripts(ctx)
		}
		return rep
	}
	claimed, err := parseClaim(ca, cl.Val())
	rep.Claimed, rep.More, rep.ClaimErr = claimed.Jobs, claimed.More, err
	return rep
}

// SetRetry raises the retry counter to an enqueuer's _job_try, as arq's
// run_job does (SETEX retry key).
func (r *RDB) SetRetry(ctx context.Context, jobID string, try int) error {
	ctx = r.with(ctx)
	return r.c.SetEx(ctx, arqcompat.RetryKey(jobID), strconv.Itoa(try), RetryKeyTTLSeconds*time.Second).Err()
}

// AbortRequests is the first step of arq's _cancel_aborted_jobs: in one
// MULTI, ZRANGE arq:abort and drop its entries scored from now +
// abort_job_max_age on (arq's cleanup, kept as arq writes it).
func (r *RDB) AbortRequests(ctx context.Context, now time.Time) ([]string, error) {
	ctx = r.with(ctx)
	var ids *redis.StringSliceCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		ids = p.ZRange(ctx, arqcompat.AbortJobsSS, 0, -1)
		p.ZRemRangeByScore(ctx, arqcompat.AbortJobsSS, fmt.Sprint(arqcompat.TimestampMS(now)+AbortJobMaxAge), "+inf")
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids.Val(), nil
}

// ForgetAborts is _cancel_aborted_jobs's last step: ZREM the ids of the
// jobs this worker aborted from arq:abort.
func (r *RDB) ForgetAborts(ctx context.Context, ids []string) error {
	ctx = r.with(ctx)
	if len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	return r.c.ZRem(ctx, arqcompat.AbortJobsSS, members...).Err()
}

// WriteHealth is record_health's write: PSETEX key ttl line.
func (r *RDB) WriteHealth(ctx context.Context, key, line string, ttl time.Duration) error {
	ctx = r.with(ctx)
	return r.c.Do(ctx, "PSETEX", key, ttl.Milliseconds(), line).Err()
}

// DeleteHealth removes the health-check key, as a worker does on close.
func (r *RDB) DeleteHealth(ctx context.Context, key string) error {
	ctx = r.with(ctx)
	return r.c.Del(ctx, key).Err()
}

// ServerInfo is what arq's log_redis_info prints: the version, memory
// used, clients connected and keys; a section the server does not provide
// (an embedded Redis) reads as "?".
func (r *RDB) ServerInfo(ctx context.Context) (version, memory, clients, keys string) {
	ctx = r.with(ctx)
	var server, mem, cl *redis.StringCmd
	var size *redis.IntCmd
	_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		server = p.Info(ctx, "Server")
		mem = p.Info(ctx, "Memory")
		cl = p.Info(ctx, "Clients")
		size = p.DBSize(ctx)
		return nil
	})
	keys = "?"
	if size.Err() == nil {
		keys = strconv.FormatInt(size.Val(), 10)
	}
	return infoField(server.Val(), "redis_version"), infoField(mem.Val(), "used_memory_human"), infoField(cl.Val(), "connected_clients"), keys
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return "?"
}
