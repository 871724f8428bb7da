package arqprom

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goarq/goarq/worker"
)

// WorkerObserver is a worker.Observer counting a goarq worker's jobs:
//
//	arq_worker_jobs_total{queue,function,outcome}
//	arq_worker_job_duration_seconds{queue,function}  (histogram, run time)
//	arq_worker_job_wait_seconds{queue,function}      (histogram, start minus score)
//	arq_worker_jobs_running{queue}
//	arq_worker_redis_errors_total{queue}
type WorkerObserver struct {
	jobs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	wait     *prometheus.HistogramVec
	running  *prometheus.GaugeVec
	redis    *prometheus.CounterVec
}

var _ worker.Observer = (*WorkerObserver)(nil)

// DurationBuckets returns the buckets of the worker's histograms, in
// seconds: 5 ms to 10 min. Each call returns a new slice.
func DurationBuckets() []float64 {
	return []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
}

// NewWorkerObserver registers the worker metrics with reg
// (prometheus.DefaultRegisterer when nil) and returns the observer to put
// in worker.Settings.Observer.
func NewWorkerObserver(reg prometheus.Registerer) (*WorkerObserver, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	buckets := DurationBuckets()
	o := &WorkerObserver{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arq_worker_jobs_total",
			Help: "Jobs the worker claimed, by outcome: complete, failed, retried, aborted, timeout, cancelled, expired, unknown_function."},
			[]string{"queue", "function", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "arq_worker_job_duration_seconds",
			Help: "Run time of the job functions.", Buckets: buckets}, []string{"queue", "function"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "arq_worker_job_wait_seconds",
			Help: "Time from a job's score (enqueue time, or the time it was deferred to) to its start.", Buckets: buckets},
			[]string{"queue", "function"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "arq_worker_jobs_running",
			Help: "Job functions running now."}, []string{"queue"}),
		redis: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "arq_worker_redis_errors_total",
			Help: "Redis commands of the worker that failed."}, []string{"queue"}),
	}
	for _, c := range []prometheus.Collector{o.jobs, o.duration, o.wait, o.running, o.redis} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// JobStarted implements worker.Observer.
func (o *WorkerObserver) JobStarted(ctx context.Context, ev *worker.JobEvent) context.Context {
	o.running.WithLabelValues(ev.Queue).Inc()
	if !ev.Scheduled.IsZero() {
		o.wait.WithLabelValues(ev.Queue, ev.Function).Observe(max(0, ev.Start.Sub(ev.Scheduled).Seconds()))
	}
	return ctx
}

// JobEnded implements worker.Observer.
func (o *WorkerObserver) JobEnded(ctx context.Context, ev *worker.JobEvent) {
	o.jobs.WithLabelValues(ev.Queue, ev.Function, string(ev.Outcome)).Inc()
	if !ev.Start.IsZero() {
		o.running.WithLabelValues(ev.Queue).Dec()
		o.duration.WithLabelValues(ev.Queue, ev.Function).Observe(ev.Duration.Seconds())
	}
}

// RedisError implements worker.Observer.
func (o *WorkerObserver) RedisError(ctx context.Context, queue string, err error) {
	o.redis.WithLabelValues(queue).Inc()
}
