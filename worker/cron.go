// Cron: the CronJob type and its schedule (arq's cron), and maintenance's
// cron step (runCron), whose state, each cron job's next run (cronState),
// is maintenance's.

package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
)

// EverySecond, as CronJob.Second, runs the job every second (arq's
// second=None): it lists the seconds 0 to 59. A Second left nil or empty
// runs the job at second 0, as arq's default.
func EverySecond() []int {
	s := make([]int, 60)
	for i := range s {
		s[i] = i
	}
	return s
}

// CronJob is arq's cron(): a function the worker enqueues on a schedule.
// A nil or empty field matches every value, except Second, where nil or
// empty means 0 (arq's default; EverySecond() matches every second);
// Weekday counts from Monday = 0 as Python does.
type CronJob struct {
	// Name is the function name and the prefix of the job ids; arq uses
	// 'cron:<function name>'.
	Name string
	// Handler runs the job (see Func and Raw).
	Handler Function

	Month, Day, Weekday, Hour, Minute []int
	Second                            []int
	// Microsecond defaults to 123456, as arq.
	Microsecond *int

	RunAtStartup bool
	// NotUnique is arq's unique=False: every worker enqueues every tick.
	NotUnique bool
	// JobID, when set, is used for every run instead of '<name>:<unix ms>'.
	JobID string
	// Timeout, KeepResult, KeepResultForever and MaxTries as arq's cron().
	// Each one set here wins; one left zero takes the Handler's (set with
	// WithTimeout, WithKeepResult, ...), else arq's cron default: the
	// worker's timeout, no result kept (arq's keep_result=0), not forever,
	// max tries 1.
	Timeout           time.Duration
	KeepResult        time.Duration
	KeepResultForever bool
	MaxTries          int
}

func (c CronJob) function() (*Function, error) {
	if c.Handler.err != nil {
		return nil, fmt.Errorf("%w (the Handler of cron job %q)", c.Handler.err, c.Name)
	}
	if c.Name == "" || c.Handler.handler == nil {
		return nil, fmt.Errorf("%w: a cron job needs a Name and a Handler", ErrBadFunction)
	}
	f := c.Handler
	f.Name, f.cron = c.Name, true
	if c.Timeout != 0 {
		f.Timeout = c.Timeout
	}
	switch {
	case c.KeepResult != 0:
		f.KeepResult = c.KeepResult
	case f.KeepResult == 0:
		f.KeepResult = Zero
	}
	switch {
	case c.KeepResultForever:
		f.KeepResultForever, f.keepForeverSet = true, true
	case !f.keepForeverSet && !f.KeepResultForever:
		f.keepForeverSet = true // arq's cron(keep_result_forever=False) wins over the worker's
	}
	switch {
	case c.MaxTries > 0:
		f.MaxTries = c.MaxTries
	case f.MaxTries <= 0:
		f.MaxTries = 1
	}
	return &f, nil
}

func (c CronJob) micro() int {
	if c.Microsecond == nil {
		return 123_456
	}
	return *c.Microsecond
}

func (c CronJob) seconds() []int {
	if len(c.Second) == 0 {
		return []int{0}
	}
	return c.Second
}

// NextRun is arq's next_cron: the first time after prev that matches.
func (c CronJob) NextRun(prev time.Time) time.Time {
	t := prev.Add(time.Second)
	for {
		next, ok := c.nextDT(t)
		if !ok {
			return t
		}
		t = next
	}
}

func pyWeekday(t time.Time) int { return (int(t.Weekday()) + 6) % 7 }

func (c CronJob) nextDT(t time.Time) (time.Time, bool) {
	fields := []struct {
		name string
		opt  []int
		val  int
	}{
		{"month", c.Month, int(t.Month())},
		{"day", c.Day, t.Day()},
		{"weekday", c.Weekday, pyWeekday(t)},
		{"hour", c.Hour, t.Hour()},
		{"minute", c.Minute, t.Minute()},
		{"second", c.seconds(), t.Second()},
		{"microsecond", []int{c.micro()}, t.Nanosecond() / 1000},
	}
	us := time.Duration(t.Nanosecond()/1000) * time.Microsecond
	for _, f := range fields {
		if len(f.opt) == 0 || slices.Contains(f.opt, f.val) {
			continue
		}
		micro := max(us-time.Duration(c.micro())*time.Microsecond, 0)
		hms := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
		switch f.name {
		case "month":
			if t.Month() == 12 {
				return time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, t.Location()), true
			}
			return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, t.Location()), true
		case "day", "weekday":
			return t.Add(24*time.Hour - hms - micro), true
		case "hour":
			return t.Add(time.Hour - time.Duration(t.Minute())*time.Minute - time.Duration(t.Second())*time.Second - micro), true
		case "minute":
			return t.Add(time.Minute - time.Duration(t.Second())*time.Second - micro), true
		case "second":
			return t.Add(time.Second - micro), true
		default:
			return t.Add(time.Duration(c.micro())*time.Microsecond - us), true
		}
	}
	return time.Time{}, false
}

// cronState is maintenance's state of one cron job.
type cronState struct {
	job     CronJob
	nextRun time.Time
}

// runCron is arq's run_cron: enqueue each cron job whose next run falls
// within two windows from now, with the job id '<name>:<unix ms>' so that
// every worker on the queue enqueues a tick once.
func (m *maintenance) runCron(ctx context.Context, now time.Time, window time.Duration) error {
	cutoff := now.Add(2 * window)
	for _, cs := range m.cron {
		if cs.nextRun.IsZero() {
			if cs.job.RunAtStartup {
				cs.nextRun = now
			} else {
				cs.nextRun = cs.job.NextRun(now)
				continue
			}
		}
		if !cs.nextRun.Before(cutoff) {
			continue
		}
		jobID := cs.job.JobID
		if jobID == "" && !cs.job.NotUnique {
			jobID = fmt.Sprintf("%s:%d", cs.job.Name, arqcompat.TimestampMS(cs.nextRun))
		}
		if err := m.enqueueCron(ctx, cs.job.Name, jobID, cs.nextRun); err != nil {
			return fmt.Errorf("enqueueing cron job %s: %w", cs.job.Name, err)
		}
		cs.nextRun = cs.job.NextRun(cs.nextRun)
	}
	return nil
}

// enqueueCron is the enqueue_job call of arq's run_cron: the job without
// arguments, deferred until at when that is later than now, its key's TTL
// the deferral plus expires_extra_ms; an id already taken (another worker
// enqueued this tick) writes nothing. jobID "" gets a uuid4().hex.
func (m *maintenance) enqueueCron(ctx context.Context, function, jobID string, at time.Time) error {
	w := m.w
	if jobID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
		jobID = hex.EncodeToString(b[:])
	}
	nowMS := arqcompat.TimestampMS(time.Now())
	score := nowMS
	if atMS := arqcompat.TimestampMS(at); atMS > nowMS {
		score = atMS
	}
	extraMS := int64(arqredis.ExpiresExtraMS)
	if w.s.ExpiresExtra > 0 {
		extraMS = arqcompat.DurationMS(w.s.ExpiresExtra)
	}
	data, err := arqcompat.EncodeJob(w.s.Serializer, arqcompat.JobRecord{Function: function, EnqueueTimeMS: nowMS})
	if err != nil {
		return err
	}
	_, err = w.store.EnqueueOne(ctx, arqredis.Enqueue{JobID: jobID, Queue: w.s.QueueName, Score: score, ExpiresMS: score - nowMS + extraMS, Data: data})
	return err
}
