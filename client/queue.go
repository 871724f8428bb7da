package client

import (
	"context"

	"github.com/goarq/goarq/arqcompat"
)

// QueueStats is a snapshot of a queue, as `goarq stats` shows it.
type QueueStats struct {
	Queue string `json:"queue"`
	// Queued jobs are ready to run now and not running; Deferred jobs wait
	// for their time; InProgress jobs of this queue are running.
	Queued     int `json:"queued"`
	Deferred   int `json:"deferred"`
	InProgress int `json:"in_progress"`
	// ResultsOK and ResultsFailed count the kept results of this queue's
	// jobs (and of jobs whose record names no queue).
	ResultsOK     int `json:"results_ok"`
	ResultsFailed int `json:"results_failed"`
	// ResultsUnreadable counts the kept results, of any queue, that cannot
	// be read with the client's serializer (their queue is unknown).
	ResultsUnreadable int `json:"results_unreadable"`
	// Health is the queue's health-check line, "" when no worker wrote one.
	Health string `json:"health"`
}

// QueueStats counts a queue's jobs and kept results and reads its
// health-check line; queue "" is the client's.
func (c *Client) QueueStats(ctx context.Context, queue string) (QueueStats, error) {
	if queue == "" {
		queue = c.queue
	}
	q := QueueStats{Queue: queue}
	ready, total, err := c.store.QueueCounts(ctx, queue, c.now())
	if err != nil {
		return q, err
	}
	if q.InProgress, err = c.store.InProgressIn(ctx, queue); err != nil {
		return q, err
	}
	// a running job is still in the queue: count it once, as running
	q.Queued, q.Deferred = max(0, int(ready)-q.InProgress), int(total-ready)
	res, err := c.readResults(ctx)
	if err != nil {
		return q, err
	}
	for _, r := range res {
		if r.Err != nil {
			q.ResultsUnreadable++
			continue
		}
		if r.QueueName != queue && r.QueueName != "<unknown>" {
			continue
		}
		if r.Success {
			q.ResultsOK++
		} else {
			q.ResultsFailed++
		}
	}
	q.Health, _, err = c.store.ReadHealth(ctx, arqcompat.HealthCheckKey(queue))
	return q, err
}

// HealthCheck reads a health-check key as arq's check_health does: ok is
// false when no worker has written it within its interval. key "" is the
// client queue's (<queue>:health-check).
func (c *Client) HealthCheck(ctx context.Context, key string) (line string, ok bool, err error) {
	if key == "" {
		key = arqcompat.HealthCheckKey(c.queue)
	}
	return c.store.ReadHealth(ctx, key)
}
