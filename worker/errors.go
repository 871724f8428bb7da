package worker

import (
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

// panicError carries a recovered panic.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }
