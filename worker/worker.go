// The worker: Settings, New, Run composing the parts (each in its own
// file, owning its state; see Worker) and Stats. It owns the settings and
// the connection the parts share.

// Package worker runs Go functions for jobs in arq queues, with arq 0.28's
// protocol: the same keys, transactions, results, retries, aborts, health
// check and cron, so that Python's Job API cannot tell a Go worker from a
// Python one, and Python and Go workers can share a queue.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
	"github.com/goarq/goarq/redisconn"
)

// Settings are arq's WorkerSettings. Zero values mean arq's defaults, noted
// on each field.
type Settings struct {
	Functions []Function
	// QueueName defaults to arq:queue.
	QueueName string
	CronJobs  []CronJob
	// Redis is used when RedisClient is nil (default: localhost:6379/0).
	Redis       *redisconn.Settings
	RedisClient redis.UniversalClient
	// Burst stops the worker once the queue is empty.
	Burst bool
	// Hooks, as arq's on_startup, on_shutdown, on_job_start, on_job_end and
	// after_job_end.
	OnStartup   func(ctx context.Context) error
	OnShutdown  func(ctx context.Context) error
	OnJobStart  func(ctx context.Context, job *Job)
	OnJobEnd    func(ctx context.Context, job *Job)
	AfterJobEnd func(ctx context.Context, job *Job)
	// Observer sees every job's start and end and the worker's Redis
	// errors, for metrics and tracing (packages arqprom, otelarq); nil
	// for none.
	Observer Observer
	// HandleSignals makes Run handle SIGINT and SIGTERM as arq does. arq
	// defaults to true; a Go library leaves signals to its caller unless
	// asked, so the zero value is false. Cancelling Run's context has the
	// same effect, logged without a signal name.
	HandleSignals bool
	// JobCompletionWait lets running jobs finish for up to this long after a
	// signal before they are cancelled (default 0: cancel at once).
	JobCompletionWait time.Duration
	// MaxJobs defaults to 10.
	MaxJobs int
	// JobTimeout defaults to 300 s; Zero is arq's job_timeout=0 (every
	// job times out at once).
	JobTimeout time.Duration
	// KeepResult defaults to 3600 s; Zero keeps no results.
	KeepResult        time.Duration
	KeepResultForever bool
	// PollDelay defaults to 0.5 s; Zero polls again at once, as arq's
	// poll_delay=0. With push wake-ups (the default) it is only the safety
	// poll of an idle worker: jobs start when enqueued. It still bounds how
	// long an idle worker takes to find a job that became ready without a
	// write to the queue key: one another worker retried with no delay or
	// cancelled at its shutdown, or whose in-progress key expired.
	PollDelay time.Duration
	// NoPushWakeup makes the worker poll every PollDelay, as arq does.
	// By default an idle worker sleeps until Redis reports a write to the
	// queue key (CLIENT TRACKING, Redis 6+, on one extra connection), the
	// next deferred job is due or PollDelay passes. Servers and proxies
	// that refuse tracking get polling either way.
	NoPushWakeup bool
	// QueueReadLimit defaults to max(MaxJobs*5, 100).
	QueueReadLimit int
	// MaxTries defaults to 5; Zero is arq's max_tries=0 (every job fails
	// with "max 0 retries exceeded").
	MaxTries int
	// HealthCheckInterval defaults to 3600 s; Zero writes the health check
	// on every poll, with a TTL of 1 s, as arq's health_check_interval=0.
	HealthCheckInterval time.Duration
	// HealthCheckKey defaults to <queue>:health-check.
	HealthCheckKey string
	// NoRetryJobs is arq's retry_jobs=False: Retry and cancellation fail
	// the job instead of re-queueing it.
	NoRetryJobs    bool
	AllowAbortJobs bool
	// MaxBurstJobs limits the jobs run in burst mode; 0 means no limit
	// (arq's -1).
	MaxBurstJobs int
	// Serializer defaults to pickle.
	Serializer arqcompat.Serializer
	// ExpiresExtra defaults to one day (arq's expires_extra_ms).
	ExpiresExtra time.Duration
	// Timezone for cron schedules; defaults to the local zone's current
	// fixed offset, as arq's datetime.now().astimezone().tzinfo.
	Timezone *time.Location
	// NoLogResults is arq's log_results=False.
	NoLogResults bool
	// Logger gets the worker's log lines. It defaults to arq's format on
	// stderr (NewArqLogHandler); any slog.Logger keeps the structured
	// attributes. go-redis's own lines (a failed dial) go to the logger set
	// with redis.SetLogger: go-redis has one per process, which goarq
	// leaves to the program.
	Logger *slog.Logger
	// OnlyOwnFunctions makes the worker claim only jobs of its registered
	// functions (and cron jobs) and leave every other job untouched, so that
	// Python workers on the same queue run them: for migrating one function
	// at a time on a shared queue. Without it, as in arq, a job of a function
	// the worker lacks fails with "function 'x' not found".
	OnlyOwnFunctions bool
}

// Zero, given as a setting whose Go zero value means arq's default
// (JobTimeout, PollDelay, MaxTries, HealthCheckInterval, KeepResult, and a
// function's WithTimeout, WithMaxTries, WithKeepResult), means arq's
// literal 0 for it. Any negative value means the same.
const Zero = -1

// orZero is a setting as arq reads it: def for Go's zero value, 0 for
// Zero (any negative value), else v.
func orZero[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Stats counts jobs as arq's worker does.
type Stats struct {
	Complete, Failed, Retried, Ongoing int
}

// Worker runs jobs. Create it with New; Run it once.
//
// A Worker holds its settings and its parts, each in its own file and
// owning its own state: the slots (slots.go), the claimer (claimer.go,
// own.go, wake.go), the executor (execute.go), the finish writer
// (writer.go), maintenance (maintenance.go, heartbeat.go, cron.go) and the
// shutdown (stop.go). Run starts them in order and stops them in reverse.
type Worker struct {
	// the settings, as New filled them
	s                 Settings
	funcs             map[string]*Function
	log               *slog.Logger
	keepResult        time.Duration // 0: none
	inProgressTimeout time.Duration

	// the connection the parts share, set by Run
	rdb       redis.UniversalClient
	store     *arqredis.RDB
	ownsRedis bool

	// the parts
	slots  *slots
	claim  *claimer
	exec   *executor
	writer *writer
	maint  *maintenance
	shut   *shutdown

	ran atomic.Bool // Run was called
}

// ErrRunTwice is Run's error on a Worker that has run already: a Worker
// runs once; make another with New.
var ErrRunTwice = errors.New("worker: Run called twice on one Worker")

var (
	errShutdown = errors.New("worker shutting down")
	errAborted  = errors.New("job aborted")
	errTimeout  = errors.New("job timed out")
)

// New checks the settings and fills arq's defaults.
func New(s Settings) (*Worker, error) {
	if s.QueueName == "" {
		s.QueueName = arqcompat.DefaultQueueName
	}
	if s.MaxJobs <= 0 {
		s.MaxJobs = 10
	}
	s.JobTimeout = orZero(s.JobTimeout, 300*time.Second)
	keep := orZero(s.KeepResult, time.Hour)
	s.PollDelay = orZero(s.PollDelay, 500*time.Millisecond)
	if s.QueueReadLimit <= 0 {
		s.QueueReadLimit = max(s.MaxJobs*5, 100)
	}
	s.MaxTries = orZero(s.MaxTries, 5)
	s.HealthCheckInterval = orZero(s.HealthCheckInterval, time.Hour)
	if s.HealthCheckKey == "" {
		s.HealthCheckKey = arqcompat.HealthCheckKey(s.QueueName)
	}
	if s.Serializer == nil {
		s.Serializer = arqcompat.PickleSerializer(arqcompat.Limits{})
	}
	if s.Timezone == nil {
		_, off := time.Now().Zone()
		s.Timezone = time.FixedZone("", off)
	}
	if s.Logger == nil {
		s.Logger = slog.New(NewArqLogHandler(os.Stderr, slog.LevelInfo))
	}
	burstMax := 0
	if s.Burst && s.MaxBurstJobs > 0 {
		burstMax = s.MaxBurstJobs
	}
	w := &Worker{s: s, funcs: map[string]*Function{}, log: s.Logger, keepResult: keep,
		slots: newSlots(s.MaxJobs, burstMax), shut: newShutdown(),
	}
	for i := range s.Functions {
		f := s.Functions[i]
		if f.err != nil {
			return nil, f.err
		}
		if f.Name == "" || f.handler == nil {
			return nil, fmt.Errorf("%w: function %d has no name or handler (use worker.Func or worker.Raw)", ErrBadFunction, i)
		}
		if _, dup := w.funcs[f.Name]; dup {
			return nil, fmt.Errorf("worker: function %q registered twice", f.Name)
		}
		w.funcs[f.Name] = &f
	}
	for i := range s.CronJobs {
		cj := s.CronJobs[i]
		f, err := cj.function()
		if err != nil {
			return nil, err
		}
		if _, dup := w.funcs[f.Name]; dup {
			return nil, fmt.Errorf("worker: cron job %q has the name of a registered function", f.Name)
		}
		w.funcs[f.Name] = f
	}
	if len(w.funcs) == 0 {
		return nil, errors.New("worker: at least one function or cron job must be registered")
	}
	maxTimeout := time.Duration(0)
	for _, f := range w.funcs {
		t := f.Timeout
		if t <= 0 {
			t = s.JobTimeout
		}
		maxTimeout = max(maxTimeout, t)
	}
	w.inProgressTimeout = maxTimeout + 10*time.Second
	w.writer = newWriter(w)
	w.exec = newExecutor(w)
	w.maint = newMaintenance(w, s.CronJobs)
	w.claim = newClaimer(w)
	return w, nil
}

// Stats returns the job counters.
func (w *Worker) Stats() Stats {
	return w.exec.stats(w.slots.holding())
}

func (w *Worker) logRedisInfo(ctx context.Context) {
	version, mem, clients, keys := w.store.ServerInfo(ctx)
	w.log.InfoContext(ctx, fmt.Sprintf("redis_version=%s mem_usage=%s clients_connected=%s db_keys=%s", version, mem, clients, keys))
}

// redisError logs a Redis error the worker recovers from by itself.
func (w *Worker) redisError(ctx context.Context, level slog.Level, msg string, err error, attrs ...any) {
	w.log.Log(ctx, level, msg, append([]any{"error", err}, attrs...)...)
	if o := w.s.Observer; o != nil {
		o.RedisError(ctx, w.s.QueueName, err)
	}
}

func (w *Worker) names() string {
	names := make([]string, 0, len(w.funcs))
	for n := range w.funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Run connects (unless Settings.RedisClient is set), runs the startup hook,
// then polls and runs jobs until the context is cancelled, a signal arrives
// (with HandleSignals), or, in burst mode, the queue is empty. Running jobs
// are then cancelled and left queued to run again, the health-check key is
// deleted and the shutdown hook runs. A nil error means a clean stop.
//
// A Worker runs once: a second call returns ErrRunTwice. Stop ends it as
// a cancelled context does.
func (w *Worker) Run(ctx context.Context) error {
	if !w.ran.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	if w.s.RedisClient != nil {
		w.rdb = w.s.RedisClient
	} else {
		rs := redisconn.DefaultSettings()
		if w.s.Redis != nil {
			rs = *w.s.Redis
		}
		rdb, err := redisconn.Connect(ctx, rs, w.log)
		if err != nil {
			return err
		}
		w.rdb, w.ownsRedis = rdb, true
	}
	w.store = arqredis.New(w.rdb, w.log)
	// the finish script rides in a MULTI with a claim: loaded first, the
	// claim never runs while the finish before it is refused (NOSCRIPT)
	if err := w.store.LoadScripts(ctx); err != nil {
		w.log.WarnContext(ctx, fmt.Sprintf("loading the scripts failed, they load on first use: %v", err), "error", err)
	}
	w.maint.start()
	defer func() {
		if w.ownsRedis {
			_ = w.rdb.Close()
		}
	}()

	w.log.InfoContext(ctx, fmt.Sprintf("Starting worker for %d functions: %s", len(w.funcs), w.names()),
		"queue", w.s.QueueName, "functions", len(w.funcs))
	w.logRedisInfo(ctx)
	w.warnEviction(ctx)
	if w.s.OnStartup != nil {
		if err := w.s.OnStartup(ctx); err != nil {
			return fmt.Errorf("on_startup: %w", err)
		}
	}

	stopSignals := w.shut.start(ctx, w.s.HandleSignals, w.handleSignal)
	defer stopSignals()

	// the parts start in order: maintenance (above), the finish writer,
	// the claimer, whose run polls until the worker stops; the executor
	// runs the jobs the claims hand it while they hold slots. They stop in
	// reverse: the claimer, then the executor's jobs (every slot
	// released), the writer, maintenance
	w.writer.start(context.WithoutCancel(ctx))
	w.claim.start(ctx)
	err := w.claim.run(ctx)
	w.claim.stop()
	w.shut.stop() // burst end or loop error: no more polling
	w.slots.wait()
	w.writer.stop()
	// shutdown work must run even when ctx is cancelled
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	w.maint.stop(closeCtx)
	if w.s.OnShutdown != nil {
		if herr := w.s.OnShutdown(closeCtx); herr != nil {
			err = errors.Join(err, fmt.Errorf("on_shutdown: %w", herr))
		}
	}
	return err
}
