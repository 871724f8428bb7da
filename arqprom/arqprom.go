// Package arqprom exposes arq queues and goarq workers to Prometheus.
//
// QueueCollector reads any arq queue from Redis at scrape time, so a fleet
// of Python workers gets metrics without a change: job counts by state, the
// age of the oldest ready job, kept results by function and success, and
// the workers' health-check line, and whether Redis may evict keys. WorkerObserver is a worker.Observer that
// counts the jobs a goarq worker runs.
//
// It lives apart from package worker so that importing worker does not
// pull in client_golang.
package arqprom

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/goarq/goarq/inspect"
)

var (
	queueJobsDesc = prometheus.NewDesc("arq_queue_jobs",
		"Jobs in an arq queue by state: queued (ready now, not running), deferred, in_progress.", []string{"queue", "state"}, nil)
	oldestReadyDesc = prometheus.NewDesc("arq_queue_oldest_ready_seconds",
		"Age of the oldest ready job that is not running (now minus its score); 0 when none is ready.", []string{"queue"}, nil)
	resultsDesc = prometheus.NewDesc("arq_queue_results",
		"Kept results by the queue and function of their record and success (unknown: unreadable record).", []string{"queue", "function", "success"}, nil)
	healthJobsDesc = prometheus.NewDesc("arq_health_jobs",
		"Counters of the workers' health-check line (complete, failed, retried, ongoing, queued).", []string{"queue", "kind"}, nil)
	healthAgeDesc = prometheus.NewDesc("arq_health_age_seconds",
		"Age of the health-check line (now minus its timestamp).", []string{"queue"}, nil)
	indexAgeDesc = prometheus.NewDesc("arq_exporter_index_age_seconds",
		"Age of the results index the result metrics come from.", nil, nil)
	indexTookDesc = prometheus.NewDesc("arq_exporter_index_refresh_seconds",
		"How long the last refresh of the results index took.", nil, nil)
)

// QueueCollector collects the metrics of arq queues at each scrape, from an
// Inspector: per queue one pipeline (ZCOUNT, ZCARD, head of the queue,
// ZSCORE of the running ids) and a GET of the health-check key; the result
// counts come from the Inspector's index (refreshed at most every CacheTTL
// by one SCAN walk and an MGET of the results it has not seen).
type QueueCollector struct {
	in      *inspect.Inspector
	queues  []string
	timeout time.Duration
}

// Handler serves the metrics of queues (the Inspector's client's queue
// when none is given) from a registry of their own: the /metrics of
// `goarq exporter` and of the dashboard (dashboard.Options.Metrics).
func Handler(in *inspect.Inspector, queues ...string) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(NewQueueCollector(in, queues...)); err != nil {
		return nil, err
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}

// NewQueueCollector collects queues (the Inspector's client's queue when
// none is given).
func NewQueueCollector(in *inspect.Inspector, queues ...string) *QueueCollector {
	if len(queues) == 0 {
		queues = []string{in.Client().QueueName()}
	}
	return &QueueCollector{in: in, queues: queues, timeout: 20 * time.Second}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueJobsDesc, oldestReadyDesc, resultsDesc, healthJobsDesc, healthAgeDesc, indexAgeDesc, indexTookDesc, evictsDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	c.CollectContext(ctx, ch)
}

// CollectContext is Collect bounded by ctx.
func (c *QueueCollector) CollectContext(ctx context.Context, ch chan<- prometheus.Metric) {
	snap, err := c.in.Snapshot(ctx, -1)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(resultsDesc, err)
		return
	}
	now := time.Now()
	for _, q := range c.queues {
		st, err := c.in.QueueStats(ctx, q, snap)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(queueJobsDesc, err)
			continue
		}
		ch <- gauge(queueJobsDesc, float64(st.Queued), q, "queued")
		ch <- gauge(queueJobsDesc, float64(st.Deferred), q, "deferred")
		ch <- gauge(queueJobsDesc, float64(st.InProgress), q, "in_progress")
		ch <- gauge(oldestReadyDesc, st.OldestReady.Seconds(), q)
		if h := st.Health; h.Present && h.Parsed {
			for _, kv := range []struct {
				k string
				v int64
			}{{"complete", h.Complete}, {"failed", h.Failed}, {"retried", h.Retried}, {"ongoing", h.Ongoing}, {"queued", h.Queued}} {
				ch <- gauge(healthJobsDesc, float64(kv.v), q, kv.k)
			}
			ch <- gauge(healthAgeDesc, max(0, now.Sub(h.At).Seconds()), q)
		}
	}
	type key struct{ q, f, s string }
	counts := map[key]int{}
	for _, r := range snap.Results {
		s := strconv.FormatBool(r.Success)
		if r.Unreadable {
			s = "unknown"
		}
		counts[key{r.Queue, r.Function, s}]++
	}
	for k, n := range counts {
		ch <- gauge(resultsDesc, float64(n), k.q, k.f, k.s)
	}
	c.collectEviction(ctx, ch)
	if !snap.Pending {
		ch <- gauge(indexAgeDesc, now.Sub(snap.At).Seconds())
		ch <- gauge(indexTookDesc, snap.Took.Seconds())
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}
