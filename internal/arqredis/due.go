package arqredis

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

// Earliest is the idle poll of a worker that sleeps until woken: ZRANGE
// queue 0 0 WITHSCORES, the job with the lowest score. ok is false when
// the queue is empty. A score at or before now means a claim may find
// work (the job may also be running: running jobs stay in the queue); a
// later one is when the next deferred job is due.
func (r *RDB) Earliest(ctx context.Context, queue string) (score int64, ok bool, err error) {
	zs, err := r.c.ZRangeWithScores(ctx, queue, 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return 0, false, err
	}
	return int64(zs[0].Score), true, nil
}

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
