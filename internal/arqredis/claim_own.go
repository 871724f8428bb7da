package arqredis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

// claimOwnScript is claimScript for an explicit list of candidate ids: a
// worker that runs only some of a queue's functions (or limits how many of
// one function it runs) picks the ids it wants, and the script claims those
// of them that are still claimable, with claimScript's per-id checks (no
// in-progress key; in the queue with a score that is not 0 and not in the
// future) and its same start step. One check more: the job record must be
// the one the worker decoded to pick the id (its SHA-1, or "" for a record
// that was missing), so an id finished and enqueued again for another
// function in between is not claimed. Ids that fail a check are left
// untouched; a cap per group (a function) bounds how many of that group are
// claimed. Like claimScript, it stores the claim's token in the in-progress
// key and holds a job scored 1 that is not in arq:abort (an abort under
// way), unless its id is allowed.
//
// KEYS: queue, abort set. ARGV: now ms, max claims, in-progress ms, allow
// abort, want ZCARD, token prefix, number of allowed ids A, A ids, number
// of groups G, G caps, then (id, sha1, group) triples, group 1-based.
// Reply: {{id, score, job|false, try, aborted}...}, {{id, why, score}...},
// zcard or -1; why is "gone" (not in the queue), "busy" (in progress),
// "later" (score 0 or in the future), "held" (scored 1, not in arq:abort),
// "changed" (another record) or "cap" (not tried: its group's cap, or max
// claims, was reached).
var claimOwnScript = redis.NewScript(`
local queue = KEYS[1]
local now = tonumber(ARGV[1])
local max_claims = tonumber(ARGV[2])
local ip_ms, allow_abort, tokpre = ARGV[3], ARGV[4], ARGV[6]
local na = tonumber(ARGV[7])
local allowed = {}
for i = 8, 7 + na do allowed[ARGV[i]] = true end
local gbase = 8 + na
local ng = tonumber(ARGV[gbase])
local caps = {}
for g = 1, ng do caps[g] = tonumber(ARGV[gbase + g]) end
local out, skipped = {}, {}
local n = 0
for i = gbase + 1 + ng, #ARGV, 3 do
  local id, sum, g = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  if n >= max_claims or caps[g] <= 0 then
    skipped[#skipped + 1] = {id, 'cap', false}
  else
    local score = redis.call('ZSCORE', queue, id)
    local ip = '` + arqcompat.InProgressKeyPrefix + `' .. id
    if not score then
      skipped[#skipped + 1] = {id, 'gone', false}
    elseif redis.call('EXISTS', ip) == 1 then
      skipped[#skipped + 1] = {id, 'busy', score}
    elseif tonumber(score) == 0 or tonumber(score) > now then
      skipped[#skipped + 1] = {id, 'later', score}
    elseif allow_abort == '1' and tonumber(score) == 1 and not allowed[id] and not redis.call('ZSCORE', KEYS[2], id) then
      skipped[#skipped + 1] = {id, 'held', score}
    else
      local job = redis.call('GET', '` + arqcompat.JobKeyPrefix + `' .. id)
      local have = ''
      if job then have = redis.sha1hex(job) end
      if have ~= sum then
        skipped[#skipped + 1] = {id, 'changed', score}
      else
` + startJobLua + `
        caps[g] = caps[g] - 1
      end
    end
  end
end
local size = -1
if ARGV[5] == '1' then size = redis.call('ZCARD', queue) end
return {out, skipped, size}`)

// Candidate is a job a targeted claim may take.
type Candidate struct {
	ID string
	// Sum is RecordSum of the job record the caller decoded.
	Sum string
	// Group (0-based) indexes OwnClaimArgs.Caps.
	Group int
}

// RecordSum is the checksum claimOwnScript compares a job record with:
// its SHA-1 in hex, or "" for a missing record (nil).
func RecordSum(record []byte) string {
	if record == nil {
		return ""
	}
	s := sha1.Sum(record)
	return hex.EncodeToString(s[:])
}

// OwnClaimArgs is a targeted claim: ClaimArgs (ReadLimit unused) and the
// candidates in the order they should be tried.
type OwnClaimArgs struct {
	ClaimArgs
	Candidates []Candidate
	// Caps bounds the claims per group.
	Caps []int
}

func (a OwnClaimArgs) keysArgs(tokenPrefix string) ([]string, []any, error) {
	args := make([]any, 0, 8+len(a.Allow)+len(a.Caps)+3*len(a.Candidates))
	args = append(args, arqcompat.TimestampMS(a.Now), a.Max, a.InProgress.Milliseconds(), flag(a.AllowAbort), flag(a.WantSize),
		tokenPrefix, len(a.Allow))
	for _, id := range a.Allow {
		args = append(args, id)
	}
	args = append(args, len(a.Caps))
	for _, c := range a.Caps {
		args = append(args, c)
	}
	for _, c := range a.Candidates {
		if c.Group < 0 || c.Group >= len(a.Caps) {
			return nil, nil, fmt.Errorf("targeted claim: candidate %s has group %d of %d", c.ID, c.Group, len(a.Caps))
		}
		args = append(args, c.ID, c.Sum, c.Group+1)
	}
	return []string{a.Queue, arqcompat.AbortJobsSS}, args, nil
}

// Skip says why a targeted claim left a candidate alone.
type Skip struct {
	ID string
	// Why is "gone", "busy", "later", "held", "changed" or "cap" (see
	// claimOwnScript).
	Why   string
	Score int64 // the queue score, when known
}

// OwnClaimReply is what a targeted claim did.
type OwnClaimReply struct {
	Claimed []Claimed
	Skipped []Skip
	Size    int64 // ZCARD when WantSize, else -1
}

// ClaimOwn runs claimOwnScript.
func (r *RDB) ClaimOwn(ctx context.Context, a OwnClaimArgs) (OwnClaimReply, error) {
	prefix := r.tokenPrefix()
	keys, args, err := a.keysArgs(prefix)
	if err != nil {
		return OwnClaimReply{}, err
	}
	res, err := r.runScript(ctx, claimOwnScript, keys, args...).Result()
	if err != nil {
		return OwnClaimReply{}, err
	}
	return parseClaimOwn(a, prefix, res)
}

func parseClaimOwn(a OwnClaimArgs, prefix string, res any) (OwnClaimReply, error) {
	top, ok := res.([]any)
	if !ok || len(top) != 3 {
		return OwnClaimReply{}, fmt.Errorf("targeted claim script: unexpected reply %T", res)
	}
	claimed, err := parseClaim(a.ClaimArgs, prefix, []any{top[0], top[2]})
	if err != nil {
		return OwnClaimReply{}, err
	}
	rep := OwnClaimReply{Claimed: claimed.Jobs}
	rep.Size, _ = top[2].(int64)
	rows, _ := top[1].([]any)
	for _, row := range rows {
		f, ok := row.([]any)
		if !ok || len(f) != 3 {
			return OwnClaimReply{}, errors.New("targeted claim script: unexpected skipped row")
		}
		var s Skip
		s.ID, _ = f[0].(string)
		s.Why, _ = f[1].(string)
		if v, ok := f[2].(string); ok {
			score, _ := strconv.ParseFloat(v, 64)
			s.Score = int64(score)
		}
		rep.Skipped = append(rep.Skipped, s)
	}
	return rep, nil
}

// ScoredID is a queue member and its score.
type ScoredID struct {
	ID    string
	Score int64
}

// ScanQueue is one page of a queue read in score order: ZRANGEBYSCORE
// queue [min max WITHSCORES LIMIT offset count. A caller paging through a
// queue passes the last score it saw as min and, as offset, how many ids
// with that score it has seen, so that each page costs O(log N + count)
// however deep it is.
func (r *RDB) ScanQueue(ctx context.Context, queue, min, max string, offset, count int) ([]ScoredID, error) {
	zs, err := r.c.ZRangeByScoreWithScores(ctx, queue, &redis.ZRangeBy{Min: min, Max: max, Offset: int64(offset), Count: int64(count)}).Result()
	if err != nil {
		return nil, err
	}
	out := make([]ScoredID, len(zs))
	for i, z := range zs {
		id, _ := z.Member.(string)
		out[i] = ScoredID{ID: id, Score: int64(z.Score)}
	}
	return out, nil
}

// JobRecords reads the job records of ids with MGET, readBatch at a time;
// a missing record reads nil.
func (r *RDB) JobRecords(ctx context.Context, ids []string) ([][]byte, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = arqcompat.JobKey(id)
	}
	return r.mget(ctx, keys)
}

// WriteFinishesOwn is WriteFinishes ending with a targeted claim instead
// of claimScript.
func (r *RDB) WriteFinishesOwn(ctx context.Context, batch []Finish, claim OwnClaimArgs) (FinishReply, []Skip) {
	claim.Now = time.Now()
	prefix := r.tokenPrefix()
	keys, args, kerr := claim.keysArgs(prefix)
	if kerr != nil {
		return r.WriteFinishes(ctx, batch, nil), nil
	}
	var fin, cl *redis.Cmd
	_, _ = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		fin = queueFinish(ctx, p, batch)
		cl = claimOwnScript.EvalSha(ctx, p, keys, args...)
		return nil
	})
	var rep FinishReply
	rep.Skipped, rep.Err = finishOutcome(fin, len(batch))
	var skipped []Skip
	if rep.ClaimErr = cl.Err(); rep.ClaimErr == nil {
		own, cerr := parseClaimOwn(claim, prefix, cl.Val())
		rep.Claimed, rep.ClaimErr, skipped = own.Claimed, cerr, own.Skipped
	} else if IsNoScript(rep.ClaimErr) && !IsNoScript(rep.Err) {
		rep.ClaimErr = r.LoadScripts(ctx)
	}
	if IsNoScript(rep.Err) { // nothing applied: load the scripts and write again
		if lerr := r.LoadScripts(ctx); lerr != nil {
			rep.Err = lerr
			return rep, skipped
		}
		again := r.WriteFinishes(ctx, batch, nil)
		rep.Skipped, rep.Err = again.Skipped, again.Err
	}
	return rep, skipped
}

// CountUpTo is ZCOUNT queue -inf max: how many jobs have a score up to max.
func (r *RDB) CountUpTo(ctx context.Context, queue string, max int64) (int64, error) {
	return r.c.ZCount(ctx, queue, "-inf", strconv.FormatInt(max, 10)).Result()
}
