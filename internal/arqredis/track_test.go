package arqredis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/internal/arqredis"
	"github.com/goarq/goarq/internal/redistest"
)

// watch starts a Watcher on prefix whose invalidations arrive on the
// returned channel (nil keys as an empty slice).
func watch(t *testing.T, c *redis.Client, prefix string) (*arqredis.Watcher, <-chan []string) {
	t.Helper()
	got := make(chan []string, 100)
	w, err := arqredis.New(c, nil).Watch(context.Background(), arqredis.WatchOptions{Prefix: prefix, PingInterval: 200 * time.Millisecond,
		OnInvalidate: func(keys []string) {
			if keys == nil {
				keys = []string{}
			}
			got <- keys
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, got
}

// next is the next invalidation, failing the test after 10 s.
func next(t *testing.T, got <-chan []string) []string {
	t.Helper()
	select {
	case keys := <-got:
		return keys
	case <-time.After(10 * time.Second):
		t.Fatal("no invalidation within 10 s")
		return nil
	}
}

// awaitKey reads invalidations until one names key; a gap marker (the
// Watcher re-armed) may come first.
func awaitKey(t *testing.T, got <-chan []string, key string) {
	t.Helper()
	for {
		keys := next(t, got)
		if slices.Contains(keys, key) {
			return
		}
		if len(keys) > 0 {
			t.Fatalf("invalidation for %v before %s", keys, key)
		}
	}
}

func TestWatchReportsWritesUnderItsPrefixOnly(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t, nil)
	ctx := context.Background()
	_, got := watch(t, c, "arq:queue")
	if keys := next(t, got); len(keys) != 0 {
		t.Fatalf("first report %v, want the armed marker", keys)
	}
	c.Set(ctx, "arq:result:x", "1", 0) // outside the prefix: no report
	c.ZAdd(ctx, "arq:queue", redis.Z{Score: 1, Member: "a"})
	if keys := next(t, got); !slices.Equal(keys, []string{"arq:queue"}) {
		t.Fatalf("got %v, want [arq:queue]", keys)
	}
	c.Set(ctx, "arq:queue:health-check", "x", 0)
	if keys := next(t, got); !slices.Equal(keys, []string{"arq:queue:health-check"}) {
		t.Fatalf("got %v: the caller must see the key name to ignore its own health check", keys)
	}
	c.FlushAll(ctx)
	if keys := next(t, got); len(keys) != 0 {
		t.Fatalf("FLUSHALL reported %v, want 'anything changed'", keys)
	}
}

func TestWatchRearmsAfterRestartAndKill(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t, nil)
	ctx := context.Background()
	w, got := watch(t, c, "q")
	next(t, got)

	srv.Restart(t)
	awaitRearmed(t, got)
	if !w.Armed() {
		t.Fatal("not armed after the re-arm report")
	}
	c.ZAdd(ctx, "q", redis.Z{Score: 1, Member: "a"})
	awaitKey(t, got, "q")

	// a cut connection: the server drops the subscriber
	if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	awaitRearmed(t, got)
	c.ZAdd(ctx, "q", redis.Z{Score: 2, Member: "b"})
	awaitKey(t, got, "q")
}

// awaitRearmed waits for the "anything may have changed" report a Watcher
// gives when it is armed again.
func awaitRearmed(t *testing.T, got <-chan []string) {
	t.Helper()
	for len(next(t, got)) != 0 {
	}
}

func TestWatchDetectsAFrozenServer(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t, nil)
	ctx := context.Background()
	w, got := watch(t, c, "q")
	next(t, got)
	// CLIENT PAUSE holds the PING replies: the Watcher must give up on the
	// connection and re-arm once the server answers again
	if err := c.Do(ctx, "CLIENT", "PAUSE", "1500", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Armed() {
		if time.Now().After(deadline) {
			t.Fatal("still armed while the server did not answer PING")
		}
		time.Sleep(20 * time.Millisecond)
	}
	awaitRearmed(t, got)
	c.ZAdd(ctx, "q", redis.Z{Score: 1, Member: "a"})
	awaitKey(t, got, "q")
}

func TestWatchUnsupportedOnMiniredis(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	_, err := arqredis.New(c, nil).Watch(context.Background(), arqredis.WatchOptions{Prefix: "q", OnInvalidate: func([]string) {}})
	if !errors.Is(err, arqredis.ErrTrackingUnsupported) {
		t.Fatalf("err = %v, want ErrTrackingUnsupported", err)
	}
}

func TestWatchUnsupportedForAUserWithoutClient(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t, nil)
	ctx := context.Background()
	if err := admin.Do(ctx, "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-client").Err(); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(t, &redis.Options{Username: "app", Password: "pw"})
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := arqredis.New(c, nil).Watch(ctx, arqredis.WatchOptions{Prefix: "q", OnInvalidate: func([]string) {}})
	if !errors.Is(err, arqredis.ErrTrackingUnsupported) {
		t.Fatalf("err = %v, want ErrTrackingUnsupported", err)
	}
}

func TestWatchArmsOnceRedisComesUp(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t, &redis.Options{MaxRetries: -1})
	srv.Stop()
	w, got := watch(t, c, "q")
	if w.Armed() {
		t.Fatal("armed with the server down")
	}
	srv.Restart(t)
	awaitRearmed(t, got)
	c.ZAdd(context.Background(), "q", redis.Z{Score: 1, Member: "a"})
	awaitKey(t, got, "q")
}

// stamped is a report of a Watcher and when it came.
type stamped struct {
	ids []string
	at  time.Time
}

// watchResults starts WatchResults with o; its reports arrive on the
// returned channel (nil ids, "anything may have changed", dropped).
func watchResults(t *testing.T, c *redis.Client, o arqredis.ResultWatchOptions) <-chan stamped {
	t.Helper()
	got := make(chan stamped, 1000)
	o.OnIDs = func(ids []string) {
		if ids != nil {
			got <- stamped{ids, time.Now()}
		}
	}
	w, err := arqredis.New(c, nil).WatchResults(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return got
}

// collect reads reports until last is among them, and returns every id
// reported, with the time of the report that named each.
func collect(t *testing.T, got <-chan stamped, last string) map[string]time.Time {
	t.Helper()
	seen := map[string]time.Time{}
	for {
		select {
		case s := <-got:
			for _, id := range s.ids {
				seen[id] = s.at
			}
			if _, ok := seen[last]; ok {
				return seen
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not reported within 10 s (got %v)", last, seen)
		}
	}
}

// A recorder that tracks some id prefixes only (a burst's share) is told
// of those results, and of none of the others.
func TestWatchResultsOfSomeIDPrefixesOnly(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t, nil)
	ctx := context.Background()
	got := watchResults(t, c, arqredis.ResultWatchOptions{IDPrefixes: []string{"0", "1"}})
	for _, id := range []string{"f00", "2a", "0b", "a0", "1c", "10", "e1"} {
		c.Set(ctx, "arq:result:"+id, "x", 0)
	}
	c.Set(ctx, "arq:job:0z", "x", 0) // not a result
	c.Set(ctx, "arq:result:1-last", "x", 0)
	seen := collect(t, got, "1-last")
	var ids []string
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if want := []string{"0b", "1-last", "10", "1c"}; !slices.Equal(ids, want) {
		t.Fatalf("reported %v, want %v", ids, want)
	}
}

// With Coalesce, the messages that follow a report gather while the
// Watcher sleeps, and are then read in one go: a capture in its own
// process wakes a few times a second, not once per write.
func TestWatchResultsCoalesce(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t, nil)
	ctx := context.Background()
	const coalesce = 2 * time.Second
	got := watchResults(t, c, arqredis.ResultWatchOptions{Coalesce: coalesce})
	c.Set(ctx, "arq:result:first", "x", 0)
	collect(t, got, "first")
	// 20 writes, each its own command and message, 30 ms apart: reported
	// as they come, they would make 20 bunches
	for i := range 20 {
		time.Sleep(30 * time.Millisecond)
		c.Set(ctx, fmt.Sprintf("arq:result:%02d", i), "x", 0)
	}
	seen := collect(t, got, "19")
	if len(seen) != 20 {
		t.Fatalf("reported %d of 20 writes: %v", len(seen), seen)
	}
	var at []time.Time
	for _, a := range seen {
		at = append(at, a)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	// bunches: reports less than 15 ms apart. The first write may be
	// reported as it comes (when the report of "first" had not waited),
	// then the Watcher sleeps 2 s at a time: at most a few bunches
	bunches := 1
	for i := 1; i < len(at); i++ {
		if at[i].Sub(at[i-1]) > 15*time.Millisecond {
			bunches++
		}
	}
	if bunches > 3 {
		t.Fatalf("the 20 writes were reported in %d bunches over %s: not gathered", bunches, at[len(at)-1].Sub(at[0]))
	}
}
