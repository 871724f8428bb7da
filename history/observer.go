package history

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/worker"
)

// Observer records the jobs a goarq worker finishes through its Observer
// seam (worker.Settings.Observer), results that are never kept
// (keep_result 0) included, which a Recorder cannot see. It records the
// call (from worker.JobFromContext), times, try and the exception of a
// failure; the return value of a success is not passed to observers, so
// its Result reads "(not available to the observer)". A job whose result
// Redis also keeps is recorded once, by whichever sees it first (same job
// id and start time).
//
// Records are queued in memory (up to QueueLen) and written in batches by
// one goroutine; JobEnded never blocks. Close flushes and ends it.
type Observer struct {
	store Store
	log   *slog.Logger
	ser   arqcompat.Serializer
	ch    chan Record
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	dropped int64
}

// ObserverOptions configure an Observer.
type ObserverOptions struct {
	// QueueLen bounds the records waiting to be written (default 10,000);
	// beyond it records are dropped and counted (Dropped), never blocking
	// the worker.
	QueueLen int
	Logger   *slog.Logger
}

// NewObserver starts an Observer writing to store.
func NewObserver(store Store, o ObserverOptions) *Observer {
	if o.QueueLen <= 0 {
		o.QueueLen = 10_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ob := &Observer{store: store, log: o.Logger, ser: arqcompat.PickleSerializer(arqcompat.Limits{}),
		ch: make(chan Record, o.QueueLen), done: make(chan struct{})}
	go ob.run()
	return ob
}

// JobStarted implements worker.Observer.
func (ob *Observer) JobStarted(ctx context.Context, _ *worker.JobEvent) context.Context { return ctx }

// RedisError implements worker.Observer.
func (ob *Observer) RedisError(context.Context, string, error) {}

// JobEnded implements worker.Observer: final outcomes are recorded (a job
// that will run again, retried or cancelled at shutdown, is not).
func (ob *Observer) JobEnded(ctx context.Context, ev *worker.JobEvent) {
	switch ev.Outcome {
	case worker.OutcomeRetried, worker.OutcomeCancelled:
		return
	}
	now := time.Now()
	start := ev.Start
	if start.IsZero() {
		start = now
	}
	rr := arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: ev.Function, JobTry: int64(ev.Try), Kwargs: arqcompat.NewDict()},
		Success: ev.Outcome == worker.OutcomeComplete, StartMS: start.UnixMilli(), FinishMS: start.Add(ev.Duration).UnixMilli(),
		Queue: ev.Queue, JobID: ev.JobID}
	if j, ok := worker.JobFromContext(ctx); ok {
		rr.Args, rr.Kwargs, rr.EnqueueTimeMS = j.Args, j.Kwargs, j.EnqueueTime.UnixMilli()
	}
	if !rr.Success && ev.Err != nil {
		rr.Result = exceptionOf(ev.Err)
	}
	raw, err := arqcompat.EncodeResult(ob.ser, rr)
	var rec Record
	if err != nil {
		rec = Record{JobID: ev.JobID, Queue: ev.Queue, Function: ev.Function, Try: ev.Try, StartMS: rr.StartMS, FinishMS: rr.FinishMS,
			Success: rr.Success, Serializer: ob.ser.Name(), Undecodable: "the call could not be encoded: " + err.Error()}
	} else {
		rec = Record{JobID: ev.JobID, Raw: raw, Serializer: ob.ser.Name()}
		fill(&rec, rr)
	}
	if rec.Success {
		rec.Result = "(not available to the observer)"
	}
	rec.Source, rec.RecordedMS = "observer", now.UnixMilli()
	select {
	case ob.ch <- rec:
	default:
		ob.mu.Lock()
		ob.dropped++
		ob.mu.Unlock()
	}
}

func exceptionOf(err error) *arqcompat.Exception {
	var exc *arqcompat.Exception
	if errors.As(err, &exc) {
		return exc
	}
	return arqcompat.NewException("builtins", "Exception", err.Error())
}

// Dropped counts the records lost to a full queue.
func (ob *Observer) Dropped() int64 {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	return ob.dropped
}

func (ob *Observer) run() {
	defer close(ob.done)
	ctx := context.Background()
	batch := make([]Record, 0, 500)
	for rec := range ob.ch {
		batch = append(batch[:0], rec)
	more:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-ob.ch:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		if _, err := ob.store.Add(ctx, batch); err != nil {
			ob.log.Warn("history observer: recording failed", "error", err, "records", len(batch))
		}
	}
}

// Close writes what is queued and stops the Observer's goroutine; call it
// after the worker has stopped.
func (ob *Observer) Close() error {
	ob.once.Do(func() { close(ob.ch) })
	<-ob.done
	return nil
}

var _ worker.Observer = (*Observer)(nil)
