package arqcompat

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is the pickle opcode machine: it runs a pickle's opcodes
// (protocols 0-5) over a stack and a memo and yields raw values; the model
// conversion is in pickle_model.go. It replaces gopickle on the decode path
// for three measured reasons: gopickle's NewUnpickler allocates a 384-slot
// memo map per call (65% of all bytes a worker allocates per job, 7% of its
// CPU at 17,000 jobs/s); it allocates a declared length before reading it,
// so hostile lengths needed a pre-scan; and it panics on unhashable set
// members and misreads protocol 0's raw-unicode-escape strings. gopickle
// remains the differential oracle of the fuzz tests (fuzz_test.go).
//
// The unpickler works on the byte slice, never allocates more than the
// payload can hold, resolves every global to an inert name, and builds raw
// containers that the bounded conversion pass (budget.conv) turns into the
// model.

// The raw containers record whether more than one place refers to them
// (a memo fetch or DUP): the conversion pass converts one that is not
// shared in place, and copies one that is, so that every reference gets
// its own value, counted against the limits each time.
type rawList struct {
	items  []any
	shared bool
}
type rawDict struct {
	items  []Item
	shared bool
	out    Dict // the Dict it becomes when not shared: one allocation for both
}
type rawSet struct {
	items  []any
	shared bool
}

// markShared notes that a raw container is referred to once more.
func markShared(v any) {
	switch x := v.(type) {
	case *rawList:
		x.shared = true
	case *rawDict:
		x.shared = true
	case *rawSet:
		x.shared = true
	case *pyCall:
		x.shared = true
	}
}

type unpickler struct {
	data  []byte
	text  string // data as one string, for payloads up to sharedTextMax: str values are slices of it
	pos   int
	stack []any
	marks []int
	memo  []any
	memoM map[uint64]any // sparse indexes, rare

	// Chunks the raw containers and their items are cut from (see
	// take): one allocation for many, which for a typical record is most
	// of what decoding allocates.
	dicts   pool[rawDict]
	lists   reuse[rawList]
	sets    reuse[rawSet]
	calls   reuse[pyCall]
	classes reuse[pyClass]
	anys    []any
	items   []Item
	// the lengths of the last chunks of anys and items
	anysNext, itemsNext int
}

// pool is a chunk of values for take, and the length of the next chunk.
type pool[T any] struct {
	free []T
	next int
}

// chunkLen is the most values a chunk holds: few enough that a value a
// handler keeps alive keeps little else alive with it.
const chunkLen = 32

// room is how many more opcodes the payload can hold from here on, plus
// one: every raw container takes an opcode of at least one byte, so a
// chunk of room values never exceeds what the payload can make.
func (u *unpickler) room() int { return len(u.data) - u.pos + 1 }

// take returns a zero T cut from p's chunk. A new chunk is twice as long
// as the last, from 2 up to chunkLen values, so that a small payload
// allocates little more than it uses, and never more than limit, the
// most values the payload can still make (u.room() for raw containers).
func take[T any](p *pool[T], limit int) *T {
	if len(p.free) == 0 {
		p.next = min(max(2*p.next, 2), chunkLen)
		p.free = make([]T, max(min(p.next, limit), 1))
	}
	v := &p.free[0]
	p.free = p.free[1:]
	return v
}

// reuse is a pool whose chunks are kept after a decode, to be handed out
// again by the next one (see scratch): for the raw values no decoded
// value refers to (calls, classes, lists and sets, whose items it takes).
type reuse[T any] struct {
	chunks [][]T
	c, i   int // the chunk and the index in it of the next value
}

// take is the take function for a reuse.
func (r *reuse[T]) take(limit int) *T {
	for r.c < len(r.chunks) {
		if ch := r.chunks[r.c]; r.i < len(ch) {
			r.i++
			return &ch[r.i-1]
		}
		r.c, r.i = r.c+1, 0
	}
	n := 2
	if k := len(r.chunks); k > 0 {
		n = min(2*len(r.chunks[k-1]), chunkLen)
	}
	r.chunks = append(r.chunks, make([]T, max(min(n, limit), 1)))
	r.c, r.i = len(r.chunks)-1, 1
	return &r.chunks[r.c][0]
}

// reset zeroes the values handed out, for the next decode. It reports
// whether the chunks are worth keeping: at most scratchMax values.
func (r *reuse[T]) reset() bool {
	total := 0
	for k, ch := range r.chunks {
		total += len(ch)
		if k <= r.c {
			clear(ch)
		}
	}
	r.c, r.i = 0, 0
	return total <= scratchMax
}

// anySlice returns an empty slice with room for n values, cut from a
// chunk when n is small. Its capacity is exactly n, so that appending to
// it never writes into the chunk.
func (u *unpickler) anySlice(n int) []any {
	if n > chunkLen/2 {
		return make([]any, 0, n)
	}
	if len(u.anys) < n {
		u.anysNext = min(max(2*u.anysNext, 8), 2*chunkLen)
		u.anys = make([]any, max(n, min(u.anysNext, u.room())))
	}
	s := u.anys[:0:n]
	u.anys = u.anys[n:]
	return s
}

// itemSlice is anySlice for dict items.
func (u *unpickler) itemSlice(n int) []Item {
	if n > chunkLen {
		return make([]Item, 0, n)
	}
	if len(u.items) < n { // an item takes two opcodes at least
		u.itemsNext = min(max(2*u.itemsNext, 8), chunkLen)
		u.items = make([]Item, max(n, min(u.itemsNext, u.room()/2)))
	}
	s := u.items[:0:n]
	u.items = u.items[n:]
	return s
}

func (u *unpickler) errf(f string, a ...any) error {
	return malformed("pickle", "%s at offset %d", fmt.Sprintf(f, a...), u.pos)
}

func (u *unpickler) need(n uint64) error {
	if n > uint64(len(u.data)-u.pos) {
		return u.errf("length %d runs past the end of the %d-byte payload", n, len(u.data))
	}
	return nil
}

func (u *unpickler) read(n uint64) ([]byte, error) {
	if err := u.need(n); err != nil {
		return nil, err
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

func (u *unpickler) uint(width int) (uint64, error) {
	b, err := u.read(uint64(width))
	if err != nil {
		return 0, err
	}
	switch width {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", u.errf("unterminated line")
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

// sharedTextMax is the largest payload whose str values share one copy of
// it: one allocation instead of one for each str, and at most this many
// bytes kept alive by a str a handler holds on to.
const sharedTextMax = 64 << 10

// str returns b, a slice of the payload just read, as a string.
func (u *unpickler) str(b []byte) string {
	if len(u.data) > sharedTextMax || len(b) == 0 {
		return string(b)
	}
	if u.text == "" {
		u.text = string(u.data)
	}
	end := u.pos // b ends where reading stopped
	return u.text[end-len(b) : end]
}

// emptyTuple is EMPTY_TUPLE's value, boxed once: tuples are never changed
// in place.
var emptyTuple any = Tuple{}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, u.errf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, u.errf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items above the last mark (a copy) and drops the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errf("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append(u.anySlice(len(u.stack)-m), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

// popMarkView is popMark without the copy: the items stay in the stack's
// array, valid until the next push. For opcodes that copy them right away
// (APPENDS, SETITEMS, ADDITEMS).
func (u *unpickler) popMarkView() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errf("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := u.stack[m:]
	u.stack = u.stack[:m]
	return items, nil
}

// The memo is a dense slice for indexes 0..n-1, the way CPython writes
// them, and a map for any other index; every key lives in exactly one of
// the two, so memoLen is Python's len(memo), which MEMOIZE uses.
func (u *unpickler) memoLen() uint64 { return uint64(len(u.memo) + len(u.memoM)) }

func (u *unpickler) put(i uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	switch {
	case i < uint64(len(u.memo)):
		u.memo[i] = v
	case i == uint64(len(u.memo)):
		delete(u.memoM, i)
		u.memo = append(u.memo, v)
		for { // absorb sparse keys that are now dense
			next := uint64(len(u.memo))
			w, ok := u.memoM[next]
			if !ok {
				break
			}
			delete(u.memoM, next)
			u.memo = append(u.memo, w)
		}
	default:
		if u.memoM == nil {
			u.memoM = map[uint64]any{}
		}
		if len(u.memoM) > len(u.data) {
			return u.errf("memo overflow")
		}
		u.memoM[i] = v
	}
	return nil
}

func (u *unpickler) get(i uint64) error {
	if i < uint64(len(u.memo)) {
		markShared(u.memo[i])
		u.push(u.memo[i])
		return nil
	}
	if v, ok := u.memoM[i]; ok {
		markShared(v)
		u.push(v)
		return nil
	}
	return u.errf("memo key %d not found", i)
}

func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var x uint64
		for i := len(b) - 1; i >= 0; i-- {
			x = x<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return int64(x<<shift) >> shift // sign-extend
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	n := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return normalizeInt(n)
}

func parseIntLine(s string) (any, error) {
	s = strings.TrimSuffix(s, "L")
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if len(s) > 4300 {
		return nil, overLimit("pickle", "integer of %d digits", len(s))
	}
	n, ok := new(big.Int).SetString(s, 0)
	if !ok {
		return nil, malformed("pickle", "invalid integer %q", s)
	}
	return normalizeInt(n), nil
}

// rawUnicodeEscape decodes protocol 0's UNICODE argument.
func rawUnicodeEscape(s string) (string, error) {
	if !strings.Contains(s, `\u`) && !strings.Contains(s, `\U`) {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteRune(rune(s[i]))
		}
		return b.String(), nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(s) {
				return "", malformed("pickle", "truncated \\u escape")
			}
			r, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32)
			if err != nil {
				return "", malformed("pickle", "invalid \\u escape")
			}
			b.WriteRune(rune(r))
			i += 1 + n
			continue
		}
		b.WriteRune(rune(c))
	}
	return b.String(), nil
}

func pyStringLine(s string) (string, error) {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		q := s[1 : len(s)-1]
		if s[0] == '\'' {
			q = strings.ReplaceAll(strings.ReplaceAll(q, `\'`, `'`), `"`, `\"`)
		}
		out, err := strconv.Unquote(`"` + q + `"`)
		if err == nil {
			return out, nil
		}
	}
	return "", malformed("pickle", "the STRING opcode argument must be quoted")
}

// lengthWidth is the width in bytes of the length (or value) that follows
// an opcode. A switch, not a map literal: map literals in load would sit in
// its stack frame and make every decoding goroutine grow its stack.
func lengthWidth(op byte) int {
	switch op {
	case 'K', 'C', 0x8c:
		return 1
	case 'M':
		return 2
	case 'X', 'B':
		return 4
	}
	return 8 // 0x8d, 0x8e, 0x96
}

func (u *unpickler) load() (any, error) {
	for u.pos < len(u.data) {
		op := u.data[u.pos]
		u.pos++
		var err error
		switch op {
		case 0x80: // PROTO
			_, err = u.uint(1)
		case 0x95: // FRAME: a length prefix of the opcodes that follow
			var n uint64
			if n, err = u.uint(8); err == nil {
				err = u.need(n)
			}
		case '.': // STOP
			if len(u.marks) > 0 {
				return nil, u.errf("STOP inside a MARK")
			}
			return u.pop()
		case 'N':
			u.push(nil)
		case 0x88:
			u.push(true)
		case 0x89:
			u.push(false)
		case 'J':
			var n uint64
			if n, err = u.uint(4); err == nil {
				u.push(int64(int32(uint32(n))))
			}
		case 'K', 'M':
			var n uint64
			if n, err = u.uint(lengthWidth(op)); err == nil {
				u.push(int64(n))
			}
		case 'G':
			var b []byte
			if b, err = u.read(8); err == nil {
				u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
			}
		case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
			width := lengthWidth(op)
			var n uint64
			var b []byte
			if n, err = u.uint(width); err == nil {
				if b, err = u.read(n); err == nil {
					if !utf8.Valid(b) { // CPython: UnicodeDecodeError
						return nil, u.errf("str of %d bytes is not valid UTF-8", len(b))
					}
					u.push(u.str(b))
				}
			}
		case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
			width := lengthWidth(op)
			var n uint64
			var b []byte
			if n, err = u.uint(width); err == nil {
				if b, err = u.read(n); err == nil {
					c := append([]byte{}, b...)
					if op == 0x96 {
						u.push(ByteArray(c))
					} else {
						u.push(c)
					}
				}
			}
		case ')':
			u.push(emptyTuple)
		case 0x85, 0x86, 0x87:
			n := int(op-0x85) + 1
			if len(u.stack) < n || (len(u.marks) > 0 && len(u.stack)-n < u.marks[len(u.marks)-1]) {
				return nil, u.errf("stack underflow")
			}
			t := Tuple(append(u.anySlice(n), u.stack[len(u.stack)-n:]...))
			u.stack = u.stack[:len(u.stack)-n]
			u.push(t)
		case 't':
			var items []any
			if items, err = u.popMark(); err == nil {
				u.push(Tuple(items))
			}
		case ']':
			u.push(u.lists.take(u.room()))
		case 'l':
			var items []any
			if items, err = u.popMark(); err == nil {
				l := u.lists.take(u.room())
				l.items = items
				u.push(l)
			}
		case '}':
			u.push(take(&u.dicts, u.room()))
		case 'd':
			var items []any
			if items, err = u.popMark(); err == nil {
				err = u.dictFrom(items)
			}
		case 0x8f:
			u.push(u.sets.take(u.room()))
		case 0x91:
			var items []any
			if items, err = u.popMark(); err == nil {
				u.push(FrozenSet(items)) // members converted and deduplicated later
			}
		case 'a':
			var v any
			if v, err = u.pop(); err == nil {
				err = u.appendTo([]any{v})
			}
		case 'e':
			var items []any
			if items, err = u.popMarkView(); err == nil {
				err = u.appendTo(items)
			}
		case 's':
			var k, v any
			if v, err = u.pop(); err == nil {
				if k, err = u.pop(); err == nil {
					err = u.setItems([]any{k, v})
				}
			}
		case 'u':
			var items []any
			if items, err = u.popMarkView(); err == nil {
				err = u.setItems(items)
			}
		case 0x90:
			var items []any
			if items, err = u.popMarkView(); err == nil {
				var t any
				if t, err = u.top(); err == nil {
					s, ok := t.(*rawSet)
					if !ok {
						return nil, u.errf("ADDITEMS on a %T", t)
					}
					if s.items == nil {
						s.items = u.anySlice(len(items))
					}
					s.items = append(s.items, items...)
				}
			}
		case '(':
			u.marks = append(u.marks, len(u.stack))
		case 'q', 'r', 'h', 'j':
			width := 1
			if op == 'r' || op == 'j' {
				width = 4
			}
			var i uint64
			if i, err = u.uint(width); err == nil {
				if op == 'q' || op == 'r' {
					err = u.put(i)
				} else {
					err = u.get(i)
				}
			}
		case 0x94: // MEMOIZE
			err = u.put(u.memoLen())
		case 0x93: // STACK_GLOBAL
			var n, m any
			if n, err = u.pop(); err == nil {
				if m, err = u.pop(); err == nil {
					ms, ok1 := m.(string)
					ns, ok2 := n.(string)
					if !ok1 || !ok2 {
						return nil, u.errf("STACK_GLOBAL needs two str")
					}
					u.push(u.global(ms, ns))
				}
			}
		case 'R', 0x81: // REDUCE, NEWOBJ
			var args, callable any
			if args, err = u.pop(); err == nil {
				if callable, err = u.pop(); err == nil {
					err = u.call(callable, args, op == 0x81)
				}
			}
		default:
			var done bool
			var v any
			if done, v, err = u.cold(op); done {
				return v, err
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, malformed("pickle", "no STOP opcode: the payload is truncated")
}

// cold decodes the opcodes arq's records rarely or never hold (protocol 0
// text opcodes, objects, memo by text index, ...), out of load so that
// load's stack frame stays small: every job is decoded on a fresh
// goroutine, and a big frame makes each one grow its stack. done reports
// that decoding ended, with v and err as load's result.
//
//go:noinline
func (u *unpickler) cold(op byte) (done bool, v any, err error) {
	fail := func(err error) (bool, any, error) { return true, nil, err }
	switch op {
	case 'I':
		var s string
		if s, err = u.line(); err == nil {
			switch s {
			case "01":
				u.push(true)
			case "00":
				u.push(false)
			default:
				var v any
				if strings.HasSuffix(s, "L") {
					err = u.errf("invalid INT %q", s)
				} else if v, err = parseIntLine(s); err == nil {
					u.push(v)
				}
			}
		}
	case 'L':
		var s string
		if s, err = u.line(); err == nil {
			var v any
			if v, err = parseIntLine(s); err == nil {
				u.push(v)
			}
		}
	case 0x8a, 0x8b: // LONG1, LONG4
		width := 1
		if op == 0x8b {
			width = 4
		}
		var n uint64
		if n, err = u.uint(width); err == nil {
			if op == 0x8b && int32(uint32(n)) < 0 {
				return fail(u.errf("negative LONG4 length"))
			}
			var b []byte
			if b, err = u.read(n); err == nil {
				u.push(decodeLong(b))
			}
		}
	case 'F':
		var s string
		if s, err = u.line(); err == nil {
			var f float64
			if f, err = strconv.ParseFloat(s, 64); err != nil {
				err = u.errf("invalid float %q", s)
			} else {
				u.push(f)
			}
		}
	case 'S':
		var s string
		if s, err = u.line(); err == nil {
			if s, err = pyStringLine(s); err == nil {
				u.push(s)
			}
		}
	case 'T', 'U': // BINSTRING, SHORT_BINSTRING: Python 2 str, read as str
		width := 4
		if op == 'U' {
			width = 1
		}
		var n uint64
		var b []byte
		if n, err = u.uint(width); err == nil {
			if b, err = u.read(n); err == nil {
				u.push(string(b))
			}
		}
	case 'V':
		var s string
		if s, err = u.line(); err == nil {
			if s, err = rawUnicodeEscape(s); err == nil {
				u.push(s)
			}
		}
	case '0':
		if len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1] {
			u.marks = u.marks[:len(u.marks)-1] // POP of a mark
		} else {
			_, err = u.pop()
		}
	case '1':
		_, err = u.popMark()
	case '2':
		var v any
		if v, err = u.top(); err == nil {
			markShared(v)
			u.push(v)
		}
	case 'p', 'g':
		var s string
		if s, err = u.line(); err == nil {
			var i uint64
			if i, err = strconv.ParseUint(s, 10, 63); err != nil {
				err = u.errf("invalid memo index %q", s)
			} else if op == 'p' {
				err = u.put(i)
			} else {
				err = u.get(i)
			}
		}
	case 'c':
		var mod, name string
		if mod, err = u.line(); err == nil {
			if name, err = u.line(); err == nil {
				u.push(u.global(mod, name))
			}
		}
	case 0x92: // NEWOBJ_EX
		var kw, args, cls any
		if kw, err = u.pop(); err == nil {
			if args, err = u.pop(); err == nil {
				if cls, err = u.pop(); err == nil {
					if err = u.call(cls, args, true); err == nil {
						d, ok := kw.(*rawDict)
						if !ok {
							return fail(u.errf("NEWOBJ_EX kwargs must be a dict"))
						}
						u.stack[len(u.stack)-1].(*pyCall).extra().kwargs = d
					}
				}
			}
		}
	case 'i': // INST
		var mod, name string
		var items []any
		if mod, err = u.line(); err == nil {
			if name, err = u.line(); err == nil {
				if items, err = u.popMark(); err == nil {
					u.push(&pyCall{cls: u.global(mod, name).g, args: items})
				}
			}
		}
	case 'o': // OBJ
		var items []any
		if items, err = u.popMark(); err == nil {
			if len(items) == 0 {
				return fail(u.errf("OBJ without a class"))
			}
			cls, ok := items[0].(*pyClass)
			if !ok {
				return fail(u.errf("OBJ of a %T", items[0]))
			}
			u.push(&pyCall{cls: cls.g, args: items[1:]})
		}
	case 'b': // BUILD
		var state, inst any
		if state, err = u.pop(); err == nil {
			if inst, err = u.top(); err == nil {
				p, ok := inst.(*pyCall)
				if !ok {
					return fail(u.errf("BUILD on a %T", inst))
				}
				p.state, p.hasState = state, true
			}
		}
	case 'P', 'Q', 0x82, 0x83, 0x84:
		return fail(u.errf("persistent ids and the extension registry are not supported (opcode 0x%02x)", op))
	case 0x97, 0x98:
		return fail(u.errf("out-of-band buffers are not supported (opcode 0x%02x)", op))
	default:
		return fail(u.errf("unknown opcode 0x%02x", op))
	}
	return false, nil, err
}

func (u *unpickler) global(module, name string) *pyClass {
	if m, ok := py2Modules[module]; ok {
		module = m
	}
	c := u.classes.take(u.room())
	c.g = Global{module, name}
	return c
}

func (u *unpickler) call(callable, args any, newobj bool) error {
	cls, ok := callable.(*pyClass)
	if !ok {
		return u.errf("cannot call a %T", callable)
	}
	t, ok := args.(Tuple)
	if !ok {
		return u.errf("call arguments must be a tuple, not %T", args)
	}
	if cls.g == (Global{"builtins", "getattr"}) && !newobj && len(t) == 2 {
		// getattr(cls, 'name'), how pickle writes a classmethod such as
		// zoneinfo.ZoneInfo._unpickle: the dotted name, still inert
		owner, ok1 := t[0].(*pyClass)
		attr, ok2 := t[1].(string)
		if ok1 && ok2 && len(owner.g.Name)+len(attr) < 256 {
			c := u.classes.take(u.room())
			c.g = Global{owner.g.Module, owner.g.Name + "." + attr}
			u.push(c)
			return nil
		}
	}
	p := u.calls.take(u.room())
	p.cls, p.args, p.newobj = cls.g, t, newobj
	u.push(p)
	return nil
}

func (u *unpickler) dictFrom(items []any) error {
	if len(items)%2 != 0 {
		return u.errf("odd number of dict items")
	}
	d := take(&u.dicts, u.room())
	d.items = u.itemSlice(len(items) / 2)
	for i := 0; i < len(items); i += 2 {
		d.items = append(d.items, Item{items[i], items[i+1]})
	}
	u.push(d)
	return nil
}

func (u *unpickler) appendTo(items []any) error {
	t, err := u.top()
	if err != nil {
		return err
	}
	switch x := t.(type) {
	case *rawList:
		if x.items == nil {
			x.items = u.anySlice(len(items))
		}
		x.items = append(x.items, items...)
	case *pyCall:
		m := x.extra()
		m.listItems = append(m.listItems, items...)
	default:
		return u.errf("APPEND to a %T", t)
	}
	return nil
}

func (u *unpickler) setItems(items []any) error {
	if len(items)%2 != 0 {
		return u.errf("odd number of dict items")
	}
	t, err := u.top()
	if err != nil {
		return err
	}
	if d, ok := t.(*rawDict); ok {
		if d.items == nil {
			d.items = u.itemSlice(len(items) / 2)
		} else {
			d.items = slices.Grow(d.items, len(items)/2)
		}
	}
	for i := 0; i < len(items); i += 2 {
		switch x := t.(type) {
		case *rawDict:
			x.items = append(x.items, Item{items[i], items[i+1]})
		case *pyCall:
			m := x.extra()
			m.dictItems = append(m.dictItems, Item{items[i], items[i+1]})
		default:
			return u.errf("SETITEM on a %T", t)
		}
	}
	return nil
}
