package arqprom_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/goarq/goarq/arqprom"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/inspect"
	"github.com/goarq/goarq/internal/redistest"
)

func evictsGauge(t *testing.T, policy string) float64 {
	t.Helper()
	srv := redistest.Start(t, "--maxmemory-policy", policy)
	in := inspect.New(client.New(srv.Client(t, nil), client.Options{}), inspect.Options{CacheTTL: -1})
	reg := prometheus.NewRegistry()
	reg.MustRegister(arqprom.NewQueueCollector(in))
	return gaugeValue(t, reg, "arq_redis_evicts_keys", map[string]string{"policy": policy})
}

// The exporter tells a Redis that may evict job keys from one that may not.
func TestEvictionPolicyGauge(t *testing.T) {
	if v := evictsGauge(t, "allkeys-lru"); v != 1 {
		t.Errorf("allkeys-lru: arq_redis_evicts_keys = %v, want 1", v)
	}
	if v := evictsGauge(t, "noeviction"); v != 0 {
		t.Errorf("noeviction: arq_redis_evicts_keys = %v, want 0", v)
	}
}
