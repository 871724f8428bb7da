package arqcompat

import (
	"errors"
	"fmt"
	"math"
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
	//
	// Together MaxBytes and MaxItems also bound the bytes a pickle's dict
	// keys and set members hash to, and the bytes its calls copy, counting
	// shared references each time: at most MaxBytes + 16*MaxItems (128 MiB
	// by default). A payload without shared references stays well below
	// that; without the bound, a dict key that is a tuple of 30,000
	// references to one 100 KB string would be 3 GB to hash.
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

// maxExpansion is the bound on the bytes that hashing keys and copying
// strings expand a payload to (see Limits.MaxItems), without overflow.
func (l Limits) maxExpansion() int {
	const most = math.MaxInt / 4
	if l.MaxBytes > most/2 || l.MaxItems > most/32 {
		return most
	}
	return l.MaxBytes + 16*l.MaxItems
}

// budget counts decoded values against the limits.
type budget struct {
	format   string
	lim      Limits
	items    int
	expanded int // bytes hashed for keys and copied, against maxExpansion
	objects  pool[Object]
}

// expand counts n bytes that decoding hashes or copies.
func (b *budget) expand(n int) error {
	max := b.lim.maxExpansion()
	if n > max-b.expanded {
		return b.expansionErr()
	}
	b.expanded += n
	return nil
}

func (b *budget) expansionErr() error {
	return overLimit(b.format, "dict keys, set members and copied strings expand to more than %d bytes (each shared reference counts)",
		b.lim.maxExpansion())
}

// indexKey is the Dict index key of a dict key or set member, its hashing
// counted against maxExpansion. An unhashable key is ErrMalformed.
func (b *budget) indexKey(key any) (any, error) {
	room := b.lim.maxExpansion() - b.expanded
	if room <= 0 {
		return nil, b.expansionErr()
	}
	h, n, err := indexKey(key, room)
	if errors.Is(err, errKeyTooLong) {
		return nil, b.expansionErr()
	}
	if err != nil {
		return nil, malformed(b.format, "%v", err)
	}
	return h, b.expand(n)
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
