package arqcompat

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"time"
	"unicode/utf8"
)

// Pickle encodes a value of the model (or a plain Go value: any integer,
// float, string, slice, map or struct) as pickle protocol 4, the protocol
// CPython 3.8-3.13's pickle.dumps uses by default.
//
// Why a hand-written encoder: gopickle only decodes; og-rek, the maintained
// Go pickle encoder, iterates its Dict in arbitrary order (Python dicts keep
// insertion order, which arq's kwargs and users' dicts rely on) and encodes
// through reflection over its own value types, so every payload would be
// copied into a second tree first. Protocol 4 encoding of the types arq
// carries is a few dozen opcodes, each checked against CPython's
// pickle.loads by the interop suite. Why a hand-written decoder: see
// pickle_machine.go (gopickle's per-call allocation, measured).
func pickleMarshal(v any) ([]byte, error) {
	e := pickleEncoder{buf: make([]byte, 0, 256)}
	e.buf = append(e.buf, 0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0) // PROTO 4, FRAME placeholder
	if err := e.encode(v, 0); err != nil {
		return nil, err
	}
	e.buf = append(e.buf, '.')
	binary.LittleEndian.PutUint64(e.buf[3:11], uint64(len(e.buf)-11))
	return e.buf, nil
}

// EncodeError reports a value that a serializer cannot carry.
type EncodeError struct {
	Format string
	Reason string
}

func (e *EncodeError) Error() string { return "arqcompat: " + e.Format + ": " + e.Reason }

type pickleEncoder struct {
	buf []byte
}

const maxEncodeDepth = 1000

func (e *pickleEncoder) op(b ...byte) { e.buf = append(e.buf, b...) }

func (e *pickleEncoder) u32(n int) {
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(n))
}

func (e *pickleEncoder) str(s string) error {
	if !utf8.ValidString(s) {
		return &EncodeError{"pickle", fmt.Sprintf("string %q is not valid UTF-8 (use []byte for bytes)", s)}
	}
	e.rawStr(s)
	return nil
}

func (e *pickleEncoder) rawStr(s string) {
	switch {
	case len(s) < 256:
		e.op(0x8c, byte(len(s)))
	case len(s) <= math.MaxUint32:
		e.op('X')
		e.u32(len(s))
	default:
		e.op(0x8d)
		e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(len(s)))
	}
	e.buf = append(e.buf, s...)
}

func (e *pickleEncoder) bytes(b []byte) {
	switch {
	case len(b) < 256:
		e.op('C', byte(len(b)))
	case len(b) <= math.MaxUint32:
		e.op('B')
		e.u32(len(b))
	default:
		e.op(0x8e)
		e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(len(b)))
	}
	e.buf = append(e.buf, b...)
}

func (e *pickleEncoder) int64(n int64) {
	switch {
	case n >= 0 && n < 256:
		e.op('K', byte(n))
	case n >= 0 && n < 65536:
		e.op('M', byte(n), byte(n>>8))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		e.op('J')
		e.u32(int(int32(n)))
	default:
		e.bigInt(big.NewInt(n))
	}
}

// bigInt writes LONG1/LONG4: little-endian two's complement, as CPython.
func (e *pickleEncoder) bigInt(n *big.Int) {
	if n.IsInt64() && n.Int64() >= math.MinInt32 && n.Int64() <= math.MaxInt32 {
		e.int64(n.Int64())
		return
	}
	nbytes := n.BitLen()/8 + 1
	var mag *big.Int
	if n.Sign() < 0 {
		mag = new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), uint(nbytes*8)), n)
		// the shortest form: drop a redundant 0xff sign byte
		if nbytes > 1 {
			smaller := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), uint((nbytes-1)*8)), n)
			if smaller.Sign() >= 0 && smaller.Bit((nbytes-1)*8-1) == 1 {
				nbytes--
				mag = smaller
			}
		}
	} else {
		mag = n
	}
	be := mag.FillBytes(make([]byte, nbytes))
	le := make([]byte, nbytes)
	for i := range be {
		le[nbytes-1-i] = be[i]
	}
	if nbytes < 256 {
		e.op(0x8a, byte(nbytes))
	} else {
		e.op(0x8b)
		e.u32(nbytes)
	}
	e.buf = append(e.buf, le...)
}

func (e *pickleEncoder) global(g Global) error {
	if err := e.str(g.Module); err != nil {
		return err
	}
	if err := e.str(g.Name); err != nil {
		return err
	}
	e.op(0x93) // STACK_GLOBAL
	return nil
}

// tuple writes the items and a tuple opcode.
func (e *pickleEncoder) tuple(items []any, depth int) error {
	if len(items) > 3 {
		e.op('(')
	}
	for _, it := range items {
		if err := e.encode(it, depth+1); err != nil {
			return err
		}
	}
	switch len(items) {
	case 0:
		e.op(')')
	case 1:
		e.op(0x85)
	case 2:
		e.op(0x86)
	case 3:
		e.op(0x87)
	default:
		e.op('t')
	}
	return nil
}

// reduce writes cls(*args).
func (e *pickleEncoder) reduce(cls Global, args []any, depth int) error {
	if err := e.global(cls); err != nil {
		return err
	}
	if err := e.tuple(args, depth); err != nil {
		return err
	}
	e.op('R')
	return nil
}

func (e *pickleEncoder) items(open byte, close byte, items []any, depth int) error {
	e.op(open)
	for start := 0; start < len(items); start += 1000 {
		end := min(start+1000, len(items))
		e.op('(')
		for _, it := range items[start:end] {
			if err := e.encode(it, depth+1); err != nil {
				return err
			}
		}
		e.op(close)
	}
	return nil
}

func (e *pickleEncoder) dict(d *Dict, depth int) error {
	e.op('}')
	items := d.Items()
	for start := 0; start < len(items); start += 1000 {
		end := min(start+1000, len(items))
		e.op('(')
		for _, it := range items[start:end] {
			if err := e.encode(it.Key, depth+1); err != nil {
				return err
			}
			if err := e.encode(it.Value, depth+1); err != nil {
				return err
			}
		}
		e.op('u')
	}
	return nil
}

var (
	pyTimezone  = Global{"datetime", "timezone"}
	pyTimedelta = Global{"datetime", "timedelta"}
)

func (e *pickleEncoder) tzinfo(loc *time.Location, at time.Time, depth int) error {
	if key := ianaName(loc); key != "" {
		return e.reduce(Global{"zoneinfo", "ZoneInfo"}, []any{key}, depth)
	}
	_, off := at.In(loc).Zone()
	return e.reduce(pyTimezone, []any{time.Duration(off) * time.Second}, depth)
}

func dtState(t time.Time) []byte {
	us := t.Nanosecond() / 1000
	return []byte{byte(t.Year() >> 8), byte(t.Year()), byte(t.Month()), byte(t.Day()),
		byte(t.Hour()), byte(t.Minute()), byte(t.Second()), byte(us >> 16), byte(us >> 8), byte(us)}
}

func checkYear(y int) error {
	if y < 1 || y > 9999 {
		return &EncodeError{"pickle", fmt.Sprintf("year %d is out of Python's datetime range 1..9999", y)}
	}
	return nil
}

func (e *pickleEncoder) encode(v any, depth int) error {
	if depth > maxEncodeDepth {
		return &EncodeError{"pickle", "value nested deeper than 1000 (a cycle?)"}
	}
	switch x := v.(type) {
	case nil:
		e.op('N')
	case bool:
		if x {
			e.op(0x88)
		} else {
			e.op(0x89)
		}
	case int:
		e.int64(int64(x))
	case int64:
		e.int64(x)
	case float64:
		e.op('G')
		e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(x))
	case string:
		return e.str(x)
	case []byte:
		if x == nil {
			x = []byte{}
		}
		e.bytes(x)
	case Tuple:
		return e.tuple(x, depth)
	case []any:
		return e.items(']', 'e', x, depth)
	case *Dict:
		if x == nil {
			e.op('N')
			return nil
		}
		return e.dict(x, depth)
	default:
		return e.encodeOther(v, depth)
	}
	return nil
}

// encodeOther encodes the types arq records hold less often, out of
// encode so that encode's stack frame, repeated at each level of nesting,
// stays small.
//
//go:noinline
func (e *pickleEncoder) encodeOther(v any, depth int) error {
	switch x := v.(type) {
	case int8:
		e.int64(int64(x))
	case int16:
		e.int64(int64(x))
	case int32:
		e.int64(int64(x))
	case uint:
		e.bigInt(new(big.Int).SetUint64(uint64(x)))
	case uint8:
		e.int64(int64(x))
	case uint16:
		e.int64(int64(x))
	case uint32:
		e.int64(int64(x))
	case uint64:
		e.bigInt(new(big.Int).SetUint64(x))
	case *big.Int:
		if x == nil {
			e.op('N')
		} else {
			e.bigInt(x)
		}
	case float32:
		e.encode(float64(x), depth)
	case ByteArray:
		return e.reduce(Global{"builtins", "bytearray"}, []any{[]byte(x)}, depth)
	case Set:
		return e.items(0x8f, 0x90, x, depth)
	case FrozenSet:
		e.op('(')
		for _, it := range x {
			if err := e.encode(it, depth+1); err != nil {
				return err
			}
		}
		e.op(0x91)
	case time.Time:
		if n, ok := naiveOf(x); ok {
			return e.encode(n, depth)
		}
		if err := checkYear(x.Year()); err != nil {
			return err
		}
		if err := e.global(Global{"datetime", "datetime"}); err != nil {
			return err
		}
		state := dtState(x)
		if ianaName(x.Location()) != "" && isFold(x) {
			state[2] |= 0x80 // PEP 495's fold: the second of two instants with this wall clock
		}
		e.bytes(state)
		if err := e.tzinfo(x.Location(), x, depth+1); err != nil {
			return err
		}
		e.op(0x86, 'R')
	case NaiveDateTime:
		if err := checkYear(x.Year()); err != nil {
			return err
		}
		return e.reduce(Global{"datetime", "datetime"}, []any{dtState(x.Time)}, depth)
	case Date:
		if err := checkYear(x.Year); err != nil {
			return err
		}
		return e.reduce(Global{"datetime", "date"}, []any{[]byte{byte(x.Year >> 8), byte(x.Year), byte(x.Month), byte(x.Day)}}, depth)
	case TimeOfDay:
		us := x.Microsecond
		state := []byte{byte(x.Hour), byte(x.Minute), byte(x.Second), byte(us >> 16), byte(us >> 8), byte(us)}
		if x.Location == nil {
			return e.reduce(Global{"datetime", "time"}, []any{state}, depth)
		}
		if err := e.global(Global{"datetime", "time"}); err != nil {
			return err
		}
		e.bytes(state)
		if err := e.tzinfo(x.Location, time.Date(2000, 1, 1, x.Hour, x.Minute, x.Second, 0, x.Location), depth+1); err != nil {
			return err
		}
		e.op(0x86, 'R')
	case time.Duration:
		days, secs, us := timedeltaFields(x)
		return e.reduce(pyTimedelta, []any{days, secs, us}, depth)
	case Decimal:
		return e.reduce(Global{"decimal", "Decimal"}, []any{string(x)}, depth)
	case UUID:
		if err := e.global(Global{"uuid", "UUID"}); err != nil {
			return err
		}
		e.op(')', 0x81)
		if err := e.dict(NewDict("int", new(big.Int).SetBytes(x[:])), depth+1); err != nil {
			return err
		}
		e.op('b')
	case Global:
		return e.global(x)
	case *Exception:
		if err := e.reduce(x.Class, x.Args, depth); err != nil {
			return err
		}
		if x.State != nil {
			if err := e.encode(x.State, depth+1); err != nil {
				return err
			}
			e.op('b')
		}
	case *Object:
		if err := e.global(x.Class); err != nil {
			return err
		}
		if err := e.tuple(x.Args, depth); err != nil {
			return err
		}
		switch {
		case x.NewObj && x.Kwargs != nil:
			if err := e.dict(x.Kwargs, depth+1); err != nil {
				return err
			}
			e.op(0x92)
		case x.NewObj:
			e.op(0x81)
		default:
			e.op('R')
		}
		if x.ListItems != nil {
			e.op('(')
			for _, it := range x.ListItems {
				if err := e.encode(it, depth+1); err != nil {
					return err
				}
			}
			e.op('e')
		}
		if x.DictItems != nil {
			e.op('(')
			for _, it := range x.DictItems.Items() {
				if err := e.encode(it.Key, depth+1); err != nil {
					return err
				}
				if err := e.encode(it.Value, depth+1); err != nil {
					return err
				}
			}
			e.op('u')
		}
		if x.HasState {
			if err := e.encode(x.State, depth+1); err != nil {
				return err
			}
			e.op('b')
		}
	case error:
		// a plain Go error crosses as a builtins.Exception whose str() is its message
		return e.encode(NewException("builtins", "Exception", x.Error()), depth)
	default:
		return e.reflect(reflect.ValueOf(v), depth)
	}
	return nil
}

// reflect handles Go values outside the model: named numeric and string
// types, typed slices and arrays, maps and structs.
func (e *pickleEncoder) reflect(rv reflect.Value, depth int) error {
	nv, err := Normalize(rv.Interface())
	if err != nil {
		return &EncodeError{"pickle", err.Error()}
	}
	return e.encode(nv, depth)
}
