package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/redistest"
	"github.com/goarq/goarq/internal/testutil"
)

// writeResult writes job id's successful result v, as a worker does.
func writeResult(t *testing.T, c *client.Client, rdb *redis.Client, id string, v any) {
	t.Helper()
	data, err := arqcompat.EncodeResult(c.Serializer(), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "f"}, Success: true, JobID: id, Result: v})
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(context.Background(), arqcompat.ResultKey(id), data, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

// With a poll delay of an hour, only the push wake-up on the result key
// can make Result return within the test's lifetime.
func TestResultWakesWhenTheResultIsWritten(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, nil)
	c := client.New(rdb, client.Options{})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, id := range []string{"a", "b"} { // the second wait reuses the connection
		rdb.ZAdd(ctx, "arq:queue", redis.Z{Score: 1, Member: id})
		got := make(chan any, 1)
		go func() {
			v, err := c.Job(id, "").Result(ctx, client.ResultOptions{PollDelay: time.Hour})
			if err != nil {
				t.Error(err)
			}
			got <- v
		}()
		// a result written after the first poll found none: awaited by
		// watching for the result read (GET) in the command stats
		awaitCalls(t, rdb, "get", int64(i+1))
		start := time.Now()
		writeResult(t, c, rdb, id, int64(42+i))
		select {
		case v := <-got:
			if v != int64(42+i) {
				t.Fatalf("result %v", v)
			}
			t.Logf("woke %s after the write", time.Since(start))
		case <-ctx.Done():
			t.Fatal("Result did not wake on the result write")
		}
	}
}

// awaitCalls waits until Redis has run cmd n times.
func awaitCalls(t *testing.T, rdb *redis.Client, cmd string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.CommandCalls(t, rdb, cmd) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s not run %d times", cmd, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
