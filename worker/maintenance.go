// Maintenance, run by the poll loop after each claim: the abort sweep,
// the health check, the heartbeat record and cron. The loop goroutine owns
// health and the cron states; the heartbeat its beat fields.

package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// cancelAbortedJobs is arq's _cancel_aborted_jobs, including its cleanup
// of the abort set (ZREMRANGEBYSCORE from now + abort_job_max_age ms).
func (w *Worker) cancelAbortedJobs(ctx context.Context) error {
	ids, err := w.store.AbortRequests(ctx, time.Now())
	if err != nil {
		return err
	}
	var aborted []string
	w.mu.Lock()
	for _, id := range ids {
		if r, ok := w.running[id]; ok {
			r.aborting.Store(true)
			r.cancel(errAborted)
			aborted = append(aborted, id)
		}
	}
	w.mu.Unlock()
	return w.store.ForgetAborts(ctx, aborted)
}

func (w *Worker) heartBeat(ctx context.Context) error {
	if err := w.recordHealth(ctx); err != nil {
		return err
	}
	if err := w.writeHeartbeat(ctx); err != nil {
		return err
	}
	window := max(w.s.PollDelay, 500*time.Millisecond)
	return w.runCron(ctx, time.Now().In(w.s.Timezone), window)
}

// recordHealth writes arq's health-check line every HealthCheckInterval.
func (w *Worker) recordHealth(ctx context.Context) error {
	now := time.Now()
	if now.Sub(w.health.last) < w.s.HealthCheckInterval {
		return nil
	}
	w.health.last = now
	queued, err := w.store.QueueSize(ctx, w.s.QueueName)
	if err != nil {
		return err
	}
	st := w.Stats()
	info := fmt.Sprintf("%s j_complete=%d j_failed=%d j_retried=%d j_ongoing=%d queued=%d",
		now.Format("Jan-02 15:04:05"), st.Complete, st.Failed, st.Retried, st.Ongoing, queued)
	if err := w.store.WriteHealth(ctx, w.s.HealthCheckKey, info, w.s.HealthCheckInterval+time.Second); err != nil {
		return err
	}
	suffix := info[strings.Index(info, "j_complete="):]
	if w.health.lastLog != "" && suffix != w.health.lastLog {
		w.log.InfoContext(ctx, "recording health: "+info)
	}
	w.health.lastLog = suffix
	return nil
}

func (w *Worker) logRedisInfo(ctx context.Context) {
	version, mem, clients, keys := w.store.ServerInfo(ctx)
	w.log.InfoContext(ctx, fmt.Sprintf("redis_version=%s mem_usage=%s clients_connected=%s db_keys=%s", version, mem, clients, keys))
}

// redisError logs a Redis error the worker recovers from by itself.
func (w *Worker) redisError(ctx context.Context, level slog.Level, msg string, err error, attrs ...any) {
	w.log.Log(ctx, level, msg, append([]any{"error", err}, attrs...)...)
	if o := w.s.Observer; o != nil {
		o.RedisError(ctx, w.s.QueueName, err)
	}
}
