// Part: the shutdown. Stop, signals (with HandleSignals) and a cancelled
// Run context end the worker the same way (handleSignal): with arq's log
// lines, pausing the claimer while running jobs may complete
// (JobCompletionWait), then marking the worker stopped and cancelling the
// running jobs through the executor. It owns whether the worker is
// stopped; start watches the signals and the context until then.

package worker

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Stop shuts the worker down as a cancelled Run context or a signal does:
// no more jobs are claimed, running jobs are cancelled (after
// JobCompletionWait) and left queued to run again, and Run returns once
// they have. It does not wait; calling it again, or before Run (which then
// returns at once), is harmless.
func (w *Worker) Stop() { w.handleSignal("Stop") }

func sigName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// shutdown is the worker's shutdown part (see the file's comment).
type shutdown struct {
	once sync.Once
	done chan struct{} // closed once the worker is stopped
}

func newShutdown() *shutdown { return &shutdown{done: make(chan struct{})} }

// start watches ctx and, with signals, SIGINT and SIGTERM, until the
// worker is stopped; the first to come shuts the worker down (handle).
// The returned function stops watching the signals.
func (sd *shutdown) start(ctx context.Context, signals bool, handle func(sig string)) (stop func()) {
	stop = func() {}
	if signals {
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		stop = func() { signal.Stop(sigs) }
		go func() {
			select {
			case sig := <-sigs:
				handle(sigName(sig))
			case <-sd.done:
			}
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			handle("context cancellation")
		case <-sd.done:
		}
	}()
	return stop
}

// stop marks the worker stopped: no more claims, and a job that begins
// from now on cancels itself. It ends start's goroutines.
func (sd *shutdown) stop() { sd.once.Do(func() { close(sd.done) }) }

// stopped reports whether the worker is stopped.
func (sd *shutdown) stopped() bool {
	select {
	case <-sd.done:
		return true
	default:
		return false
	}
}

// C is closed once the worker is stopped.
func (sd *shutdown) C() <-chan struct{} { return sd.done }

func (w *Worker) isStopped() bool { return w.shut.stopped() }

// handleSignal is arq's handle_sig, or with JobCompletionWait its
// handle_sig_wait_for_completion.
func (w *Worker) handleSignal(sig string) {
	if w.isStopped() {
		return
	}
	st := w.Stats()
	if w.s.JobCompletionWait <= 0 {
		w.log.Info(fmt.Sprintf("shutdown on %s ◆ %d jobs complete ◆ %d failed ◆ %d retries ◆ %d ongoing to cancel",
			sig, st.Complete, st.Failed, st.Retried, st.Ongoing), "signal", sig)
		// stopped first: a job registering after cancelRunning's sweep
		// sees it and cancels itself (begin)
		w.shut.stop()
		w.exec.cancelAll(errShutdown)
		return
	}
	w.claim.pause()
	w.log.Info("Setting allow_pick_jobs to `False`")
	w.log.Info(fmt.Sprintf("shutdown on %s ◆ %d jobs complete ◆ %d failed ◆ %d retries ◆ %d to be completed",
		sig, st.Complete, st.Failed, st.Retried, st.Ongoing), "signal", sig)
	go func() {
		deadline := time.NewTimer(w.s.JobCompletionWait)
		defer deadline.Stop()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
	wait:
		for w.Stats().Ongoing > 0 {
			select {
			case <-deadline.C:
				break wait
			case <-tick.C:
			case <-w.shut.C():
				return
			}
		}
		st := w.Stats()
		w.log.Info(fmt.Sprintf("shutdown on %s, wait complete ◆ %d jobs complete ◆ %d failed ◆ %d retries ◆ %d ongoing to cancel",
			sig, st.Complete, st.Failed, st.Retried, st.Ongoing), "signal", sig)
		w.shut.stop()
		w.exec.cancelAll(errShutdown)
	}()
}
