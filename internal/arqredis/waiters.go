package arqredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Waiters share one Watcher among waits for single keys under a prefix:
// Job.Result waits wake when their result key is written instead of
// polling it. The Watcher starts with the first wait and stops Linger
// after the last one ends, so a client that never waits holds no extra
// connection. While it runs, its connection receives one message per key
// written under the prefix, whoever waits for it.
type Waiters struct {
	rdb    *RDB
	prefix string
	log    *slog.Logger
	linger time.Duration

	mu          sync.Mutex
	w           *Watcher
	starting    chan struct{} // closed when a start in progress ends
	unsupported bool
	closed      bool
	waits       map[string]map[chan struct{}]struct{}
	n           int
	gen         int // bumped whenever n changes, for the linger timer
}

// NewWaiters returns Waiters for keys under prefix; log gets the one line
// saying push wake-ups are unavailable, if they are.
func (r *RDB) NewWaiters(prefix string, log *slog.Logger) *Waiters {
	if log == nil {
		log = slog.Default()
	}
	return &Waiters{rdb: r, prefix: prefix, log: log, linger: 5 * time.Second, waits: map[string]map[chan struct{}]struct{}{}}
}

// Wait registers a wait for key and returns a channel that receives when
// key may have changed, and the function ending the wait. Changes from
// the moment Wait returns are reported, when the server supports it;
// else the channel never receives and the caller's polling is all there
// is. The caller must read the key after Wait returns, not before.
func (ws *Waiters) Wait(ctx context.Context, key string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	ws.mu.Lock()
	if ws.closed || ws.unsupported {
		ws.mu.Unlock()
		return ch, func() {}
	}
	set := ws.waits[key]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		ws.waits[key] = set
	}
	set[ch] = struct{}{}
	ws.n++
	ws.gen++
	ws.mu.Unlock()
	release := sync.OnceFunc(func() { ws.release(key, ch) })
	ws.ensure(ctx)
	return ch, release
}

// ensure starts the Watcher unless it runs, waiting for its first arm.
func (ws *Waiters) ensure(ctx context.Context) {
	for {
		ws.mu.Lock()
		if ws.w != nil || ws.unsupported || ws.closed {
			ws.mu.Unlock()
			return
		}
		if ws.starting != nil {
			s := ws.starting
			ws.mu.Unlock()
			select {
			case <-s:
				continue
			case <-ctx.Done():
				return
			}
		}
		s := make(chan struct{})
		ws.starting = s
		ws.mu.Unlock()
		w, err := ws.rdb.Watch(ctx, WatchOptions{Prefix: ws.prefix, OnInvalidate: ws.invalidate, Logger: ws.log,
			Name: "push wake-up for Job.Result"})
		ws.mu.Lock()
		ws.starting = nil
		close(s)
		switch {
		case errors.Is(err, ErrTrackingUnsupported):
			ws.unsupported = true
			ws.log.WarnContext(ctx, fmt.Sprintf("push wake-up for Job.Result unavailable (%v), polling the result", err), "error", err)
		case err != nil: // ctx ended: the caller's wait ends too
		case ws.closed:
			ws.mu.Unlock()
			_ = w.Close()
			return
		default:
			ws.w = w
		}
		ws.mu.Unlock()
		return
	}
}

func (ws *Waiters) release(key string, ch chan struct{}) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if set := ws.waits[key]; set != nil {
		if _, ok := set[ch]; ok {
			delete(set, ch)
			ws.n--
			ws.gen++
		}
		if len(set) == 0 {
			delete(ws.waits, key)
		}
	}
	if ws.n == 0 && ws.w != nil {
		gen := ws.gen
		time.AfterFunc(ws.linger, func() {
			ws.mu.Lock()
			w := ws.w
			if ws.n != 0 || ws.gen != gen || w == nil {
				ws.mu.Unlock()
				return
			}
			ws.w = nil
			ws.mu.Unlock()
			_ = w.Close()
		})
	}
}

// invalidate wakes the waits for keys; nil keys wake them all.
func (ws *Waiters) invalidate(keys []string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	wake := func(set map[chan struct{}]struct{}) {
		for ch := range set {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	if keys == nil {
		for _, set := range ws.waits {
			wake(set)
		}
		return
	}
	for _, k := range keys {
		wake(ws.waits[k])
	}
}

// Close stops the Watcher; later waits get no wake-ups.
func (ws *Waiters) Close() error {
	ws.mu.Lock()
	ws.closed = true
	w := ws.w
	ws.w = nil
	ws.mu.Unlock()
	if w != nil {
		return w.Close()
	}
	return nil
}
