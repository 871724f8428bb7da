package worker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

// A Go worker for a function Python enqueues as
// await redis.enqueue_job('add', 1, 2).
func ExampleWorker() {
	mr, _ := miniredis.Run() // in production: worker.Settings{Redis: &settings}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	ctx := context.Background()

	c := client.New(rdb, client.Options{})
	job, _ := c.Enqueue(ctx, "add", 1, 2)

	w, err := worker.New(worker.Settings{
		Functions: []worker.Function{
			worker.Func("add", func(ctx context.Context, a, b int) (int, error) { return a + b, nil },
				worker.WithParams("a", "b")),
		},
		RedisClient: rdb,
		Burst:       true, // stop when the queue is empty
		PollDelay:   10 * time.Millisecond,
		Logger:      testutil.QuietLogger(),
	})
	if err != nil {
		panic(err)
	}
	if err := w.Run(ctx); err != nil {
		panic(err)
	}
	v, _ := job.Result(ctx, client.ResultOptions{})
	fmt.Println(v)
	// Output: 3
}

// A handler asks for a retry as arq's Retry(defer=...).
func ExampleRetry() {
	handler := func(ctx context.Context, url string) (string, error) {
		job, _ := worker.JobFromContext(ctx)
		if job.Try < 3 {
			return "", worker.Retry(time.Duration(job.Try) * time.Second) // back off
		}
		return "fetched " + url, nil
	}
	f := worker.Func("fetch", handler, worker.WithParams("url"), worker.WithMaxTries(5))
	fmt.Println(f.Name, f.MaxTries)
	// Output: fetch 5
}
