package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

// goarq workers lists a running goarq worker and the health-check line,
// as text and as JSON; after the worker stops, none.
func TestWorkersListsLiveGoWorkers(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	w, err := worker.New(worker.Settings{Functions: []worker.Function{worker.Func("resize", func(ctx context.Context) {}, worker.WithMaxConcurrency(2))},
		OnlyOwnFunctions: true, RedisClient: c.Redis(), MaxJobs: 3, PollDelay: 5 * time.Millisecond, HealthCheckInterval: time.Second,
		Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	for end := time.Now().Add(5 * time.Second); len(e.mr.Keys()) < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("no worker record and health check")
		}
	}
	code, out, errs := e.goarq("workers")
	// the counts say how old they are
	if !regexpMatch(`COUNTS AS OF`, out) || !regexpMatch(`\d+(\.\d+)?m?s ago +\d+(\.\d+)?m?s ago +0/3`, out) ||
		!strings.Contains(out, "rewrites its record every 5s") {
		t.Errorf("workers does not say how fresh the counts are: %q", out)
	}
	if code != 0 || !strings.Contains(out, w.ID()) || !strings.Contains(out, "resize(max 2) (only these)") || !strings.Contains(out, "0/3") ||
		!strings.Contains(out, "health: ") || !strings.Contains(out, "j_complete=0") {
		t.Errorf("workers: %d %q %q", code, out, errs)
	}
	m := e.jsonOut("workers")
	ws, _ := m["workers"].([]any)
	if len(ws) != 1 || m["queue"] != "arq:queue" || !strings.Contains(m["health"].(string), "j_complete=0") {
		t.Fatalf("workers --json: %v", m)
	}
	rec := ws[0].(map[string]any)
	if rec["id"] != w.ID() || rec["max_jobs"] != 3.0 || rec["only_own_functions"] != true || rec["pid"] == 0.0 {
		t.Errorf("record %v", rec)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	if code, out, _ := e.goarq("workers"); code != 0 || !strings.Contains(out, "no live goarq workers") || !strings.Contains(out, "no worker health check found") {
		t.Errorf("after stop: %d %q", code, out)
	}
}
