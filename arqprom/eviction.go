package arqprom

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goarq/goarq/internal/arqredis"
)

var evictsDesc = prometheus.NewDesc("arq_redis_evicts_keys",
	"1 when Redis's maxmemory-policy may evict keys (anything but noeviction): an evicted job key is a lost job. "+
		"Absent when the server does not report its policy (an embedded Redis, a user without INFO).", []string{"policy"}, nil)

// collectEviction reports the server's maxmemory-policy (INFO memory). A
// server that does not say (an embedded Redis refuses INFO memory, a user
// may lack INFO) gets no sample rather than a failed scrape: the queue
// metrics matter more.
func (c *QueueCollector) collectEviction(ctx context.Context, ch chan<- prometheus.Metric) {
	policy, err := arqredis.New(c.in.Client().Redis(), nil).EvictionPolicy(ctx)
	if err != nil || policy == "" {
		return
	}
	v := 1.0
	if policy == "noeviction" {
		v = 0
	}
	ch <- gauge(evictsDesc, v, policy)
}
