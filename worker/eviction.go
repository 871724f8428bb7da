package worker

import (
	"context"
	"fmt"
)

// warnEviction logs one warning at start when Redis may evict keys: an
// evicted job, queue or in-progress key is a lost or doubled job (BullMQ
// and Sidekiq warn the same way). A server that does not say (an embedded
// Redis, a proxy, a user without INFO) gets no line; `goarq doctor`
// reports that case.
func (w *Worker) warnEviction(ctx context.Context) {
	policy, err := w.store.EvictionPolicy(ctx)
	if err != nil || policy == "" || policy == "noeviction" {
		return
	}
	w.log.WarnContext(ctx, fmt.Sprintf("Redis maxmemory-policy is %s: a full Redis evicts keys, and an evicted job is lost; "+
		"set maxmemory-policy noeviction (goarq doctor checks the deployment)", policy), "maxmemory_policy", policy)
}
