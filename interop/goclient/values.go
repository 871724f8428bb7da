package main

import (
	"context"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/interop/gomodels"
)

// valuesEnqueue enqueues, for every row of gomodels.Cases, a job
// <function>(value, value=value) with the id "value:<name>": Python reads
// the args (Job.info) and compares them with appmodels.VALUES.
func valuesEnqueue(ctx context.Context, c *client.Client, function string) {
	var names []string
	for _, cs := range gomodels.Cases() {
		_, err := c.EnqueueRequest(ctx, client.Request{Function: function, Args: []any{cs.Want},
			Kwargs: arqcompat.NewDict("value", cs.Want), Options: client.EnqueueOptions{JobID: "value:" + cs.Name}})
		if err != nil {
			fail(err)
		}
		names = append(names, cs.Name)
	}
	out(map[string]any{"names": names})
}
