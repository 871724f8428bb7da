// Package client enqueues jobs into arq queues and reads their status and
// results, doing in Go what arq's ArqRedis and Job do in Python, with the
// same keys, values and transactions: Python workers run what it enqueues,
// and it reads what Python enqueues.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
)

// Options configures a Client. The zero value is arq's defaults.
type Options struct {
	// QueueName is the default queue (arq:queue).
	QueueName string
	// Serializer defaults to pickle, arq's default.
	Serializer arqcompat.Serializer
	// ExpiresExtra is added to the deferral to give the job key's TTL when
	// no Expires is given (arq's expires_extra_ms, one day).
	ExpiresExtra time.Duration
	// Logger gets the client's log lines; it defaults to slog.Default().
	// go-redis's own lines go to the logger set with redis.SetLogger
	// (go-redis has one per process; goarq leaves it to the program).
	Logger *slog.Logger
	// WatchMulti makes Enqueue send arq's literal command sequence (WATCH,
	// EXISTS, MULTI, PSETEX, ZADD, EXEC) instead of one Lua script with the
	// same atomic effect, for Redis deployments that forbid scripting. The
	// script is one round trip instead of four.
	WatchMulti bool
	// NoPushWakeup makes Job.Result poll the result key every PollDelay, as
	// arq does, instead of waking when the result is written (Redis 6+
	// CLIENT TRACKING, on one extra connection that lives while Result
	// waits and a few seconds after). Servers that refuse tracking get
	// polling either way.
	NoPushWakeup bool
	// EnqueueObserver sees every enqueue (package otelarq traces them);
	// nil for none.
	EnqueueObserver EnqueueObserver
}

// Client is safe for concurrent use.
type Client struct {
	rdb        redis.UniversalClient
	store      *arqredis.RDB
	queue      string
	ser        arqcompat.Serializer
	extraMS    int64
	log        *slog.Logger
	now        func() time.Time
	ownsClient bool
	watchMulti bool
	results    *arqredis.Waiters // nil: poll results
	obs        EnqueueObserver
	ids        idSource
	enq        coalescer
	bufs       sync.Pool // *[]byte: job records being written by EnqueueRequest
}

// maxPooledRecord is the largest record buffer kept for reuse.
const maxPooledRecord = 64 << 10

// New wraps an existing go-redis client.
func New(rdb redis.UniversalClient, opts Options) *Client {
	c := &Client{rdb: rdb, queue: opts.QueueName, ser: opts.Serializer, log: opts.Logger, now: time.Now,
		extraMS: arqredis.ExpiresExtraMS, watchMulti: opts.WatchMulti, obs: opts.EnqueueObserver}
	if c.queue == "" {
		c.queue = arqcompat.DefaultQueueName
	}
	if c.ser == nil {
		c.ser = arqcompat.PickleSerializer(arqcompat.Limits{})
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.bufs.New = func() any { b := make([]byte, 0, 256); return &b }
	c.store = arqredis.New(rdb, c.log)
	c.enq.store = c.store
	if opts.ExpiresExtra > 0 {
		c.extraMS = arqcompat.DurationMS(opts.ExpiresExtra)
	}
	if !opts.NoPushWakeup {
		c.results = c.store.NewWaiters(arqcompat.ResultKeyPrefix, c.log)
	}
	return c
}

// Dial connects to Redis as arq's create_pool does (with retries) and
// returns a Client that closes the connection on Close.
func Dial(ctx context.Context, s RedisSettings, opts Options) (*Client, error) {
	rdb, err := Connect(ctx, s, opts.Logger)
	if err != nil {
		return nil, err
	}
	c := New(rdb, opts)
	c.ownsClient = true
	return c, nil
}

// DialURL is Dial with a DSN parsed by ParseDSN.
func DialURL(ctx context.Context, dsn string, opts Options) (*Client, error) {
	s, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return Dial(ctx, s, opts)
}

// Close stops Job.Result's wake-up connection, and closes the Redis
// connection if Dial opened it.
func (c *Client) Close() error {
	var err error
	if c.results != nil {
		err = c.results.Close()
	}
	if c.ownsClient {
		err = errors.Join(err, c.rdb.Close())
	}
	return err
}

// Redis returns the underlying go-redis client.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// QueueName is the default queue.
func (c *Client) QueueName() string { return c.queue }

// Serializer is the serializer in use.
func (c *Client) Serializer() arqcompat.Serializer { return c.ser }

// ErrJobExists is returned by Enqueue when a job with the same id is queued,
// running or has a kept result: arq's enqueue_job returns None then.
var ErrJobExists = errors.New("a job with this id already exists")

// EnqueueOptions are the underscore arguments of arq's enqueue_job.
type EnqueueOptions struct {
	// JobID defaults to a random uuid4().hex.
	JobID string
	// QueueName defaults to the client's queue.
	QueueName string
	// DeferUntil and DeferBy delay the job; setting both is an error.
	DeferUntil time.Time
	DeferBy    time.Duration
	// Expires: do not start or retry the job after this long; default is
	// the deferral plus one day.
	Expires time.Duration
	// JobTry sets the try number the worker starts from (_job_try); 0 is None.
	JobTry int
}

// Request is one job to enqueue.
type Request struct {
	Function string
	Args     []any
	// Kwargs is an *arqcompat.Dict, a map with string keys or a struct
	// (fields named by `arq` or `json` tags); nil for none.
	Kwargs  any
	Options EnqueueOptions
}

// Enqueue enqueues function(*args) with default options.
func (c *Client) Enqueue(ctx context.Context, function string, args ...any) (*Job, error) {
	return c.EnqueueRequest(ctx, Request{Function: function, Args: args})
}

// ErrInvalidRequest is matched by errors.Is for requests enqueue rejects
// before touching Redis.
var ErrInvalidRequest = errors.New("invalid enqueue request")

func (c *Client) kwargsDict(kw any) (*arqcompat.Dict, error) {
	if kw == nil {
		return &arqcompat.Dict{}, nil
	}
	if d, ok := kw.(*arqcompat.Dict); ok {
		if d == nil {
			return &arqcompat.Dict{}, nil
		}
		return d, nil
	}
	v, err := arqcompat.Normalize(kw)
	if err != nil {
		return nil, fmt.Errorf("%w: kwargs: %v", ErrInvalidRequest, err)
	}
	d, ok := v.(*arqcompat.Dict)
	if !ok {
		return nil, fmt.Errorf("%w: kwargs must be a dict, map or struct, not %T", ErrInvalidRequest, kw)
	}
	return d, nil
}

// prepare checks r and makes the job to write, its record appended to buf
// (nil: a buffer of its own).
func (c *Client) prepare(r Request, nowMS int64, buf []byte) (arqredis.Enqueue, error) {
	var p arqredis.Enqueue
	o := r.Options
	if r.Function == "" {
		return p, fmt.Errorf("%w: no function name", ErrInvalidRequest)
	}
	if !o.DeferUntil.IsZero() && o.DeferBy != 0 {
		return p, fmt.Errorf("%w: use either DeferUntil or DeferBy or neither, not both", ErrInvalidRequest)
	}
	p.JobID = o.JobID
	if p.JobID == "" {
		p.JobID, p.JobKey, p.ResultKey = c.ids.next()
	}
	p.Queue = o.QueueName
	if p.Queue == "" {
		p.Queue = c.queue
	}
	var kw *arqcompat.Dict // nil: no kwargs, written as {}
	if r.Kwargs != nil {
		var err error
		if kw, err = c.kwargsDict(r.Kwargs); err != nil {
			return p, err
		}
	}
	for _, it := range kw.Items() {
		if _, ok := it.Key.(string); !ok {
			return p, fmt.Errorf("%w: kwargs keys must be str, got %s", ErrInvalidRequest, arqcompat.PyTypeName(it.Key))
		}
	}
	deferMS := arqcompat.DurationMS(o.DeferBy)
	switch {
	case !o.DeferUntil.IsZero():
		p.Score = arqcompat.TimestampMS(o.DeferUntil)
	case deferMS != 0:
		p.Score = nowMS + deferMS
	default:
		p.Score = nowMS
	}
	p.ExpiresMS = arqcompat.DurationMS(o.Expires)
	if p.ExpiresMS == 0 {
		p.ExpiresMS = p.Score - nowMS + c.extraMS
	}
	rec := arqcompat.JobRecord{Function: r.Function, Args: r.Args, Kwargs: kw, JobTry: int64(o.JobTry), EnqueueTimeMS: nowMS}
	var err error
	if buf != nil {
		p.Data, err = arqcompat.AppendJob(buf, c.ser, rec)
	} else {
		p.Data, err = arqcompat.EncodeJob(c.ser, rec)
	}
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	return p, nil
}

// EnqueueRequest enqueues one job with the effect of arq's enqueue_job
// transaction: if the job or its result exists, write nothing and return
// ErrJobExists; else PSETEX the job and ZADD the queue, atomically. By
// default this is one Lua script; with Options.WatchMulti it is arq's own
// WATCH / MULTI / EXEC sequence, where a lost race is ErrJobExists too.
// Concurrent calls may share a round trip: when two enqueues are already in
// flight, the calls that come meanwhile go out as one pipeline of their
// scripts (go-redis hooks see a pipeline), each with its own outcome.
func (c *Client) EnqueueRequest(ctx context.Context, r Request) (_ *Job, err error) {
	var jobKey, resultKey string
	if r.Options.JobID == "" {
		r.Options.JobID, jobKey, resultKey = c.ids.next()
	}
	if c.obs != nil {
		var ended func(error)
		ctx, ended = c.observeEnqueue(ctx, r)
		defer func() { ended(err) }()
	}
	if c.watchMulti {
		return c.enqueueWatchMulti(ctx, r)
	}
	buf := c.bufs.Get().(*[]byte)
	p, err := c.prepare(r, arqcompat.TimestampMS(c.now()), (*buf)[:0])
	if err != nil {
		c.bufs.Put(buf)
		return nil, err
	}
	p.JobKey, p.ResultKey = jobKey, resultKey
	ok, err := c.enq.enqueue(ctx, p)
	if cap(p.Data) <= maxPooledRecord { // go-redis (and any batch it was in) is done with it
		*buf = p.Data[:0]
		c.bufs.Put(buf)
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrJobExists
	}
	return c.Job(p.JobID, p.Queue), nil
}

// enqueueWatchMulti is EnqueueRequest with Options.WatchMulti. It is a
// function of its own so that the closure, which needs r on the heap, costs
// nothing to the default path.
func (c *Client) enqueueWatchMulti(ctx context.Context, r Request) (*Job, error) {
	p, err := c.store.EnqueueWatchMulti(ctx, r.Options.JobID, func() (arqredis.Enqueue, error) {
		return c.prepare(r, arqcompat.TimestampMS(c.now()), nil)
	})
	if errors.Is(err, arqredis.ErrJobExists) {
		return nil, ErrJobExists
	}
	if err != nil {
		return nil, err
	}
	return c.Job(p.JobID, p.Queue), nil
}

// EnqueueMany enqueues a batch in one round trip, each job with the same
// effect as EnqueueRequest: a job whose id exists (queued, running or with
// a kept result) is skipped and its entry in the returned slice is nil.
// Each job's existence check and writes are one atomic script.
func (c *Client) EnqueueMany(ctx context.Context, reqs []Request) ([]*Job, error) {
	nowMS := arqcompat.TimestampMS(c.now())
	preps := make([]arqredis.Enqueue, len(reqs))
	for i, r := range reqs {
		p, err := c.prepare(r, nowMS, nil)
		if err != nil {
			return nil, fmt.Errorf("request %d (%s): %w", i, r.Function, err)
		}
		preps[i] = p
	}
	ok, err := c.store.Enqueue(ctx, preps)
	if c.obs != nil {
		c.observeMany(ctx, reqs, preps, ok, err)
	}
	if err != nil {
		return nil, err
	}
	jobs := make([]*Job, len(preps))
	for i, p := range preps {
		if ok[i] {
			jobs[i] = c.Job(p.JobID, p.Queue)
		}
	}
	return jobs, nil
}

// Job returns a handle on a job by id; queue "" means the client's queue.
func (c *Client) Job(jobID, queue string) *Job {
	if queue == "" {
		queue = c.queue
	}
	return &Job{ID: jobID, Queue: queue, c: c}
}

// JobDef is a queued job as arq's JobDef.
type JobDef struct {
	JobID       string
	Function    string
	Args        []any
	Kwargs      *arqcompat.Dict
	JobTry      int // 0 when the enqueuer left it None
	EnqueueTime time.Time
	// Score is the queue score (ms when the job may run); nil when the job
	// is not in the queue.
	Score *int64
}

// JobResult is a finished job as arq's JobResult.
type JobResult struct {
	JobDef
	Success    bool
	Result     any
	StartTime  time.Time
	FinishTime time.Time
	QueueName  string
}

func jobDefFrom(id string, r arqcompat.JobRecord) JobDef {
	return JobDef{JobID: id, Function: r.Function, Args: r.Args, Kwargs: r.Kwargs, JobTry: int(r.JobTry), EnqueueTime: r.EnqueueTime()}
}

func jobResultFrom(r arqcompat.ResultRecord) *JobResult {
	return &JobResult{JobDef: jobDefFrom(r.JobID, r.JobRecord), Success: r.Success, Result: r.Result,
		StartTime: r.StartTime(), FinishTime: r.FinishTime(), QueueName: r.Queue}
}

// decodeResult decodes a stored result record of the job id.
func (c *Client) decodeResult(id string, data []byte) (*JobResult, error) {
	rec, err := arqcompat.DecodeResult(c.ser, data)
	if err != nil {
		return nil, fmt.Errorf("job %s: unable to deserialize job result: %w", id, err)
	}
	r := jobResultFrom(rec)
	r.JobID = id
	return r, nil
}
