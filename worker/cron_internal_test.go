package worker

import (
	"context"
	"testing"
	"time"
)

// A CronJob's own settings win; those it leaves zero come from its
// Handler's options; then arq's cron defaults (keep_result=0,
// keep_result_forever=False, max_tries=1, the worker's timeout).
func TestCronJobKeepsItsHandlersSettings(t *testing.T) {
	noop := func(ctx context.Context) {}
	configured := Func("h", noop, WithTimeout(5*time.Second), WithKeepResult(time.Minute), WithKeepResultForever(true), WithMaxTries(3))
	cases := []struct {
		name                string
		job                 CronJob
		timeout, keepResult time.Duration
		forever             bool
		maxTries            int
	}{
		{"handler's", CronJob{Name: "c", Handler: configured}, 5 * time.Second, time.Minute, true, 3},
		{"cron's win", CronJob{Name: "c", Handler: configured, Timeout: time.Second, KeepResult: Zero, MaxTries: 7}, time.Second, Zero, true, 7},
		{"arq's defaults", CronJob{Name: "c", Handler: Func("h", noop)}, 0, Zero, false, 1},
		{"forever on the cron job", CronJob{Name: "c", Handler: Func("h", noop), KeepResultForever: true}, 0, Zero, true, 1},
	}
	for _, c := range cases {
		f, err := c.job.function()
		if err != nil {
			t.Fatal(err)
		}
		if f.Timeout != c.timeout || f.KeepResult != c.keepResult || f.MaxTries != c.maxTries ||
			f.keepResultForever(!c.forever) != c.forever || f.Name != "c" || !f.cron {
			t.Errorf("%s: got timeout %v keep %v forever %v tries %d", c.name, f.Timeout, f.KeepResult, f.keepResultForever(!c.forever), f.MaxTries)
		}
	}
	// the Handler is not changed by its use in a cron job
	if configured.Name != "h" || configured.cron {
		t.Errorf("Handler changed: %+v", configured)
	}
}

// WithKeepResultForever(false) overrides a worker's KeepResultForever, as
// arq's func(keep_result_forever=False); without it the worker's holds.
func TestKeepResultForeverOverridesOnlyWhenSet(t *testing.T) {
	noop := func(ctx context.Context) {}
	if f := Func("f", noop); !f.keepResultForever(true) || f.keepResultForever(false) {
		t.Error("unset: the worker's setting should hold")
	}
	if f := Func("f", noop, WithKeepResultForever(false)); f.keepResultForever(true) {
		t.Error("WithKeepResultForever(false) should win over the worker's true")
	}
	if f := Func("f", noop, WithKeepResultForever(true)); !f.keepResultForever(false) {
		t.Error("WithKeepResultForever(true) should win over the worker's false")
	}
}
