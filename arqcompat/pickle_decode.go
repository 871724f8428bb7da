package arqcompat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// argument layouts of pickle opcodes, for the pre-scan
const (
	argNone = iota
	argLine
	argTwoLines
	argFixed1
	argFixed2
	argFixed4
	argFixed8
	argLen1
	argLen4
	argLen4Signed
	argLen8
	argFrame
)

var pickleArgs = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for _, op := range []byte("(.012NRabd}el]ost)uQ\x81\x85\x86\x87\x88\x89\x8f\x90\x91\x92\x93\x94\x97\x98") {
		t[op] = argNone
	}
	for _, op := range []byte("FILPSVgp") {
		t[op] = argLine
	}
	t['c'], t['i'] = argTwoLines, argTwoLines
	for _, op := range []byte("Khq\x80\x82") {
		t[op] = argFixed1
	}
	t['M'], t['\x83'] = argFixed2, argFixed2
	for _, op := range []byte("Jjr\x84") {
		t[op] = argFixed4
	}
	t['G'] = argFixed8
	for _, op := range []byte("UC\x8c\x8a") {
		t[op] = argLen1
	}
	for _, op := range []byte("TBX") {
		t[op] = argLen4
	}
	t['\x8b'] = argLen4Signed
	for _, op := range []byte("\x8d\x8e\x96") {
		t[op] = argLen8
	}
	t['\x95'] = argFrame
	return t
}()

// scanPickle walks the opcode stream the way pickletools.genops does and
// rejects, before anything is allocated, unknown opcodes and any length that
// reaches beyond the payload.
func scanPickle(data []byte) error {
	pos := 0
	n := len(data)
	need := func(k uint64) error {
		if k > uint64(n-pos) {
			return malformed("pickle", "length %d at offset %d runs past the end of the %d-byte payload", k, pos, n)
		}
		return nil
	}
	for pos < n {
		op := data[pos]
		kind := pickleArgs[op]
		if kind < 0 {
			return malformed("pickle", "unknown opcode 0x%02x at offset %d", op, pos)
		}
		pos++
		switch kind {
		case argNone:
			if op == '.' {
				return nil
			}
		case argLine, argTwoLines:
			lines := 1
			if kind == argTwoLines {
				lines = 2
			}
			for ; lines > 0; lines-- {
				i := bytes.IndexByte(data[pos:], '\n')
				if i < 0 {
					return malformed("pickle", "unterminated line argument at offset %d", pos)
				}
				pos += i + 1
			}
		case argFixed1, argFixed2, argFixed4, argFixed8:
			k := map[int8]uint64{argFixed1: 1, argFixed2: 2, argFixed4: 4, argFixed8: 8}[kind]
			if err := need(k); err != nil {
				return err
			}
			pos += int(k)
		case argLen1, argLen4, argLen4Signed, argLen8, argFrame:
			w := map[int8]int{argLen1: 1, argLen4: 4, argLen4Signed: 4, argLen8: 8, argFrame: 8}[kind]
			if err := need(uint64(w)); err != nil {
				return err
			}
			var l uint64
			switch w {
			case 1:
				l = uint64(data[pos])
			case 4:
				u := binary.LittleEndian.Uint32(data[pos:])
				if kind == argLen4Signed && int32(u) < 0 {
					return malformed("pickle", "negative length at offset %d", pos)
				}
				l = uint64(u)
			case 8:
				l = binary.LittleEndian.Uint64(data[pos:])
			}
			pos += w
			if err := need(l); err != nil {
				return err
			}
			if kind != argFrame { // a frame's contents are opcodes: keep scanning them
				pos += int(l)
			}
		}
	}
	return malformed("pickle", "no STOP opcode: the payload is truncated")
}

// pyClass is what a pickle's GLOBAL resolves to: a name, never an import.
type pyClass struct{ g Global }

func (c *pyClass) Call(args ...any) (any, error) {
	return &pyCall{cls: c.g, args: args}, nil
}

func (c *pyClass) PyNew(args ...any) (any, error) {
	return &pyCall{cls: c.g, args: args, newobj: true}, nil
}

// pyCall records a REDUCE or NEWOBJ of a pyClass and any BUILD applied to it.
type pyCall struct {
	cls      Global
	args     []any
	newobj   bool
	state    any
	hasState bool
}

func (p *pyCall) PySetState(state any) error {
	p.state, p.hasState = state, true
	return nil
}

// Python 2 names that protocol 0-2 pickles written by Python 3 still use.
var py2Modules = map[string]string{"__builtin__": "builtins", "exceptions": "builtins", "copy_reg": "copyreg"}

func findClass(module, name string) (any, error) {
	if m, ok := py2Modules[module]; ok {
		module = m
	}
	return &pyClass{Global{module, name}}, nil
}

// UnpickleLimits decodes a pickle into the Go model of Python values. It
// never imports or calls anything a pickle names: classes become Global,
// instances Object or Exception.
func UnpickleLimits(data []byte, lim Limits) (v any, err error) {
	lim = lim.orDefault()
	if len(data) > lim.MaxBytes {
		return nil, overLimit("pickle", "payload of %d bytes is over the %d-byte limit", len(data), lim.MaxBytes)
	}
	if err := scanPickle(data); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, malformed("pickle", "invalid pickle: %v", r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(data))
	u.FindClass = findClass
	raw, err := u.Load()
	if err != nil {
		return nil, malformed("pickle", "%v", err)
	}
	c := &budget{format: "pickle", lim: lim}
	return c.conv(raw, 0)
}

// Unpickle is UnpickleLimits with DefaultLimits.
func Unpickle(data []byte) (any, error) { return UnpickleLimits(data, Limits{}) }

func (c *budget) convSlice(items []any, depth int) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		v, err := c.conv(it, depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c *budget) convDict(items [][2]any, depth int) (*Dict, error) {
	d := &Dict{}
	for _, kv := range items {
		k, err := c.conv(kv[0], depth+1)
		if err != nil {
			return nil, err
		}
		v, err := c.conv(kv[1], depth+1)
		if err != nil {
			return nil, err
		}
		if err := d.Set(k, v); err != nil {
			return nil, malformed(c.format, "%v", err)
		}
	}
	return d, nil
}

func dedupe(format string, items []any) ([]any, error) {
	seen := make(map[string]bool, len(items))
	out := items[:0]
	for _, it := range items {
		h, err := HashKey(it)
		if err != nil {
			return nil, malformed(format, "%v", err)
		}
		if !seen[h] {
			seen[h] = true
			out = append(out, it)
		}
	}
	return out, nil
}

func (c *budget) conv(v any, depth int) (any, error) {
	if err := c.enter(depth); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x, nil
	case int:
		return int64(x), nil
	case *big.Int:
		return normalizeInt(x), nil
	case []byte:
		return x, nil
	case *types.ByteArray:
		return ByteArray(*x), nil
	case *types.Tuple:
		items, err := c.convSlice(*x, depth)
		return Tuple(items), err
	case *types.List:
		items, err := c.convSlice(*x, depth)
		if items == nil && err == nil {
			items = []any{}
		}
		return items, err
	case *types.Dict:
		kvs := make([][2]any, len(*x))
		for i, e := range *x {
			kvs[i] = [2]any{e.Key, e.Value}
		}
		return c.convDict(kvs, depth)
	case *types.OrderedDict:
		kvs := make([][2]any, 0, x.Len())
		for e := x.List.Front(); e != nil; e = e.Next() {
			ent := e.Value.(*types.OrderedDictEntry)
			kvs = append(kvs, [2]any{ent.Key, ent.Value})
		}
		return c.convDict(kvs, depth)
	case *types.Set:
		items := make([]any, 0, len(*x))
		for k := range *x {
			items = append(items, k)
		}
		conv, err := c.convSlice(items, depth)
		if err != nil {
			return nil, err
		}
		conv, err = dedupe(c.format, conv)
		return Set(conv), err
	case *types.FrozenSet:
		items := make([]any, 0, len(*x))
		for k := range *x {
			items = append(items, k)
		}
		conv, err := c.convSlice(items, depth)
		if err != nil {
			return nil, err
		}
		conv, err = dedupe(c.format, conv)
		return FrozenSet(conv), err
	case *pyClass:
		return x.g, nil
	case *pyCall:
		return c.convCall(x, depth)
	default:
		return nil, malformed(c.format, "unsupported pickled value of Go type %T", v)
	}
}

func (c *budget) convCall(p *pyCall, depth int) (any, error) {
	args, err := c.convSlice(p.args, depth)
	if err != nil {
		return nil, err
	}
	var state any
	if p.hasState {
		if state, err = c.conv(p.state, depth+1); err != nil {
			return nil, err
		}
	}
	if v, ok, err := buildKnown(p.cls, args, p.newobj, state, p.hasState); ok || err != nil {
		if err != nil {
			return nil, malformed(c.format, "%s: %v", p.cls, err)
		}
		return v, nil
	}
	if !p.newobj && isExceptionClass(p.cls) {
		return &Exception{Class: p.cls, Args: Tuple(args), State: state}, nil
	}
	return &Object{Class: p.cls, Args: Tuple(args), NewObj: p.newobj, State: state, HasState: p.hasState}, nil
}

var builtinExceptions = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`BaseException Exception ArithmeticError AssertionError AttributeError
	BlockingIOError BrokenPipeError BufferError ChildProcessError ConnectionAbortedError ConnectionError
	ConnectionRefusedError ConnectionResetError EOFError EnvironmentError FileExistsError FileNotFoundError
	FloatingPointError GeneratorExit IOError ImportError IndentationError IndexError InterruptedError
	IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError ModuleNotFoundError NameError
	NotADirectoryError NotImplementedError OSError OverflowError PermissionError ProcessLookupError
	RecursionError ReferenceError RuntimeError StopAsyncIteration StopIteration SyntaxError SystemError
	SystemExit TabError TimeoutError TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError
	UnicodeError UnicodeTranslateError ValueError ZeroDivisionError Warning UserWarning DeprecationWarning
	RuntimeWarning`) {
		m[n] = true
	}
	return m
}()

// isExceptionClass tells, without Python's class hierarchy, whether a class
// is an exception: a builtin one, or one named like one.
func isExceptionClass(g Global) bool {
	if g.Module == "builtins" {
		return builtinExceptions[g.Name]
	}
	for _, suf := range []string{"Error", "Exception", "Warning", "Failed", "Exit", "Interrupt"} {
		if strings.HasSuffix(g.Name, suf) {
			return true
		}
	}
	return false
}

func intArg(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func latin1(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil
		}
		out = append(out, byte(r))
	}
	return out
}

func bytesArg(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case ByteArray:
		return x, true
	case string: // protocol 0-1 datetimes store their state as a latin-1 str
		b := latin1(x)
		return b, b != nil
	}
	return nil, false
}

// zoneOf maps a decoded tzinfo to a Go location: datetime.timezone only.
func zoneOf(tz any) (*time.Location, bool) {
	o, ok := tz.(*Object)
	if !ok || o.Class != (Global{"datetime", "timezone"}) || len(o.Args) < 1 || o.NewObj {
		return nil, false
	}
	off, ok := o.Args[0].(time.Duration)
	if !ok || off%time.Second != 0 {
		return nil, false
	}
	name := ""
	if len(o.Args) > 1 {
		if name, ok = o.Args[1].(string); !ok {
			return nil, false
		}
	}
	if off == 0 && name == "" {
		return time.UTC, true
	}
	if name == "" {
		name = utcOffsetName(off)
	}
	return time.FixedZone(name, int(off/time.Second)), true
}

func utcOffsetName(off time.Duration) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("UTC%s%02d:%02d", sign, int(off/time.Hour), int(off%time.Hour/time.Minute))
}

// buildKnown turns calls of the classes the model maps into Go values.
func buildKnown(cls Global, args []any, newobj bool, state any, hasState bool) (any, bool, error) {
	switch cls {
	case Global{"_codecs", "encode"}:
		if len(args) == 2 {
			if s, ok := args[0].(string); ok {
				if b := latin1(s); b != nil {
					return b, true, nil
				}
			}
		}
		return nil, true, fmt.Errorf("unexpected arguments")
	case Global{"builtins", "bytes"}:
		if len(args) == 0 {
			return []byte{}, true, nil
		}
	case Global{"builtins", "bytearray"}:
		if len(args) == 0 {
			return ByteArray{}, true, nil
		}
		if b, ok := bytesArg(args[0]); ok {
			return ByteArray(b), true, nil
		}
	case Global{"builtins", "set"}, Global{"builtins", "frozenset"}:
		var items []any
		if len(args) == 1 {
			switch a := args[0].(type) {
			case []any:
				items = a
			case Tuple:
				items = a
			default:
				return nil, false, nil
			}
		}
		items, err := dedupe("pickle", append([]any{}, items...))
		if err != nil {
			return nil, true, err
		}
		if cls.Name == "set" {
			return Set(items), true, nil
		}
		return FrozenSet(items), true, nil
	case Global{"datetime", "timedelta"}:
		if len(args) == 3 {
			d, ok1 := intArg(args[0])
			s, ok2 := intArg(args[1])
			us, ok3 := intArg(args[2])
			if ok1 && ok2 && ok3 {
				const maxDays = int64(1<<63-1) / int64(24*time.Hour)
				if d > maxDays || d < -maxDays {
					return nil, true, fmt.Errorf("timedelta of %d days is beyond time.Duration's range", d)
				}
				return time.Duration(d)*24*time.Hour + time.Duration(s)*time.Second + time.Duration(us)*time.Microsecond, true, nil
			}
		}
	case Global{"datetime", "datetime"}:
		if len(args) >= 1 && len(args) <= 2 {
			b, ok := bytesArg(args[0])
			if !ok || len(b) != 10 {
				return nil, false, nil
			}
			year := int(b[0])<<8 | int(b[1])
			t := func(loc *time.Location) time.Time {
				return time.Date(year, time.Month(b[2]&0x7f), int(b[3]), int(b[4]), int(b[5]), int(b[6]),
					(int(b[7])<<16|int(b[8])<<8|int(b[9]))*1000, loc)
			}
			if len(args) == 1 || args[1] == nil {
				return NaiveDateTime{t(time.UTC)}, true, nil
			}
			if loc, ok := zoneOf(args[1]); ok {
				return t(loc), true, nil
			}
		}
	case Global{"datetime", "date"}:
		if len(args) == 1 {
			if b, ok := bytesArg(args[0]); ok && len(b) == 4 {
				return Date{Year: int(b[0])<<8 | int(b[1]), Month: time.Month(b[2]), Day: int(b[3])}, true, nil
			}
		}
	case Global{"datetime", "time"}:
		if len(args) >= 1 && len(args) <= 2 {
			b, ok := bytesArg(args[0])
			if !ok || len(b) != 6 {
				return nil, false, nil
			}
			tod := TimeOfDay{Hour: int(b[0] & 0x7f), Minute: int(b[1]), Second: int(b[2]), Microsecond: int(b[3])<<16 | int(b[4])<<8 | int(b[5])}
			if len(args) == 2 && args[1] != nil {
				loc, ok := zoneOf(args[1])
				if !ok {
					return nil, false, nil
				}
				tod.Location = loc
			}
			return tod, true, nil
		}
	case Global{"decimal", "Decimal"}, Global{"_pydecimal", "Decimal"}:
		if len(args) == 1 {
			if s, ok := args[0].(string); ok {
				return Decimal(s), true, nil
			}
		}
	case Global{"uuid", "UUID"}:
		if newobj && len(args) == 0 && hasState {
			if d, ok := state.(*Dict); ok {
				iv, _ := d.Get("int")
				var n *big.Int
				switch x := iv.(type) {
				case int64:
					n = big.NewInt(x)
				case *big.Int:
					n = x
				}
				if n != nil && n.Sign() >= 0 && n.BitLen() <= 128 {
					var u UUID
					n.FillBytes(u[:])
					return u, true, nil
				}
			}
		}
		if !newobj && len(args) == 1 {
			if s, ok := args[0].(string); ok {
				u, err := ParseUUID(s)
				return u, err == nil, err
			}
		}
	}
	return nil, false, nil
}
