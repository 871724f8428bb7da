package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
)

// claimScript claims and starts up to ARGV[3] ready jobs in one atomic step.
// For each id of ZRANGEBYSCORE queue -inf now LIMIT 0 read_limit it does
// what arq's start_jobs and run_job do in two transactions: skip the job if
// its in-progress key exists or its score is missing, zero or later than
// now; else PSETEX the in-progress key, then GET the job, INCR and EXPIRE
// the retry counter and, with aborts allowed, ZREM it from arq:abort.
// Being one script, it has WATCH/MULTI's atomic effect without the race
// window, and Python workers on the same queue see the same keys.
//
// KEYS: queue, abort set. ARGV: now ms, read limit, max claims,
// in-progress ms, allow abort ("1"/"0"), want ZCARD ("1"/"0").
// Returns {{id, score, job|false, try, aborted}...}, zcard or -1.
var claimScript = redis.NewScript(`
local queue = KEYS[1]
local now = tonumber(ARGV[1])
local max_claims = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', queue, '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
local n = 0
for _, id in ipairs(ids) do
  if n >= max_claims then break end
  local ip = '` + arqcompat.InProgressKeyPrefix + `' .. id
  if redis.call('EXISTS', ip) == 0 then
    local score = redis.call('ZSCORE', queue, id)
    if score and tonumber(score) ~= 0 and tonumber(score) <= now then
      redis.call('PSETEX', ip, ARGV[4], '1')
      local job = redis.call('GET', '` + arqcompat.JobKeyPrefix + `' .. id)
      local rk = '` + arqcompat.RetryKeyPrefix + `' .. id
      local try = redis.call('INCR', rk)
      redis.call('EXPIRE', rk, ` + strconv.Itoa(arqcompat.RetryKeyTTLSeconds) + `)
      local aborted = 0
      if ARGV[5] == '1' then aborted = redis.call('ZREM', KEYS[2], id) end
      out[#out + 1] = {id, score, job, try, aborted}
      n = n + 1
    end
  end
end
local size = -1
if ARGV[6] == '1' then size = redis.call('ZCARD', queue) end
return {out, size}`)

// claimed is one job the script claimed and started.
type claimed struct {
	id      string
	score   int64
	job     []byte    // nil: the job key is gone (expired)
	expires time.Time // the in-progress key lives at least until then
	try     int
	aborted bool
}

// claimBatch runs claimScript; it loads the script when the server does
// not know it (NOSCRIPT: a fresh or restarted Redis).
func (w *Worker) claimBatch(ctx context.Context, maxClaims int, wantSize bool) ([]claimed, int64, error) {
	start := time.Now()
	keys, args := w.claimArgs(start, maxClaims, wantSize)
	res, err := claimScript.Run(ctx, w.rdb, keys, args...).Result()
	if err != nil {
		return nil, 0, err
	}
	return w.parseClaim(start, res)
}

// claimArgs are claimScript's keys and arguments for a claim at now.
func (w *Worker) claimArgs(now time.Time, maxClaims int, wantSize bool) ([]string, []any) {
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	return []string{w.s.QueueName, arqcompat.AbortJobsSS},
		[]any{arqcompat.TimestampMS(now), w.s.QueueReadLimit, maxClaims, w.inProgressTimeout.Milliseconds(), flag(w.s.AllowAbortJobs), flag(wantSize)}
}

// parseClaim reads claimScript's reply to a claim made at start.
func (w *Worker) parseClaim(start time.Time, res any) ([]claimed, int64, error) {
	top, ok := res.([]any)
	if !ok || len(top) != 2 {
		return nil, 0, fmt.Errorf("claim script: unexpected reply %T", res)
	}
	rows, _ := top[0].([]any)
	size, _ := top[1].(int64)
	out := make([]claimed, 0, len(rows))
	for _, r := range rows {
		f, ok := r.([]any)
		if !ok || len(f) != 5 {
			return nil, 0, errors.New("claim script: unexpected row")
		}
		c := claimed{expires: start.Add(w.inProgressTimeout)}
		c.id, _ = f[0].(string)
		s, _ := f[1].(string)
		score, _ := strconv.ParseFloat(s, 64)
		c.score = int64(score)
		if j, ok := f[2].(string); ok {
			c.job = []byte(j)
		}
		t, _ := f[3].(int64)
		c.try = int(t)
		a, _ := f[4].(int64)
		c.aborted = a > 0
		out = append(out, c)
	}
	return out, size, nil
}

// claimLimit is how many jobs a claim may take when free slots are free:
// none while picking is paused or the worker stops, and no more than
// max_burst_jobs allows.
func (w *Worker) claimLimit(free int) int {
	if !w.allowPick.Load() || w.isStopped() {
		return 0
	}
	if w.s.Burst && w.s.MaxBurstJobs > 0 {
		free = min(free, w.s.MaxBurstJobs-w.jobsStarted())
	}
	return free
}

// admit counts claimed jobs in: as started (max_burst_jobs), as holding a
// slot (Stats().Ongoing) and in the wait group Run waits on. The caller
// holds claimMu.
func (w *Worker) admit(n int) {
	w.started.Add(int64(n))
	w.mu.Lock()
	w.claimed += n
	w.mu.Unlock()
	w.wg.Add(n)
	w.lastFound.Store(n > 0)
}

// launch takes a slot for each admitted job and starts it. Each job is
// decoded on a short-lived goroutine: jobs decode in parallel, the claimer
// goes back to its work, and the decoding stack is freed before the
// handler's goroutine starts, so 1,000 waiting jobs do not hold 1,000
// grown stacks.
func (w *Worker) launch(ctx context.Context, jobs []claimed) {
	for range jobs {
		w.slots <- struct{}{} // blocks only while a finishing job has yet to release its slot
	}
	for _, c := range jobs {
		go w.decodeAndStart(context.WithoutCancel(ctx), c)
	}
}

// peek is the cheap idle poll, one command: may a claim find a job? The
// lowest score of the queue tells, and when it lies in the future it is
// when the next deferred job is due.
func (w *Worker) peek(ctx context.Context) (bool, error) {
	now := time.Now()
	score, ok, err := arqredis.New(w.rdb).Earliest(ctx, w.s.QueueName)
	if err != nil {
		return false, err
	}
	if ok && score <= arqcompat.TimestampMS(now) {
		return true, nil
	}
	return false, w.noteDue(ctx, score, true, now)
}
