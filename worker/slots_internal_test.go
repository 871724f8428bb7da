package worker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Claims in flight together never reserve more than the free slots, no
// more than max handlers hold tokens at once, and wait returns only once
// every job released its slot: many claimers, some riding on the finish
// of jobs they hold (hand-over), under -race.
func TestSlotsInvariantsUnderConcurrentClaims(t *testing.T) {
	const max, claimers, rounds = 4, 8, 300
	s := newSlots(max, 0)
	var handlers, peak atomic.Int64
	var wg sync.WaitGroup
	check := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.held+s.reserved-s.nHanded > max {
			t.Errorf("over-reserved: held %d reserved %d handed %d", s.held, s.reserved, s.nHanded)
		}
		if s.tokens > max {
			t.Errorf("%d tokens, max %d", s.tokens, max)
		}
	}
	run := func(id string) {
		defer wg.Done()
		s.acquire()
		if n := handlers.Add(1); n > peak.Load() {
			peak.Store(n)
		}
		if handlers.Load() > max {
			t.Errorf("%d handlers at once, max %d", handlers.Load(), max)
		}
		handlers.Add(-1)
		s.release(id)
	}
	var next atomic.Int64
	newID := func() string { return fmt.Sprint(next.Add(1)) }
	var claims sync.WaitGroup
	for c := range claimers {
		claims.Add(1)
		go func() {
			defer claims.Done()
			for r := range rounds {
				var finishing []string
				if c%2 == 1 && r%3 == 0 {
					// a finishing job of this claimer's: it holds a slot and
					// releases it after the claim that rides on its finish
					id := newID()
					if s.reserve(1, nil) == 0 {
						continue
					}
					s.settle(1, nil, []string{id})
					s.acquire()
					finishing = []string{id}
				}
				n := s.reserve(1+r%3, finishing)
				check()
				ids := make([]string, n/2+n%2) // take some of what it reserved
				for i := range ids {
					ids[i] = newID()
				}
				s.settle(n, finishing, ids)
				check()
				for _, f := range finishing {
					s.release(f)
				}
				for _, id := range ids {
					wg.Add(1)
					go run(id)
				}
			}
		}()
	}
	claims.Wait()
	done := make(chan struct{})
	go func() { s.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return after every job released")
	}
	wg.Wait()
	if s.holding() != 0 || s.free() != max || len(s.ids) != 0 || len(s.handed) != 0 || s.tokens != 0 {
		t.Fatalf("not back to empty: held %d free %d ids %v handed %v tokens %d", s.holding(), s.free(), s.ids, s.handed, s.tokens)
	}
	if peak.Load() == 0 {
		t.Fatal("no handler ran")
	}
}

// A claim riding on the finish of the only slot's job takes that slot
// over: the new job holds a slot at once (Ongoing counts both) but gets
// its handler token only once the finishing job released it, and that
// release signals no free slot, since the new job took it.
func TestSlotsHandOver(t *testing.T) {
	s := newSlots(1, 0)
	if n := s.reserve(1, nil); n != 1 {
		t.Fatalf("reserved %d of a free slot", n)
	}
	s.settle(1, nil, []string{"a"})
	s.acquire()
	if n := s.reserve(5, nil); n != 0 {
		t.Fatalf("reserved %d with every slot held", n)
	}
	n := s.reserve(5, []string{"a"})
	if n != 1 {
		t.Fatalf("a claim riding on a's finish reserved %d, want a's slot", n)
	}
	s.settle(n, []string{"a"}, []string{"b"})
	if s.holding() != 2 || s.free() != 0 || !s.holds("b") {
		t.Fatalf("after the hand-over: held %d free %d", s.holding(), s.free())
	}
	got := make(chan struct{})
	go func() { s.acquire(); close(got) }()
	select {
	case <-got:
		t.Fatal("b started while a still holds the only token")
	case <-time.After(20 * time.Millisecond):
	}
	s.release("a")
	<-got
	select {
	case <-s.freedC():
		t.Fatal("a's release signalled a free slot that b took over")
	default:
	}
	if s.free() != 0 || s.holds("a") {
		t.Fatalf("free %d after a's release, want 0 (b holds it)", s.free())
	}
	s.release("b")
	select {
	case <-s.freedC():
	default:
		t.Fatal("b's release did not signal a free slot")
	}
	if s.free() != 1 || s.jobsStarted() != 2 {
		t.Fatalf("free %d started %d", s.free(), s.jobsStarted())
	}
}

// A claim that does not need a finishing job's slot gives it back: the
// finishing job's release then frees a slot as usual. Claims in flight
// together reserve no more than MaxJobs, nor than max_burst_jobs.
func TestSlotsUnneededHandOverAndLimits(t *testing.T) {
	s := newSlots(2, 0)
	s.settle(s.reserve(1, nil), nil, []string{"a"})
	s.acquire()
	n := s.reserve(5, []string{"a"}) // a's slot and the free one
	if n != 2 {
		t.Fatalf("reserved %d, want 2", n)
	}
	s.settle(n, []string{"a"}, []string{"b"}) // b took the free slot
	s.acquire()
	for len(s.freed) > 0 {
		<-s.freed
	}
	s.release("a")
	select {
	case <-s.freedC():
	default:
		t.Fatal("a's slot, not needed by the claim, was not signalled free")
	}
	s.release("b")

	two := newSlots(4, 0)
	if a, b := two.reserve(3, nil), two.reserve(3, nil); a != 3 || b != 1 {
		t.Fatalf("two claims in flight reserved %d and %d of 4 slots, want 3 and 1", a, b)
	}

	b := newSlots(10, 3)
	if n := b.reserve(10, nil); n != 3 {
		t.Fatalf("burst: reserved %d, want 3", n)
	}
	if n := b.reserve(10, nil); n != 0 {
		t.Fatalf("burst: a second claim in flight reserved %d, want 0", n)
	}
	b.settle(3, nil, []string{"x"})
	if n := b.reserve(10, nil); n != 2 {
		t.Fatalf("burst: after one started, reserved %d, want 2", n)
	}
}
