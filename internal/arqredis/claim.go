package arqredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

// claimScript claims and starts up to ARGV[3] ready jobs in one atomic step.
//
// Stands for: Worker.start_jobs (per id: WATCH in-progress key; ZSCORE;
// skip when the key exists or the score is missing or in the future;
// MULTI; PSETEX in-progress key; EXEC) followed by the first transaction of
// Worker.run_job (GET job; INCR and EXPIRE the retry counter; ZREM from
// arq:abort when aborts are allowed). Being one script, it has the
// WATCH/MULTI's atomic effect without the race window, and Python workers
// on the same queue see the same keys. The in-progress key holds the
// claim's token (ARGV[7] and the job's rank in the claim) where arq writes
// b'1': arq only checks that the key exists, and goarq's finish applies
// only while the key holds its token (see finishScript).
//
// One check more than arq, with aborts allowed: a job scored 1 that is
// not in arq:abort is held, not claimed, unless its id is among ARGV[9..].
// arq's Job.abort re-scores a deferred job to 1 and adds it to arq:abort
// in a second round trip; arq's worker, polling every poll_delay, almost
// never claims in between, but a worker woken by the re-score would, and
// run the job the caller is aborting. The worker passes the ids it has
// held for abortHold (an abort that never completed), which then run.
//
// KEYS: queue, abort set. ARGV: now ms, read limit, max claims,
// in-progress ms, allow abort ("1"/"0"), want ZCARD ("1"/"0"), token
// prefix, number of allowed ids A, then A ids.
// Reply: {{id, score, job|false, try, aborted}...}, zcard or -1, more,
// next, busy, held. more is 1 when ready jobs may remain (the claim stopped
// at max claims or at the read limit). When it is 0, next is the score of
// the first job due after now (0: none), read here so that an idle worker
// knows when to wake without another round trip. When nothing was
// claimed, busy lists up to 16 ready ids that were already in progress:
// the worker uses them to tell a lost race from an empty queue (herd
// control). held lists the ids held as above. None of these is read by
// arq; they only save round trips.
var claimScript = redis.NewScript(`
local queue = KEYS[1]
local now = tonumber(ARGV[1])
local max_claims = tonumber(ARGV[3])
local ip_ms, allow_abort, tokpre = ARGV[4], ARGV[5], ARGV[7]
local allowed = {}
for i = 9, 8 + tonumber(ARGV[8]) do allowed[ARGV[i]] = true end
local ids = redis.call('ZRANGEBYSCORE', queue, '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
local busy = {}
local held = {}
local n = 0
local more = 0
if #ids >= tonumber(ARGV[2]) then more = 1 end
for _, id in ipairs(ids) do
  if n >= max_claims then more = 1 break end
  local ip = '` + arqcompat.InProgressKeyPrefix + `' .. id
  if redis.call('EXISTS', ip) == 0 then
    local score = redis.call('ZSCORE', queue, id)
    if score and tonumber(score) ~= 0 and tonumber(score) <= now then
` + holdLua + `
      else
        local job = redis.call('GET', '` + arqcompat.JobKeyPrefix + `' .. id)
` + startJobLua + `
      end
    end
  elseif #busy < 16 then
    busy[#busy + 1] = id
  end
end
local next = 0
if more == 0 then
  local due = redis.call('ZRANGEBYSCORE', queue, '(' .. ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if due[2] then next = tonumber(due[2]) end
end
if n > 0 then busy = {} end
local size = -1
if ARGV[6] == '1' then size = redis.call('ZCARD', queue) end
return {out, size, more, next, busy, held}`)

// holdLua opens the if of a claimable job (locals id, score) that is
// held as being aborted (see claimScript), appending it to held; the
// caller's else starts the job.
var holdLua = `
      if allow_abort == '1' and tonumber(score) == 1 and not allowed[id] and not redis.call('ZSCORE', KEYS[2], id) then
        held[#held + 1] = id`

// startJobLua is the start step both claim scripts take for a job they
// claim: PSETEX its in-progress key to the claim's token, INCR and EXPIRE
// its retry counter, ZREM it from arq:abort when aborts are allowed
// (reporting whether it was there), and append its row to out. It reads
// the locals id, ip, score, job, ip_ms (the in-progress TTL), allow_abort
// ("1"/"0") and tokpre (the claim's token prefix), and counts n.
var startJobLua = `
      redis.call('PSETEX', ip, ip_ms, tokpre .. (n + 1))
      local rk = '` + arqcompat.RetryKeyPrefix + `' .. id
      local try = redis.call('INCR', rk)
      redis.call('EXPIRE', rk, ` + strconv.Itoa(RetryKeyTTLSeconds) + `)
      local aborted = 0
      if allow_abort == '1' then aborted = redis.call('ZREM', KEYS[2], id) end
      out[#out + 1] = {id, score, job, try, aborted}
      n = n + 1`

// ClaimArgs says what a claim may take.
type ClaimArgs struct {
	Queue      string
	Now        time.Time
	ReadLimit  int           // queue_read_limit: how many ready ids to look at
	Max        int           // claim at most this many
	InProgress time.Duration // the in-progress key's TTL
	AllowAbort bool          // ZREM each claimed id from arq:abort, reporting whether it was there
	WantSize   bool          // also return the queue's ZCARD (burst mode)
	// Allow are ids scored 1 that the claim may take although they are
	// not in arq:abort (see claimScript): held long enough.
	Allow []string
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (a ClaimArgs) keysArgs(tokenPrefix string) ([]string, []any) {
	args := make([]any, 0, 8+len(a.Allow))
	args = append(args, arqcompat.TimestampMS(a.Now), a.ReadLimit, a.Max, a.InProgress.Milliseconds(), flag(a.AllowAbort), flag(a.WantSize),
		tokenPrefix, len(a.Allow))
	for _, id := range a.Allow {
		args = append(args, id)
	}
	return []string{a.Queue, arqcompat.AbortJobsSS}, args
}

// Claimed is one job a claim took and started.
type Claimed struct {
	ID      string
	Score   int64
	Job     []byte    // nil: the job key is gone (expired)
	Expires time.Time // the in-progress key lives at least until then
	Try     int
	Aborted bool
	// Token is what the claim stored in the in-progress key; the job's
	// Finish must carry it.
	Token string
}

// ClaimReply is what a claim found.
type ClaimReply struct {
	Jobs []Claimed
	// Size is the queue's ZCARD when the claim asked for it, else -1.
	Size int64
	// More reports that ready jobs may remain: the claim stopped at its
	// maximum or at the read limit.
	More bool
	// NextDue, when More is false, is the score of the first job due after
	// the claim's Now; 0 when there is none.
	NextDue int64
	// Busy, when nothing was claimed, holds up to 16 ready jobs that were
	// already in progress.
	Busy []string
	// Held are the jobs scored 1 and not (yet) in arq:abort that the claim
	// left alone (see claimScript).
	Held []string
}

// Claim runs claimScript.
func (r *RDB) Claim(ctx context.Context, a ClaimArgs) (ClaimReply, error) {
	prefix := r.tokenPrefix()
	keys, args := a.keysArgs(prefix)
	res, err := r.runScript(ctx, claimScript, keys, args...).Result()
	if err != nil {
		return ClaimReply{}, err
	}
	return parseClaim(a, prefix, res)
}

// parseClaim reads claimScript's reply to the claim a, made with the
// token prefix prefix. The targeted claim passes only the first two
// elements.
func parseClaim(a ClaimArgs, prefix string, res any) (ClaimReply, error) {
	top, ok := res.([]any)
	if !ok || (len(top) != 2 && len(top) != 6) {
		return ClaimReply{}, fmt.Errorf("claim script: unexpected reply %T", res)
	}
	rows, _ := top[0].([]any)
	rep := ClaimReply{Size: -1, More: true, Jobs: make([]Claimed, 0, len(rows))}
	rep.Size, _ = top[1].(int64)
	for _, row := range rows {
		f, ok := row.([]any)
		if !ok || len(f) != 5 {
			return ClaimReply{}, errors.New("claim script: unexpected row")
		}
		c := Claimed{Expires: a.Now.Add(a.InProgress), Token: prefix + strconv.Itoa(len(rep.Jobs)+1)}
		c.ID, _ = f[0].(string)
		s, _ := f[1].(string)
		score, _ := strconv.ParseFloat(s, 64)
		c.Score = int64(score)
		if j, ok := f[2].(string); ok {
			c.Job = []byte(j)
		}
		t, _ := f[3].(int64)
		c.Try = int(t)
		n, _ := f[4].(int64)
		c.Aborted = n > 0
		rep.Jobs = append(rep.Jobs, c)
	}
	if len(top) == 6 {
		more, _ := top[2].(int64)
		rep.More = more != 0
		rep.NextDue, _ = top[3].(int64)
		busy, _ := top[4].([]any)
		for _, b := range busy {
			if id, ok := b.(string); ok {
				rep.Busy = append(rep.Busy, id)
			}
		}
		held, _ := top[5].([]any)
		for _, h := range held {
			if id, ok := h.(string); ok {
				rep.Held = append(rep.Held, id)
			}
		}
	}
	return rep, nil
}

// QueueSize is the queue's ZCARD: what arq's burst mode checks.
func (r *RDB) QueueSize(ctx context.Context, queue string) (int64, error) {
	return r.c.ZCard(ctx, queue).Result()
}
