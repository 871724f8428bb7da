package arqcompat

import (
	"errors"
	"fmt"
)

// Limits bound what a decoder accepts, so that hostile or broken bytes in
// Redis cannot exhaust a worker. A zero field takes its default.
type Limits struct {
	// MaxBytes is the largest payload decoded (default 64 MiB).
	MaxBytes int
	// MaxDepth is the deepest nesting of containers (default 512).
	MaxDepth int
	// MaxItems is the most values a payload may expand to, counting shared
	// references each time they appear (default 4,000,000).
	MaxItems int
}

// defaultLimits are the limits used when none are configured.
var defaultLimits = Limits{MaxBytes: 64 << 20, MaxDepth: 512, MaxItems: 4_000_000}

func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultLimits.MaxDepth
	}
	if l.MaxItems <= 0 {
		l.MaxItems = defaultLimits.MaxItems
	}
	return l
}

// ErrLimit is matched (errors.Is) by every error caused by a decoding limit.
var ErrLimit = errors.New("decoding limit exceeded")

// ErrMalformed is matched (errors.Is) by every error caused by bytes that are
// not a valid payload for the serializer.
var ErrMalformed = errors.New("malformed payload")

// DecodeError is returned by every decoder.
type DecodeError struct {
	Format string // "pickle", "json", "msgpack"
	Reason string
	Kind   error // ErrLimit or ErrMalformed
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("arqcompat: %s: %s", e.Format, e.Reason)
}

func (e *DecodeError) Unwrap() error { return e.Kind }

func malformed(format, f string, a ...any) error {
	return &DecodeError{Format: format, Reason: fmt.Sprintf(f, a...), Kind: ErrMalformed}
}

func overLimit(format, f string, a ...any) error {
	return &DecodeError{Format: format, Reason: fmt.Sprintf(f, a...), Kind: ErrLimit}
}

// budget counts decoded values against the limits.
type budget struct {
	format string
	lim    Limits
	items  int
}

func (b *budget) enter(depth int) error {
	if depth > b.lim.MaxDepth {
		return overLimit(b.format, "nesting deeper than %d", b.lim.MaxDepth)
	}
	b.items++
	if b.items > b.lim.MaxItems {
		return overLimit(b.format, "more than %d values", b.lim.MaxItems)
	}
	return nil
}
