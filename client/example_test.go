package client_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/alicebob/miniredis/v2"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
)

// Enqueue a job for a Python arq worker, as ArqRedis.enqueue_job does.
func ExampleClient_Enqueue() {
	mr, _ := miniredis.Run() // in production: client.DialURL(ctx, "redis://localhost:6379/0", ...)
	defer mr.Close()
	ctx := context.Background()
	c, err := client.DialURL(ctx, "redis://"+mr.Addr()+"/0", client.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	job, err := c.EnqueueRequest(ctx, client.Request{
		Function: "send_email",
		Args:     []any{"user@example.com"},
		Kwargs:   map[string]any{"subject": "hi"},
		Options:  client.EnqueueOptions{JobID: "welcome-42"},
	})
	if err != nil {
		panic(err)
	}
	status, _ := job.Status(ctx)
	fmt.Println(job.ID, status)

	// the same id again is refused, as arq returns None
	_, err = c.EnqueueRequest(ctx, client.Request{Function: "send_email", Options: client.EnqueueOptions{JobID: "welcome-42"}})
	fmt.Println(errors.Is(err, client.ErrJobExists))
	// Output:
	// welcome-42 queued
	// true
}

// A failed Python job's exception is a Go error with its class and args.
func ExampleJobFailedError() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	ctx := context.Background()
	c, _ := client.DialURL(ctx, "redis://"+mr.Addr(), client.Options{})
	defer c.Close()
	// what a Python worker stores when the job raises ValueError('bad input')
	data, _ := arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "parse"}, JobID: "j",
		Result: arqcompat.NewException("builtins", "ValueError", "bad input"),
	})
	mr.Set("arq:result:j", string(data))

	_, err := c.Job("j", "").Result(ctx, client.ResultOptions{})
	var exc *arqcompat.Exception
	if errors.As(err, &exc) {
		fmt.Println(exc.Class.Name, exc.Args[0])
	}
	// Output: ValueError bad input
}
