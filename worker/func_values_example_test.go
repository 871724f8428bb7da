package worker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

// Python's def send_email(ctx, to, cc=None, retries=3): a call that omits
// cc and retries gets their defaults.
func ExampleWithDefaults() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	ctx := context.Background()

	c := client.New(rdb, client.Options{})
	job, _ := c.Enqueue(ctx, "send_email", "a@b.c") // enqueue_job('send_email', 'a@b.c')

	sendEmail := func(ctx context.Context, to string, cc []string, retries int) string {
		return fmt.Sprintf("to %s, cc %v, %d retries", to, cc, retries)
	}
	w, err := worker.New(worker.Settings{
		Functions: []worker.Function{
			worker.Func("send_email", sendEmail, worker.WithParams("to", "cc", "retries"), worker.WithDefaults(nil, 3)),
		},
		RedisClient: rdb, Burst: true, PollDelay: 10 * time.Millisecond, Logger: testutil.QuietLogger(),
	})
	if err != nil {
		panic(err)
	}
	if err := w.Run(ctx); err != nil {
		panic(err)
	}
	v, _ := job.Result(ctx, client.ResultOptions{})
	fmt.Println(v)
	// Output: to a@b.c, cc [], 3 retries
}

// Order stands for the pydantic model app.models.Order.
type Order struct {
	ID    int    `json:"id"`
	Email string `json:"customer_email"`
}

func (Order) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: "app.models", Name: "Order", Kind: arqcompat.Pydantic}
}

// A struct parameter binds the model Python passes positionally,
// enqueue_job('process_order', order); here a Go client sends it, as an
// app.models.Order a Python worker would validate too.
func ExampleFunc_structParameter() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	ctx := context.Background()

	c := client.New(rdb, client.Options{})
	job, _ := c.Enqueue(ctx, "process_order", Order{ID: 7, Email: "a@b.c"})

	w, err := worker.New(worker.Settings{
		Functions: []worker.Function{
			worker.Func("process_order", func(ctx context.Context, o Order) string {
				return fmt.Sprintf("order %d for %s", o.ID, o.Email)
			}),
		},
		RedisClient: rdb, Burst: true, PollDelay: 10 * time.Millisecond, Logger: testutil.QuietLogger(),
	})
	if err != nil {
		panic(err)
	}
	if err := w.Run(ctx); err != nil {
		panic(err)
	}
	v, _ := job.Result(ctx, client.ResultOptions{})
	fmt.Println(v)
	// Output: order 7 for a@b.c
}
