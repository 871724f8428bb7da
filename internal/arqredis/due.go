package arqredis

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

// NextDue is the score of the first job of queue due after now: ZRANGEBYSCORE
// queue (now +inf WITHSCORES LIMIT 0 1. ok is false when there is none.
func (r *RDB) NextDue(ctx context.Context, queue string, now time.Time) (score int64, ok bool, err error) {
	zs, err := r.c.ZRangeByScoreWithScores(ctx, queue, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(arqcompat.TimestampMS(now), 10), Max: "+inf", Count: 1}).Result()
	if err != nil || len(zs) == 0 {
		return 0, false, err
	}
	return int64(zs[0].Score), true, nil
}

// HeadReply is what Head found at the head of a queue.
type HeadReply struct {
	// Claimable reports a ready job that no worker runs, or that the k
	// first jobs are all ready and running (the claim then looks further).
	Claimable bool
	// NextDue is the score of the first job due after now, 0 when unknown
	// or none.
	NextDue int64
	// Busy are the ready jobs among the k first that are in progress.
	Busy []string
	// FreeScore is the lowest score of a ready job no worker runs, 0 when
	// there is none among the k first.
	FreeScore int64
}

// Head is what an idle worker needs to know after a wake-up, in one
// command when nothing is ready (ZRANGE queue 0 k-1 WITHSCORES) and two
// when something is (then MGET of the ready ids' in-progress keys). Jobs
// scored 0 are never claimed (as in arq); when all k first jobs are scored
// 0, one more command reads the k first after them (ZRANGEBYSCORE queue (0
// +inf), so that ready jobs behind many such jobs are seen.
func (r *RDB) Head(ctx context.Context, queue string, now time.Time, k int) (HeadReply, error) {
	var h HeadReply
	zs, err := r.c.ZRangeWithScores(ctx, queue, 0, int64(k-1)).Result()
	if err != nil || len(zs) == 0 {
		return h, err
	}
	full := len(zs) == k // jobs may lie beyond the window read
	if full && zs[len(zs)-1].Score == 0 {
		// the window ends with jobs scored 0: look past them
		rest, err := r.c.ZRangeByScoreWithScores(ctx, queue, &redis.ZRangeBy{Min: "(0", Max: "+inf", Count: int64(k)}).Result()
		if err != nil {
			return h, err
		}
		var window []redis.Z
		for _, z := range zs {
			if z.Score < 0 { // below 0: claimable, as in arq
				window = append(window, z)
			}
		}
		zs, full = append(window, rest...), len(rest) == k
	}
	nowMS := arqcompat.TimestampMS(now)
	var ids, keys []string
	var scores []int64
	for _, z := range zs {
		s := int64(z.Score)
		if s > nowMS {
			h.NextDue = s
			break
		}
		if s != 0 { // the claim skips score 0, as arq
			id, _ := z.Member.(string)
			ids = append(ids, id)
			scores = append(scores, s)
			keys = append(keys, arqcompat.InProgressKey(id))
		}
	}
	if len(keys) == 0 {
		return h, nil
	}
	vals, err := r.c.MGet(ctx, keys...).Result()
	if err != nil {
		return HeadReply{}, err
	}
	for i, v := range vals {
		if v != nil {
			h.Busy = append(h.Busy, ids[i])
		} else if h.FreeScore == 0 {
			h.FreeScore = scores[i] // scores ascend
		}
	}
	h.Claimable = len(h.Busy) < len(keys) || full && h.NextDue == 0
	return h, nil
}
