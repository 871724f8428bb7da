package main

import (
	"context"
	"errors"

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

// valueResultInto reads a job's result with Job.ResultInto into the Go
// type of gomodels' row name and compares it with the row's value.
func valueResultInto(ctx context.Context, job *client.Job, name string, ro client.ResultOptions) {
	c, ok := gomodels.Lookup(name)
	if !ok {
		fail(errors.New("no row " + name))
	}
	dst := gomodels.New(c)
	if err := job.ResultInto(ctx, dst, ro); err != nil {
		var ae *arqcompat.AssignError
		out(map[string]any{"error": err.Error(), "assign_error": errors.As(err, &ae)})
		return
	}
	out(map[string]any{"diff": gomodels.Diff(c, dst)})
}
