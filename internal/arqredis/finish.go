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
	// Token is the claim's (Claimed.Token): the finish applies only while
	// the job's in-progress key still holds it, so it applies once, and
	// never to a claim of another worker or a later claim of this one.
	Token string
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
	// KeepInProgress, for cron jobs, keeps the in-progress key for this
	// long instead of deleting it (arq's keep_cronjob_progress). Its value
	// becomes arq's "1", so the finish cannot apply again.
	KeepInProgress time.Duration
}

// finishScript applies a batch of finish transactions, each only while
// the job's in-progress key holds the token of the claim that started it.
//
// Stands for: Worker.finish_job and Worker.finish_failed_job, one call per
// job, made conditional. arq sends each as a MULTI that applies whatever
// the in-progress key holds; a MULTI re-sent after its reply was lost
// would apply twice: delete the in-progress key of the job's next claim
// (so two workers run it at once), raise a retry's score twice, or delete
// a job enqueued again under the same id. arq itself only checks that an
// in-progress key exists (EXISTS in start_jobs and Job.status, WATCH
// around its PSETEX of b'1'), so the token goarq stores there is invisible
// to it.
//
// KEYS: abort set. ARGV: per job 8 fields: id, queue, token, kind ("f":
// finish_failed_job, "d": finish_job with finish=True, "r": the job stays
// queued), score increment ("0": none), in-progress keep ms ("0": delete
// the key), result TTL ms ("": no result, "0": no TTL), result.
// Reply: one integer per job: 1 when its finish applied; else nothing was
// written for it, and it is 0 when its in-progress key is gone (the finish
// applied already, or the key expired) and -1 when the key holds another
// claim's token or arq's "1" (claimed again).
//
// The batch's deletes go in one DEL and its removals in one ZREM per
// sorted set, which saves Redis CPU when many jobs finish together. A job
// named twice in a batch (claimed again after its key expired) matches at
// most one of its tokens: the key holds one, and each claim's is its own.
var finishScript = redis.NewScript(`
local call = redis.call
local ipp, rkp, jkp, resp = '` + arqcompat.InProgressKeyPrefix + `', '` + arqcompat.RetryKeyPrefix + `', '` + arqcompat.JobKeyPrefix + `', '` + arqcompat.ResultKeyPrefix + `'
local out, ips, del, aborts, queues, removed = {}, {}, {}, {}, {}, {}
local n, nd, na = 0, 0, 0
for i = 1, #ARGV, 8 do
  n = n + 1
  ips[n] = ipp .. ARGV[i]
end
local held = call('MGET', unpack(ips))
n = 0
for i = 1, #ARGV, 8 do
  n = n + 1
  local id, h = ARGV[i], held[n]
  if h ~= ARGV[i + 2] then
    if h then out[n] = -1 else out[n] = 0 end
  else
    out[n] = 1
    local kind, keep_ip = ARGV[i + 3], ARGV[i + 5]
    if kind == 'f' or keep_ip == '0' then
      nd = nd + 1
      del[nd] = ips[n]
    else
      call('SET', ips[n], '1', 'PX', keep_ip)
    end
    if kind == 'r' then
      if ARGV[i + 4] ~= '0' then call('ZINCRBY', ARGV[i + 1], ARGV[i + 4], id) end
    else
      local ttl = ARGV[i + 6]
      if ttl == '0' then
        call('SET', resp .. id, ARGV[i + 7])
      elseif ttl ~= '' then
        call('SET', resp .. id, ARGV[i + 7], 'PX', ttl)
      end
      del[nd + 1], del[nd + 2] = rkp .. id, jkp .. id
      nd = nd + 2
      na = na + 1
      aborts[na] = id
      local queue = ARGV[i + 1]
      local r = removed[queue]
      if not r then
        r = {}
        removed[queue] = r
        queues[#queues + 1] = queue
      end
      r[#r + 1] = id
    end
  end
end
if nd > 0 then call('DEL', unpack(del)) end
if na > 0 then call('ZREM', KEYS[1], unpack(aborts)) end
for _, q in ipairs(queues) do call('ZREM', q, unpack(removed[q])) end
return out`)

// finishArgs are finishScript's ARGV for batch.
func finishArgs(batch []Finish) []any {
	args := make([]any, 0, 8*len(batch))
	for _, f := range batch {
		kind := "r"
		switch {
		case f.Failed:
			kind = "f"
		case f.Done:
			kind = "d"
		}
		// the result goes as its bytes (go-redis writes a []byte as a
		// bulk string), not copied into a string
		var ttl string
		var result any = ""
		switch {
		case f.Result == nil:
		case f.KeepForever:
			ttl, result = "0", f.Result
		case f.Keep > 0:
			ttl, result = strconv.FormatInt(max(f.Keep.Milliseconds(), 1), 10), f.Result
		}
		keepIP := int64(0)
		if !f.Failed && f.KeepInProgress > 0 {
			keepIP = max(f.KeepInProgress.Milliseconds(), 1)
		}
		incr := int64(0)
		if !f.Failed && !f.Done {
			incr = f.IncrScore
		}
		args = append(args, f.JobID, f.Queue, f.Token, kind, incr, keepIP, ttl, result)
	}
	return args
}

// FinishReply is what WriteFinishes did.
type FinishReply struct {
	// Err is the error of the finish script: nil when every job's finish
	// either applied or found its claim gone. Each finish applies only
	// while its claim's token is in place, so a caller may repeat it after
	// a lost reply: what applied the first time does not apply again.
	Err error
	// Skipped, when Err is nil, are the jobs whose in-progress key no
	// longer held their token: nothing was written for them.
	Skipped []Skipped
	// Claimed are the jobs the claim at the end of the batch took, and
	// ClaimErr its error (nil with none claimed when the script was not
	// loaded yet: it is loaded for the next call).
	Claimed  []Claimed
	ClaimErr error
	// More reports that the claim may have left ready jobs (ClaimReply.More).
	More bool
	// Held are the jobs the claim held as being aborted (ClaimReply.Held).
	Held []string
}

// Skipped is a finish that did not apply.
type Skipped struct {
	Index int // in the batch
	// Taken: the job's in-progress key holds another claim (it was claimed
	// again). Otherwise the key is gone: the finish applied already (a
	// repeat after a lost reply) or the key expired.
	Taken bool
}

// queueFinish adds the finish script for batch to p.
func queueFinish(ctx context.Context, p redis.Pipeliner, batch []Finish) *redis.Cmd {
	return finishScript.EvalSha(ctx, p, []string{arqcompat.AbortJobsSS}, finishArgs(batch)...)
}

// finishOutcome reads the finish script's reply.
func finishOutcome(cmd *redis.Cmd, n int) (skipped []Skipped, err error) {
	if err := cmd.Err(); err != nil {
		return nil, err
	}
	vals, ok := cmd.Val().([]any)
	if !ok || len(vals) != n {
		return nil, fmt.Errorf("finish script: unexpected reply %v", cmd.Val())
	}
	for i, v := range vals {
		if applied, _ := v.(int64); applied != 1 {
			skipped = append(skipped, Skipped{Index: i, Taken: applied < 0})
		}
	}
	return skipped, nil
}

// WriteFinishes writes a batch of finish transactions in one MULTI/EXEC
// holding finishScript: each job's writes stay atomic, and the batch is
// one round trip. With a claim, the MULTI ends with claimScript: Redis
// runs it after the finishes, so one round trip finishes jobs and claims
// their successors, with the atomicity of a separate claim.
func (r *RDB) WriteFinishes(ctx context.Context, batch []Finish, claim *ClaimArgs) FinishReply {
	var fin, cl *redis.Cmd
	var ca ClaimArgs
	var prefix string
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		fin = queueFinish(ctx, p, batch)
		if claim != nil {
			ca = *claim
			ca.Now = time.Now()
			prefix = r.tokenPrefix()
			keys, args := ca.keysArgs(prefix)
			cl = claimScript.EvalSha(ctx, p, keys, args...)
		}
		return nil
	})
	var rep FinishReply
	rep.Skipped, rep.Err = finishOutcome(fin, len(batch))
	if rep.Err == nil && err != nil && cl == nil {
		rep.Err = err
	}
	if cl != nil {
		if rep.ClaimErr = cl.Err(); rep.ClaimErr == nil {
			claimed, cerr := parseClaim(ca, prefix, cl.Val())
			rep.Claimed, rep.More, rep.Held, rep.ClaimErr = claimed.Jobs, claimed.More, claimed.Held, cerr
		} else if IsNoScript(rep.ClaimErr) && !IsNoScript(rep.Err) {
			rep.ClaimErr = r.LoadScripts(ctx) // for next time
		}
	}
	if IsNoScript(rep.Err) { // a fresh or restarted Redis: nothing applied
		if lerr := r.LoadScripts(ctx); lerr != nil {
			rep.Err = lerr
			return rep
		}
		again := r.WriteFinishes(ctx, batch, nil)
		rep.Skipped, rep.Err = again.Skipped, again.Err
	}
	return rep
}

// SetRetry raises the retry counter to an enqueuer's _job_try, as arq's
// run_job does (SETEX retry key).
func (r *RDB) SetRetry(ctx context.Context, jobID string, try int) error {
	return r.c.SetEx(ctx, arqcompat.RetryKey(jobID), strconv.Itoa(try), RetryKeyTTLSeconds*time.Second).Err()
}

// AbortRequests is the first step of arq's _cancel_aborted_jobs: in one
// MULTI, ZRANGE arq:abort and drop its entries scored from now +
// abort_job_max_age on (arq's cleanup, kept as arq writes it).
func (r *RDB) AbortRequests(ctx context.Context, now time.Time) ([]string, error) {
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
	return r.c.Do(ctx, "PSETEX", key, ttl.Milliseconds(), line).Err()
}

// DeleteHealth removes the health-check key, as a worker does on close.
func (r *RDB) DeleteHealth(ctx context.Context, key string) error {
	return r.c.Del(ctx, key).Err()
}

// ServerInfo is what arq's log_redis_info prints: the version, memory
// used, clients connected and keys; a section the server does not provide
// (an embedded Redis) reads as "?".
func (r *RDB) ServerInfo(ctx context.Context) (version, memory, clients, keys string) {
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
