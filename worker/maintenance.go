// Part: maintenance, the steps arq's poll loop runs after each poll: the
// abort sweep, the health check, the heartbeat record (heartbeat.go) and
// cron (cron.go). It owns the health check's last write and last logged
// line, the heartbeat record's state and the cron jobs' next runs. start
// gives the worker its heartbeat id; tick runs the steps; stop deletes the
// health check key and the heartbeat record.
//
// tick is called by the claimer's poll loop after each poll, as arq's
// heart_beat is, rather than from a goroutine of its own: that is arq's
// cadence, which Python clients and arq's own tests rely on: with
// health_check_interval=0 the health check is written on every poll, an
// abort is noticed at the next poll (at once when a finish or an enqueue
// wakes the loop, and at least once per poll_delay), cron is looked at
// every poll, and a burst worker's last poll has enqueued its due cron
// jobs before it decides that the queue is empty. A goroutine of its own
// would have to be driven by the polls to keep that.

package worker

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// maintenance is the worker's maintenance part (see the file's comment).
// Only the poll loop calls tick, so its state needs no lock, except the
// heartbeat's lastPoll, read by Worker.info.
type maintenance struct {
	w      *Worker // settings, store and the other parts
	health struct {
		last    time.Time
		lastLog string
	}
	beat heartbeat
	cron []*cronState
}

func newMaintenance(w *Worker, cron []CronJob) *maintenance {
	m := &maintenance{w: w}
	for _, cj := range cron {
		m.cron = append(m.cron, &cronState{job: cj})
	}
	return m
}

// start gives the worker its heartbeat id, when Run starts.
func (m *maintenance) start() {
	m.beat.id, m.beat.started = newWorkerID(), time.Now()
}

// tick runs the steps after a poll: the abort sweep (with
// AllowAbortJobs), the health check, the heartbeat record and cron.
func (m *maintenance) tick(ctx context.Context) error {
	m.beat.lastPoll.Store(time.Now().UnixNano())
	if m.w.s.AllowAbortJobs {
		if err := m.cancelAbortedJobs(ctx); err != nil {
			return err
		}
	}
	if err := m.recordHealth(ctx); err != nil {
		return err
	}
	if err := m.writeHeartbeat(ctx); err != nil {
		return err
	}
	window := max(m.w.s.PollDelay, 500*time.Millisecond)
	return m.runCron(ctx, time.Now().In(m.w.s.Timezone), window)
}

// stop deletes the health check key and the heartbeat record, at the end
// of Run.
func (m *maintenance) stop(ctx context.Context) {
	w := m.w
	if err := w.store.DeleteHealth(ctx, w.s.HealthCheckKey); err != nil {
		w.log.WarnContext(ctx, "deleting the health check key failed", "error", err)
	}
	if err := w.store.DeleteWorker(ctx, m.workerKey()); err != nil {
		w.log.WarnContext(ctx, "deleting the worker record failed", "error", err)
	}
}

// cancelAbortedJobs is arq's _cancel_aborted_jobs, including its cleanup
// of the abort set (ZREMRANGEBYSCORE from now + abort_job_max_age ms).
func (m *maintenance) cancelAbortedJobs(ctx context.Context) error {
	w := m.w
	ids, err := w.store.AbortRequests(ctx, time.Now())
	if err != nil {
		return err
	}
	return w.store.ForgetAborts(ctx, w.exec.abort(ids))
}

// recordHealth writes arq's health-check line every HealthCheckInterval.
func (m *maintenance) recordHealth(ctx context.Context) error {
	w := m.w
	now := time.Now()
	if now.Sub(m.health.last) < w.s.HealthCheckInterval {
		return nil
	}
	m.health.last = now
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
	if m.health.lastLog != "" && suffix != m.health.lastLog {
		w.log.InfoContext(ctx, "recording health: "+info)
	}
	m.health.lastLog = suffix
	return nil
}
