package inspect_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/inspect"
)

// Count a queue's jobs, as `goarq stats` does.
func ExampleInspector_QueueStats() {
	mr, _ := miniredis.Run() // in production: client.DialURL(ctx, "redis://localhost:6379/0", ...)
	defer mr.Close()
	ctx := context.Background()
	c, _ := client.DialURL(ctx, "redis://"+mr.Addr(), client.Options{})
	defer c.Close()
	_, _ = c.Enqueue(ctx, "send_email", "a@example.com")
	_, _ = c.EnqueueRequest(ctx, client.Request{Function: "send_email", Options: client.EnqueueOptions{DeferBy: time.Hour}})

	in := inspect.New(c, inspect.Options{})
	st, err := in.QueueStats(ctx, "", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Queue, "queued:", st.Queued, "deferred:", st.Deferred, "worker health:", st.Health.Present)
	// Output: arq:queue queued: 1 deferred: 1 worker health: false
}

// Read a queue a page at a time, in the order its jobs run.
func ExampleInspector_Jobs() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	ctx := context.Background()
	c, _ := client.DialURL(ctx, "redis://"+mr.Addr(), client.Options{})
	defer c.Close()
	for i := range 5 {
		_, _ = c.EnqueueRequest(ctx, client.Request{Function: "resize", Args: []any{i},
			Options: client.EnqueueOptions{JobID: fmt.Sprint("job-", i), DeferBy: time.Duration(i) * time.Second}})
	}

	in := inspect.New(c, inspect.Options{})
	q := inspect.JobsQuery{Limit: 2}
	for {
		page, err := in.Jobs(ctx, q)
		if err != nil {
			panic(err)
		}
		for _, j := range page.Jobs {
			fmt.Println(j.JobID, j.Function, j.Args)
		}
		if page.NextOffset < 0 {
			break
		}
		q.Offset = page.NextOffset
	}
	// Output:
	// job-0 resize [0]
	// job-1 resize [1]
	// job-2 resize [2]
	// job-3 resize [3]
	// job-4 resize [4]
}
