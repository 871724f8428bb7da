package worker

import (
	"testing"
	"time"
)

// Herd control's rule for being beaten to a job: a ready job in progress
// that the worker had not seen before and does not run itself, whether or
// not the worker runs other jobs. Its own jobs, jobs it saw running
// already (a Python worker's long job) and an empty queue leave the delay
// alone; a win halves it.
func TestHerdDelayFollowsWhoTakesTheJobs(t *testing.T) {
	w := &Worker{slots: newSlots(1, 0)}
	w.slots.settle(w.slots.reserve(1, nil), nil, []string{"own"}) // the worker holds job "own"
	c := &claimer{w: w}
	delay := func() time.Duration { return time.Duration(c.herdDelay.Load()) }

	c.herdSaw(nil)
	c.herdSaw([]string{"own"})
	if delay() != 0 {
		t.Fatalf("own job or empty queue: delay %s", delay())
	}
	c.herdSaw([]string{"own", "theirs"})
	if delay() != minHerdDelay {
		t.Fatalf("beaten while running a job of its own: delay %s, want %s", delay(), minHerdDelay)
	}
	c.herdSaw([]string{"theirs"}) // still running: not news
	if delay() != minHerdDelay {
		t.Fatalf("seen before: delay %s", delay())
	}
	for i := 0; i < 10; i++ {
		c.herdSaw([]string{"new" + string(rune('a'+i))})
	}
	if delay() != maxHerdDelay {
		t.Fatalf("beaten again and again: delay %s, want the cap %s", delay(), maxHerdDelay)
	}
	c.herdOutcome(true)
	if delay() != maxHerdDelay/2 {
		t.Fatalf("after a win: delay %s", delay())
	}
}
