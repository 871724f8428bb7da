package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// RetryError asks arq to run the job again after Defer (arq's
// Retry(defer=...)), unless max tries is reached. Return it from a handler,
// or use Retry.
type RetryError struct {
	Defer time.Duration
}

func (e *RetryError) Error() string { return fmt.Sprintf("<Retry defer %.2fs>", e.Defer.Seconds()) }

// Retry returns an error that makes the worker retry the job after defer.
func Retry(deferBy time.Duration) error { return &RetryError{Defer: deferBy} }

// PythonError fails the job with a chosen Python exception, e.g.
// PythonError("builtins", "ValueError", "bad input"): Python's job.result()
// raises ValueError('bad input').
func PythonError(module, class string, args ...any) error {
	return arqcompat.NewException(module, class, args...)
}

// exceptionFor turns a handler's error into the Python exception stored in
// the result: an *arqcompat.Exception anywhere in the chain as it is, any
// other error as builtins.Exception whose str() is the error's message.
func exceptionFor(err error) *arqcompat.Exception {
	var exc *arqcompat.Exception
	if errors.As(err, &exc) {
		return exc
	}
	return arqcompat.NewException("builtins", "Exception", err.Error())
}

// The exceptions arq's worker itself puts in results, in one place.

// excJobExecutionFailed is arq.worker.JobExecutionFailed(msg): a job that
// expired, names an unknown function or ran out of tries.
func excJobExecutionFailed(msg string) *arqcompat.Exception {
	return arqcompat.NewException("arq.worker", "JobExecutionFailed", msg)
}

// excDeserialization is arq.jobs.DeserializationError, for a job record
// that cannot be decoded.
func excDeserialization() *arqcompat.Exception {
	return arqcompat.NewException("arq.jobs", "DeserializationError", "unable to deserialize job")
}

// excCancelled is asyncio.CancelledError(), the result of an aborted job.
func excCancelled() *arqcompat.Exception {
	return arqcompat.NewException("asyncio.exceptions", "CancelledError")
}

// excTimeout is TimeoutError(), the result of a job that timed out.
func excTimeout() *arqcompat.Exception { return arqcompat.NewException("builtins", "TimeoutError") }

// excRetry is the arq.worker.Retry a handler raised, as arq stores it with
// retry_jobs off: no args, and its defer_score (ms, or None when the retry
// has no delay) as instance state, which is how pickle carries it.
func excRetry(r *RetryError) *arqcompat.Exception {
	var score any
	if r.Defer != 0 {
		score = arqcompat.DurationMS(r.Defer)
	}
	exc := arqcompat.NewException("arq.worker", "Retry")
	exc.State = arqcompat.NewDict("defer_score", score)
	return exc
}

// cancelledByJob reports an error a handler returned that arq treats as
// "cancelled, will be run again": asyncio.CancelledError or arq's RetryJob
// raised by the job itself, or, the Go way, context.Canceled from a
// context of the handler's own (the worker's cancellations of the job's
// context are told apart before this is asked).
func cancelledByJob(err error) bool {
	var exc *arqcompat.Exception
	if errors.As(err, &exc) {
		return arqcompat.IsCancellation(exc) || exc.Class == arqcompat.Global{Module: "arq.worker", Name: "RetryJob"}
	}
	return errors.Is(err, context.Canceled)
}

// panicError carries a recovered panic.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }
