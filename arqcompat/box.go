package arqcompat

import "unsafe"

// This file boxes decoded values in chunks. Converting a string, a float,
// an int of 256 or more, or a slice to an interface allocates a copy of it
// for the interface to point to: for a typical job record (a pydantic
// model of 20 fields and 10 nested models), more than half of what
// decoding allocates. A box hands out interfaces that point into a chunk
// of values instead: one allocation for up to chunkLen of them.
//
// It is the package's one use of unsafe, measured: an interface holding a
// type that is not pointer-shaped is a type word and a pointer to the
// value (the runtime's eface, on which reflect relies too), and boxed sets
// that pointer to a value in the chunk. That is an ordinary interior
// pointer, which keeps the chunk alive for the garbage collector; a value
// is written once, before an interface points to it, and never again, as
// for any boxed value. The types are fixed by the wrappers below, each
// pairing a chunk of T with the type word of T.

type eface struct {
	typ, data unsafe.Pointer
}

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// The type words of the boxed types, read once: facts of the program.
var (
	typeWordString = typeWord("")
	typeWordFloat  = typeWord(float64(0))
	typeWordInt    = typeWord(int64(0))
	typeWordTuple  = typeWord(Tuple(nil))
	typeWordSet    = typeWord(Set(nil))
	typeWordList   = typeWord([]any(nil))
)

// boxed returns v as an interface of type typ, which must be T's type
// word, its value cut from p's chunk (see take).
func boxed[T any](p *pool[T], typ unsafe.Pointer, v T, limit int) any {
	x := take(p, limit)
	*x = v
	var i any
	e := (*eface)(unsafe.Pointer(&i))
	e.typ, e.data = typ, unsafe.Pointer(x)
	return i
}

// boxes are the chunks of one decoding.
type boxes struct {
	strs   pool[string]
	floats pool[float64]
	ints   pool[int64]
	tuples pool[Tuple]
	sets   pool[Set]
	lists  pool[[]any]
}

func (b *boxes) str(s string, limit int) any    { return boxed(&b.strs, typeWordString, s, limit) }
func (b *boxes) float(f float64, limit int) any { return boxed(&b.floats, typeWordFloat, f, limit) }
func (b *boxes) tuple(t Tuple, limit int) any   { return boxed(&b.tuples, typeWordTuple, t, limit) }
func (b *boxes) set(s Set, limit int) any       { return boxed(&b.sets, typeWordSet, s, limit) }
func (b *boxes) list(l []any, limit int) any    { return boxed(&b.lists, typeWordList, l, limit) }

// int boxes n; ints below 256 box without an allocation already.
func (b *boxes) int(n int64, limit int) any {
	if n >= 0 && n < 256 {
		return n
	}
	return boxed(&b.ints, typeWordInt, n, limit)
}
