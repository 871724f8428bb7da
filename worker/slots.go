// Part: the slots, the worker's one semaphore of MaxJobs.
//
// It alone owns, under its mutex: the jobs that hold a slot (claimed and
// not yet released: arq's tasks, Stats().Ongoing) and their ids; the
// handler tokens (at most MaxJobs handlers run at once); the reservations
// of claims in flight; the slots handed over to a claim that rides on the
// finish transaction of the jobs holding them; the count of jobs started
// (max_burst_jobs); the "a slot freed" signal; and waiting until every job
// has released its slot. Other parts change it only through its methods.
//
// A job's life in slots: a claim reserves slots (reserve), settles the
// reservation with the jobs it took (settle: they hold slots from then
// on), each job takes a handler token before it starts (acquire), and
// releases both once its outcome is written (release).

package worker

import "sync"

// slots is the worker's semaphore (see the file's comment). It is
// hand-written rather than built on a library semaphore (such as
// golang.org/x/sync/semaphore) because what it counts is not only held
// tokens: reservations, slots handed over to a claim riding on a finish
// transaction and the ids held must change together, under one lock.
type slots struct {
	max      int // MaxJobs
	burstMax int // max_burst_jobs; 0: no limit

	mu       sync.Mutex
	cond     sync.Cond      // on mu: a token or a held slot was released
	held     int            // jobs claimed and not yet released (arq's tasks)
	ids      map[string]int // their ids (a count, in case one is claimed again)
	tokens   int            // handlers started and not yet released: at most max
	reserved int            // slots set aside for claims in flight
	// handed counts, per job id, the held jobs whose slots a claim riding
	// on their own finish transaction took over (they are about to
	// release them), and nHanded their sum
	handed  map[string]int
	nHanded int
	started int // jobs claimed in all, for max_burst_jobs

	freed chan struct{} // receives when a slot became free to claim
}

func newSlots(max, burstMax int) *slots {
	s := &slots{max: max, burstMax: burstMax, ids: map[string]int{}, handed: map[string]int{}, freed: make(chan struct{}, 1)}
	s.cond.L = &s.mu
	return s
}

// free counts the slots a claim may take now: MaxJobs less the held and
// reserved ones, plus those handed over (their jobs are about to release
// them, and the claim that took them over counts its jobs as held).
func (s *slots) free() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.freeLocked()
}

func (s *slots) freeLocked() int { return s.max - s.held - s.reserved + s.nHanded }

// reserve sets aside the slots of a claim of at most limit jobs and
// returns how many: the free slots, plus those of finishing, the ids of
// the jobs whose finish transaction the claim rides on (their outcome is
// written before the claim runs, and they release their slots once it has
// been answered); no more than max_burst_jobs allows. Claims in flight
// together so never take more jobs than MaxJobs (or max_burst_jobs)
// allows. The claim ends its reservation with settle.
func (s *slots) reserve(limit int, finishing []string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(s.freeLocked()+len(finishing), limit)
	if s.burstMax > 0 {
		n = min(n, s.burstMax-s.started-s.reserved)
	}
	if n <= 0 {
		return 0
	}
	s.reserved += n
	for _, id := range finishing[:min(n, len(finishing))] {
		s.handed[id]++
		s.nHanded++
	}
	return n
}

// settle ends the reservation of a claim: the jobs it took (ids) hold
// slots from now on, and those of finishing (given to its reserve) whose
// slots it did not need get them back, to release as usual. It runs before
// the finishing jobs learn that their outcome is written, so before they
// release their slots. A claim that took nothing settles with no ids.
func (s *slots) settle(reserved int, finishing []string, ids []string) {
	n := len(ids)
	s.mu.Lock()
	s.reserved -= reserved
	s.started += n
	s.held += n
	for _, id := range ids {
		s.ids[id]++
	}
	// the claim's jobs take the free slots it reserved first, then the
	// finishing jobs' slots
	handed := min(reserved, len(finishing))
	for _, id := range finishing[max(0, n-(reserved-handed)):handed] {
		s.unhandLocked(id)
	}
	s.mu.Unlock()
	if n < reserved {
		s.signalFreed()
	}
}

// unhandLocked gives a job back its own slot, to release as usual. It
// reports whether the job's slot had been handed over.
func (s *slots) unhandLocked(id string) bool {
	c := s.handed[id]
	if c == 0 {
		return false
	}
	if c == 1 {
		delete(s.handed, id)
	} else {
		s.handed[id] = c - 1
	}
	s.nHanded--
	return true
}

// acquire takes a handler token for a job that holds a slot (settle). It
// blocks only while a finishing job whose slot was handed over has yet to
// release it, so that no more than MaxJobs handlers ever run at once.
func (s *slots) acquire() {
	s.mu.Lock()
	for s.tokens >= s.max {
		s.cond.Wait()
	}
	s.tokens++
	s.mu.Unlock()
}

// release frees a job's slot and its handler token; called exactly once
// per job that acquired one. A slot handed over to the claim that rode on
// the job's finish transaction is taken already: nobody is told it freed.
func (s *slots) release(id string) {
	s.mu.Lock()
	s.held--
	s.tokens--
	if s.ids[id]--; s.ids[id] <= 0 {
		delete(s.ids, id)
	}
	handed := s.unhandLocked(id)
	s.cond.Broadcast()
	s.mu.Unlock()
	if !handed {
		s.signalFreed()
	}
}

func (s *slots) signalFreed() {
	select {
	case s.freed <- struct{}{}:
	default:
	}
}

// freedC receives when a slot became free to claim.
func (s *slots) freedC() <-chan struct{} { return s.freed }

// holding counts the jobs that hold a slot (Stats().Ongoing).
func (s *slots) holding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// holds reports whether the job id holds a slot here.
func (s *slots) holds(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id] > 0
}

// jobsStarted counts the jobs claimed in all. arq sums complete, failed,
// retried and running tasks, which counts a job twice while it finishes;
// a count taken at the claim is exact.
func (s *slots) jobsStarted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// wait returns once every job that held a slot has released it.
func (s *slots) wait() {
	s.mu.Lock()
	for s.held > 0 {
		s.cond.Wait()
	}
	s.mu.Unlock()
}
