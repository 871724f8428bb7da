// The shutdown: Stop, signals and a cancelled Run context end the
// worker the same way (handleSignal). It owns stopped, stopOnce and stopSig.

package worker

import (
	"fmt"
	"os"
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

func (w *Worker) stop(sig string) {
	w.stopOnce.Do(func() {
		w.stopSig = sig
		close(w.stopped)
	})
}

func (w *Worker) isStopped() bool {
	select {
	case <-w.stopped:
		return true
	default:
		return false
	}
}

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
		w.stop(sig)
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
			case <-w.stopped:
				return
			}
		}
		st := w.Stats()
		w.log.Info(fmt.Sprintf("shutdown on %s, wait complete ◆ %d jobs complete ◆ %d failed ◆ %d retries ◆ %d ongoing to cancel",
			sig, st.Complete, st.Failed, st.Retried, st.Ongoing), "signal", sig)
		w.stop(sig)
		w.exec.cancelAll(errShutdown)
	}()
}
