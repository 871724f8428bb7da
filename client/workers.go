package client

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/goarq/goarq/arqcompat"
)

// WorkerInfo is a goarq worker's heartbeat record (arqcompat.WorkerInfo).
type WorkerInfo = arqcompat.WorkerInfo

// Workers lists the live goarq workers of queue ("" for the client's), by
// their heartbeat records, oldest first.
func (c *Client) Workers(ctx context.Context, queue string) ([]WorkerInfo, error) {
	if queue == "" {
		queue = c.queue
	}
	recs, err := c.store.Workers(ctx, queue)
	if err != nil {
		return nil, err
	}
	out := make([]WorkerInfo, 0, len(recs))
	for _, r := range recs {
		var wi WorkerInfo
		if err := json.Unmarshal(r, &wi); err != nil {
			return nil, fmt.Errorf("goarq worker record: %w", err)
		}
		out = append(out, wi)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
