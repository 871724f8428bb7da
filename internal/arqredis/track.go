package arqredis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ErrTrackingUnsupported is returned (wrapped, with the server's reason)
// when the server or a proxy in front of it refuses what a Watcher needs:
// CLIENT ID, CLIENT TRACKING or SUBSCRIBE __redis__:invalidate. Callers
// fall back to polling.
var ErrTrackingUnsupported = errors.New("push wake-up unsupported")

// invalidateChannel is where a RESP2 client receives the invalidation
// messages of the connections that redirect their tracking to it.
const invalidateChannel = "__redis__:invalidate"

// WatchOptions configure a Watcher.
type WatchOptions struct {
	// Prefix is tracked in broadcast mode (CLIENT TRACKING … BCAST PREFIX):
	// every change to a key starting with it is reported.
	Prefix string
	// OnInvalidate is called, from the Watcher's goroutine, with the keys
	// that changed; nil keys mean any key may have changed (a FLUSHALL, or
	// the Watcher re-armed after a gap in which changes went unseen). It
	// must not block.
	OnInvalidate func(keys []string)
	// Logger receives the Watcher's few lines: lost and re-armed, or
	// unsupported. Defaults to slog.Default().
	Logger *slog.Logger
	// What the log lines call the Watcher, e.g. "push wake-up for arq:queue".
	Name string
	// PingInterval bounds how long a silently dead connection (a cut
	// network, a frozen server) goes unnoticed; default 5 s.
	PingInterval time.Duration
	// Subprefixes, when set, narrow the tracking to the keys starting with
	// Prefix followed by one of them (one BCAST PREFIX each): Redis then
	// builds and sends no message for the other keys under Prefix.
	Subprefixes []string
	// Coalesce, when set, lets messages gather: once the Watcher has
	// waited for a message (nothing was queued), it reports it and sleeps
	// Coalesce before reading on, so that the messages Redis sends
	// meanwhile (one per pass of its event loop that changed a tracked
	// key) are read in one go. A Watcher in a process of its own beside a
	// busy Redis then wakes about 1/Coalesce times a second instead of
	// once per pass; a key is reported at most Coalesce late. Zero: each
	// message is reported as it comes (the push wake-up).
	Coalesce time.Duration
}

// Watcher reports changes to the keys under one prefix, from Redis's
// client-side caching invalidations (Redis 6+). It holds one dedicated
// RESP2 connection that enables tracking with itself as the redirect
// target and subscribes to __redis__:invalidate: the tracking lives as
// long as that connection, so one reconnect re-arms everything. go-redis
// v9's RESP3 push handling rejects invalidate messages (go-redis#3093),
// hence RESP2. A lost connection is detected by a read error or an
// unanswered PING and re-armed with backoff; after each re-arm
// OnInvalidate(nil) covers what changed meanwhile.
type Watcher struct {
	opts WatchOptions
	rc   *redis.Client

	armed   chan struct{} // closed once the first arm succeeded
	done    chan struct{} // closed when the goroutine ends
	cancel  context.CancelFunc
	mu      sync.Mutex
	ps      *redis.PubSub
	err     error // why the goroutine ended early (unsupported)
	isArmed bool
}

// Watch starts a Watcher on the connection settings of the wrapped client
// and waits for its first arm. A server that refuses tracking gives an
// error wrapping ErrTrackingUnsupported; a connection failure gives a
// Watcher that keeps trying to arm in the background (with err nil), so a
// worker started while Redis is down gets push wake-ups once it is up.
func (r *RDB) Watch(ctx context.Context, o WatchOptions) (*Watcher, error) {
	if o.Logger == nil {
		o.Logger = r.log
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 5 * time.Second
	}
	if o.Name == "" {
		o.Name = "push wake-up for " + o.Prefix
	}
	c, ok := r.c.(*redis.Client)
	if !ok {
		return nil, fmt.Errorf("%w: %T (only a single-node or Sentinel client can track)", ErrTrackingUnsupported, r.c)
	}
	opt := *c.Options()
	opt.Protocol = 2
	// RESP2 carries no maintenance notifications; a config of our own also
	// keeps NewClient from reading the shared one while the first client's
	// connection setup writes to it (go-redis guards that write with a lock
	// Options() does not take)
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.PoolSize = 1
	opt.MinIdleConns, opt.MaxIdleConns, opt.MaxActiveConns = 0, 0, 0
	userOnConnect := opt.OnConnect
	prefixes := []any{"PREFIX", o.Prefix}
	if len(o.Subprefixes) > 0 {
		prefixes = prefixes[:0]
		for _, sp := range o.Subprefixes {
			prefixes = append(prefixes, "PREFIX", o.Prefix+sp)
		}
	}
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if userOnConnect != nil {
			if err := userOnConnect(ctx, cn); err != nil {
				return err
			}
		}
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			return refused(err)
		}
		err = cn.Do(ctx, append([]any{"CLIENT", "TRACKING", "ON", "REDIRECT", id, "BCAST"}, prefixes...)...).Err()
		return refused(err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &Watcher{opts: o, rc: redis.NewClient(&opt), armed: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	first := make(chan error, 1)
	go w.run(wctx, first)
	select {
	case err := <-first:
		if err != nil {
			w.Close()
			return nil, err
		}
		return w, nil
	case <-ctx.Done():
		w.Close()
		return nil, ctx.Err()
	}
}

// refusedError marks a server's refusal of a tracking command, as opposed
// to a connection failure.
type refusedError struct{ err error }

func (e refusedError) Error() string { return e.err.Error() }
func (e refusedError) Unwrap() error { return e.err }

func refused(err error) error {
	var re redis.Error
	if err != nil && errors.As(err, &re) && !Transient(err) {
		return refusedError{err}
	}
	return err
}

func isRefusal(err error) bool {
	var rf refusedError
	if errors.As(err, &rf) {
		return true
	}
	// SUBSCRIBE itself refused (an ACL without the channel)
	var re redis.Error
	return errors.As(err, &re) && !Transient(err)
}

// Armed reports whether invalidations are being received now.
func (w *Watcher) Armed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.isArmed
}

// Err is why the Watcher stopped on its own (the server refused tracking
// after a reconnect), or nil.
func (w *Watcher) Err() error {
	select {
	case <-w.done:
	default:
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Done is closed when the Watcher has stopped: closed, or refused.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Close stops the Watcher and closes its connection; it waits for the
// goroutine to end.
func (w *Watcher) Close() error {
	w.cancel()
	w.mu.Lock()
	if w.ps != nil {
		_ = w.ps.Close() // interrupts a blocked read
	}
	w.mu.Unlock()
	<-w.done
	return w.rc.Close()
}

func (w *Watcher) setArmed(ps *redis.PubSub, armed bool) {
	w.mu.Lock()
	w.ps, w.isArmed = ps, armed
	w.mu.Unlock()
}

// run arms, reads invalidations until the connection fails, and re-arms,
// until ctx ends or the server refuses. first gets the outcome of the first
// attempt: nil once armed or when the connection failed, the refusal else.
func (w *Watcher) run(ctx context.Context, first chan<- error) {
	defer close(w.done)
	report := func(err error) {
		if first != nil {
			first <- err
			first = nil
		}
	}
	defer func() { report(ctx.Err()) }()
	backoff := time.Duration(0)
	lost := false // a warning was logged for the current outage
	for ctx.Err() == nil {
		ps, err := w.arm(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isRefusal(err) {
				err = fmt.Errorf("%w: %v", ErrTrackingUnsupported, err)
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				if first == nil {
					w.opts.Logger.WarnContext(ctx, fmt.Sprintf("%s unavailable (%v), falling back to polling", w.opts.Name, err), "error", err)
				}
				report(err)
				return
			}
			report(nil)
			if !lost {
				w.opts.Logger.WarnContext(ctx, fmt.Sprintf("%s cannot connect (%v), polling until it can", w.opts.Name, err), "error", err)
				lost = true
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
			if !sleepCtx(ctx, backoff) {
				return
			}
			continue
		}
		if lost {
			w.opts.Logger.InfoContext(ctx, w.opts.Name+" re-armed")
			lost = false
		}
		backoff = 0
		report(nil)
		w.opts.OnInvalidate(nil) // whatever changed while unarmed
		err = w.read(ctx, ps)
		w.setArmed(nil, false)
		_ = ps.Close()
		if ctx.Err() != nil {
			return
		}
		w.opts.Logger.WarnContext(ctx, fmt.Sprintf("%s lost its connection (%v), re-arming", w.opts.Name, err), "error", err)
		lost = true
	}
}

// arm opens the connection (OnConnect enables tracking) and subscribes.
func (w *Watcher) arm(ctx context.Context) (*redis.PubSub, error) {
	ps := w.rc.Subscribe(ctx)
	w.mu.Lock()
	if ctx.Err() != nil {
		w.mu.Unlock()
		_ = ps.Close()
		return nil, ctx.Err()
	}
	w.ps = ps
	w.mu.Unlock()
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := ps.Subscribe(actx, invalidateChannel)
	if err == nil {
		var msg any
		msg, err = ps.ReceiveTimeout(actx, 5*time.Second)
		if s, ok := msg.(*redis.Subscription); err == nil && (!ok || s.Channel != invalidateChannel) {
			err = fmt.Errorf("unexpected reply to SUBSCRIBE: %v", msg)
		}
	}
	if err != nil {
		w.setArmed(nil, false)
		_ = ps.Close()
		return nil, err
	}
	w.setArmed(ps, true)
	return ps, nil
}

// read delivers invalidations until the connection fails.
func (w *Watcher) read(ctx context.Context, ps *redis.PubSub) error {
	pinged := false
	for {
		t0 := time.Now()
		msg, err := ps.ReceiveTimeout(ctx, w.opts.PingInterval)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// the message was not queued already (a queued one is parsed in a
		// few µs): the ones that follow it gather for Coalesce
		gather := w.opts.Coalesce > 0 && err == nil && time.Since(t0) > queuedRead
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				if pinged { // the last PING went unanswered
					return fmt.Errorf("no reply to PING within %s", w.opts.PingInterval)
				}
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				pinged = true
				continue
			case errors.Is(err, io.EOF) || errors.As(err, &ne) || errors.Is(err, redis.ErrClosed):
				return err
			default:
				// a message go-redis cannot decode: the null payload of a
				// FLUSHALL/FLUSHDB invalidation
				w.opts.OnInvalidate(nil)
				continue
			}
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel != invalidateChannel {
				continue
			}
			if m.PayloadSlice != nil {
				w.opts.OnInvalidate(m.PayloadSlice)
			} else {
				w.opts.OnInvalidate(nil)
			}
		case *redis.Subscription:
			if m.Kind == "unsubscribe" {
				return errors.New("unsubscribed")
			}
		}
		if gather && !sleepCtx(ctx, w.opts.Coalesce) {
			return ctx.Err()
		}
	}
}

// queuedRead is longer than a Receive of a message already queued takes:
// a longer Receive waited for it.
const queuedRead = 100 * time.Microsecond

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
