package arqcompat

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// This file turns what the opcode machine (pickle_machine.go) built into
// the Go model of Python values: raw containers become []any, *Dict, Set;
// the REDUCE and NEWOBJ calls of classes the model knows (datetime, date,
// time, timedelta, Decimal, UUID, bytearray, exceptions...) become their Go
// types, and every other instance an *Object that re-encodes unchanged.

// pyClass is what a pickle's GLOBAL resolves to: a name, never an import.
type pyClass struct{ g Global }

// pyCall records a REDUCE or NEWOBJ of a pyClass and what pickle applied
// to the instance afterwards: list items, dict items and BUILD's state.
type pyCall struct {
	cls      Global
	args     []any
	state    any
	more     *pyCallMore // rare: kwargs, list or dict items
	newobj   bool
	hasState bool
	// shared: a memo fetch or DUP refers to the call again (see rawList)
	shared bool
	// done and value: a shared call of scalar arguments only (an enum
	// member) converts once; every reference gets that value (reusable)
	done  bool
	value any
}

// pyCallMore is what NEWOBJ_EX, APPENDS and SETITEMS add to a call, which
// the instances arq's records hold seldom have.
type pyCallMore struct {
	kwargs    *rawDict
	listItems []any
	dictItems []Item
}

// extra returns p.more, made on first use.
func (p *pyCall) extra() *pyCallMore {
	if p.more == nil {
		p.more = &pyCallMore{}
	}
	return p.more
}

// Python 2 names that protocol 0-2 pickles written by Python 3 still use.
var py2Modules = map[string]string{"__builtin__": "builtins", "exceptions": "builtins", "copy_reg": "copyreg"}

// pickleUnmarshal decodes a pickle (protocols 0-5) into the Go model of
// Python values. It never imports or calls anything a pickle names:
// classes become Global, instances Object or Exception.
func pickleUnmarshal(data []byte, lim Limits) (any, error) {
	lim = lim.orDefault()
	if len(data) > lim.MaxBytes {
		return nil, overLimit("pickle", "payload of %d bytes is over the %d-byte limit", len(data), lim.MaxBytes)
	}
	sc := scratches.Get().(*scratch)
	u := &unpickler{data: data, stack: sc.stack, marks: sc.marks, memo: sc.memo,
		calls: sc.calls, classes: sc.classes, lists: sc.lists, sets: sc.sets}
	if u.stack == nil {
		u.stack, u.marks = make([]any, 0, min(max(len(data)/16, 16), 128)), make([]int, 0, 8)
	}
	if u.memo == nil {
		u.memo = make([]any, 0, min(max(len(data)/8, 8), 4096))
	}
	raw, err := u.load()
	var v any
	if err == nil {
		c := &budget{format: "pickle", lim: lim}
		v, err = c.conv(raw, 0)
	}
	sc.keep(u) // raw is garbage now: nothing in v refers to what keep takes back
	scratches.Put(sc)
	return v, err
}

// scratch is what of an unpickler no decoded value refers to: its stack,
// marks and memo, and the chunks of its calls, classes, lists and sets.
// They are reused by the next decode, emptied, instead of being garbage
// after every job. Those that grew past scratchMax values are dropped, so
// that one big payload does not keep its memory.
type scratch struct {
	stack   []any
	marks   []int
	memo    []any
	calls   reuse[pyCall]
	classes reuse[pyClass]
	lists   reuse[rawList]
	sets    reuse[rawSet]
}

const scratchMax = 4096

// scratches is a cache of free scratch space, as fmt and encoding/json
// keep theirs: it holds no state a caller can observe.
var scratches = sync.Pool{New: func() any { return new(scratch) }}

// keep takes u's stack, marks and memo back, emptied.
func (s *scratch) keep(u *unpickler) {
	*s = scratch{}
	if cap(u.stack) <= scratchMax && cap(u.marks) <= scratchMax {
		clear(u.stack[:cap(u.stack)])
		s.stack, s.marks = u.stack[:0], u.marks[:0]
	}
	if cap(u.memo) <= scratchMax {
		clear(u.memo[:cap(u.memo)])
		s.memo = u.memo[:0]
	}
	if u.calls.reset() {
		s.calls = u.calls
	}
	if u.classes.reset() {
		s.classes = u.classes
	}
	if u.lists.reset() {
		s.lists = u.lists
	}
	if u.sets.reset() {
		s.sets = u.sets
	}
}

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

// smallDict is the size up to which a decoded dict whose keys are all
// str keeps no index: duplicates are found by scanning, and Get scans
// (see Dict), which for a model's few fields is cheaper than a map.
const smallDict = 32

func (c *budget) convDict(items []Item, depth int) (*Dict, error) {
	if len(items) <= smallDict {
		if d, ok, err := c.convSmallDict(items, depth); ok || err != nil {
			return d, err
		}
	}
	d := &Dict{}
	for _, kv := range items {
		k, err := c.conv(kv.Key, depth+1)
		if err != nil {
			return nil, err
		}
		v, err := c.conv(kv.Value, depth+1)
		if err != nil {
			return nil, err
		}
		h, err := c.indexKey(k)
		if err != nil {
			return nil, err
		}
		d.setIndexed(h, k, v)
	}
	return d, nil
}

// convInPlace converts the items of a raw container no other place refers
// to, in its own array.
func (c *budget) convInPlace(items []any, depth int) error {
	for i, it := range items {
		v, err := c.conv(it, depth+1)
		if err != nil {
			return err
		}
		items[i] = v
	}
	return nil
}

// convSmallDictInPlace is convSmallDict for a raw dict no other place
// refers to: its items array becomes the Dict's.
func (c *budget) convSmallDictInPlace(items []Item, depth int, out *Dict) (*Dict, bool, error) {
	for _, kv := range items {
		if _, ok := kv.Key.(string); !ok {
			return nil, false, nil
		}
	}
	w := 0
next:
	for _, kv := range items {
		k := kv.Key.(string)
		if err := c.enter(depth + 1); err != nil {
			return nil, true, err
		}
		if err := c.expand(len(k)); err != nil {
			return nil, true, err
		}
		v, err := c.conv(kv.Value, depth+1)
		if err != nil {
			return nil, true, err
		}
		for i := 0; i < w; i++ {
			if items[i].Key.(string) == k {
				items[i].Value = v // a repeated key: the last value wins, in the first place
				continue next
			}
		}
		items[w] = Item{kv.Key, v}
		w++
	}
	out.items = items[:w]
	return out, true, nil
}

// convSmallDict is convDict for a small dict of str keys, without an
// index; ok is false when a key is not a str. The raw dict may be referred
// to again, so it converts a copy of its items.
func (c *budget) convSmallDict(items []Item, depth int) (*Dict, bool, error) {
	return c.convSmallDictInPlace(slices.Clone(items), depth, new(Dict))
}

func (c *budget) dedupe(items []any) ([]any, error) {
	if len(items) <= smallDict {
		if out, ok, err := c.dedupeStrings(items); ok {
			return out, err
		}
	}
	seen := make(map[any]bool, len(items))
	out := items[:0]
	for _, it := range items {
		h, err := c.indexKey(it)
		if err != nil {
			return nil, err
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
	case nil, bool, string, float64, int64:
		return x, nil
	case *big.Int:
		return normalizeInt(x), nil
	case []byte:
		return x, nil
	case ByteArray:
		return x, nil
	case Tuple:
		items, err := c.convSlice(x, depth)
		return Tuple(items), err
	case *rawList:
		if !x.shared {
			if err := c.convInPlace(x.items, depth); err != nil {
				return nil, err
			}
			if x.items == nil {
				return []any{}, nil
			}
			return x.items, nil
		}
		items, err := c.convSlice(x.items, depth)
		if items == nil && err == nil {
			items = []any{}
		}
		return items, err
	case *rawDict:
		if !x.shared && len(x.items) <= smallDict {
			if d, ok, err := c.convSmallDictInPlace(x.items, depth, &x.out); ok || err != nil {
				return d, err
			}
		}
		return c.convDict(x.items, depth)
	case *rawSet:
		var conv []any
		var err error
		if !x.shared {
			conv, err = x.items, c.convInPlace(x.items, depth)
		} else {
			conv, err = c.convSlice(x.items, depth)
		}
		if err != nil {
			return nil, err
		}
		conv, err = c.dedupe(conv)
		return Set(conv), err
	case FrozenSet:
		conv, err := c.convSlice(x, depth)
		if err != nil {
			return nil, err
		}
		conv, err = c.dedupe(conv)
		return FrozenSet(conv), err
	case *pyClass:
		return x.g, nil
	case *pyCall:
		return c.convCall(x, depth)
	default:
		return nil, malformed(c.format, "unsupported pickled value of Go type %T", v)
	}
}

// scalar reports whether conv returns v as it is, a value nothing in the
// model changes in place.
func scalar(v any) bool {
	switch v.(type) {
	case nil, bool, string, float64, int64:
		return true
	}
	return false
}

func (c *budget) convCall(p *pyCall, depth int) (any, error) {
	simple := p.more == nil && !p.hasState
	for _, a := range p.args {
		simple = simple && scalar(a)
	}
	if simple && p.done { // another reference to a converted call: counted again, not built again
		for range p.args {
			if err := c.enter(depth + 1); err != nil {
				return nil, err
			}
		}
		return p.value, nil
	}
	var args []any
	var err error
	if simple { // scalars convert to themselves: no copy
		for range p.args {
			if err := c.enter(depth + 1); err != nil {
				return nil, err
			}
		}
		args = p.args
	} else if args, err = c.convSlice(p.args, depth); err != nil {
		return nil, err
	}
	v, err := c.convCallArgs(p, args, depth)
	if err == nil && simple && p.shared && reusable(v) {
		p.done, p.value = true, v
	}
	return v, err
}

// reusable reports whether every reference to a call may get the same
// value: an instance made of scalars only (an enum member, as Python's
// own members are singletons), or a value type that nothing counted
// against the expansion limit to build. Bytes, sets and dicts are built
// again for each reference.
func reusable(v any) bool {
	switch v.(type) {
	case *Object, time.Time, NaiveDateTime, Date, TimeOfDay, time.Duration, Decimal, UUID:
		return true
	}
	return false
}

func (c *budget) convCallArgs(p *pyCall, args []any, depth int) (any, error) {
	var err error
	var state any
	if p.hasState {
		if state, err = c.conv(p.state, depth+1); err != nil {
			return nil, err
		}
	}
	var listItems []any
	var dictItems *Dict
	var kwargs *Dict
	if m := p.more; m != nil {
		if m.listItems != nil {
			if listItems, err = c.convSlice(m.listItems, depth); err != nil {
				return nil, err
			}
		}
		if m.dictItems != nil {
			if dictItems, err = c.convDict(m.dictItems, depth); err != nil {
				return nil, err
			}
		}
		if m.kwargs != nil {
			v, err := c.conv(m.kwargs, depth+1)
			if err != nil {
				return nil, err
			}
			kwargs = v.(*Dict)
		}
	}
	if p.cls == (Global{"collections", "OrderedDict"}) && len(args) == 0 && listItems == nil {
		if dictItems == nil {
			dictItems = &Dict{}
		}
		return dictItems, nil // an OrderedDict arrives as a dict, order kept
	}
	if listItems == nil && dictItems == nil && kwargs == nil {
		if v, ok, err := c.buildKnown(p.cls, args, p.newobj, state, p.hasState); ok || err != nil {
			if err != nil {
				return nil, c.callErr(p.cls, err)
			}
			return v, nil
		}
	}
	if p.cls == (Global{"copyreg", "_reconstructor"}) && len(args) >= 2 {
		if g, ok := args[0].(Global); ok { // protocol 0-1: object.__new__(cls), then BUILD
			if v, ok, err := c.buildKnown(g, nil, true, state, p.hasState); ok || err != nil {
				if err != nil {
					return nil, c.callErr(g, err)
				}
				return v, nil
			}
			return &Object{Class: g, NewObj: true, State: state, HasState: p.hasState}, nil
		}
	}
	if !p.newobj && isExceptionClass(p.cls) && listItems == nil && dictItems == nil {
		return &Exception{Class: p.cls, Args: Tuple(args), State: state}, nil
	}
	o := take(&c.objects, c.lim.MaxItems)
	*o = Object{Class: p.cls, Args: Tuple(args), NewObj: p.newobj, Kwargs: kwargs, State: state, HasState: p.hasState,
		ListItems: listItems, DictItems: dictItems}
	return o, nil
}

// dedupeStrings is dedupe for a few str members, without a map; ok is
// false when a member is not a str.
func (c *budget) dedupeStrings(items []any) ([]any, bool, error) {
	for _, it := range items {
		if _, ok := it.(string); !ok {
			return nil, false, nil
		}
	}
	out := items[:0]
next:
	for _, it := range items {
		s := it.(string)
		if err := c.expand(len(s)); err != nil {
			return nil, true, err
		}
		for _, seen := range out {
			if seen.(string) == s {
				continue next
			}
		}
		out = append(out, it) // the interface as it is: no new box for the str
	}
	return out, true, nil
}

// callErr is the error of a call buildKnown refused: a limit as it is.
func (c *budget) callErr(cls Global, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return malformed(c.format, "%s: %v", cls, err)
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
	ascii := true
	for i := 0; i < len(s) && ascii; i++ {
		ascii = s[i] < utf8.RuneSelf
	}
	if ascii {
		return []byte(s)
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil
		}
		out = append(out, byte(r))
	}
	return out
}

// bytesArg reads a bytes argument of at most max bytes (max 0: any).
func bytesArg(v any, max int) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case ByteArray:
		return x, true
	case string: // protocol 0-1 datetimes store their state as a latin-1 str
		if max > 0 && len(x) > 2*max { // latin-1 takes at most 2 UTF-8 bytes a character
			return nil, false
		}
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
// The str a bytes or bytearray call copies counts against the budget: a
// call is built again for every reference to it.
func (c *budget) buildKnown(cls Global, args []any, newobj bool, state any, hasState bool) (any, bool, error) {
	switch cls {
	case Global{"_codecs", "encode"}:
		if len(args) == 2 {
			if s, ok := args[0].(string); ok {
				if err := c.expand(len(s)); err != nil {
					return nil, true, err
				}
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
		if s, ok := args[0].(string); ok {
			if err := c.expand(len(s)); err != nil {
				return nil, true, err
			}
		}
		if b, ok := bytesArg(args[0], 0); ok {
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
		items, err := c.dedupe(append([]any{}, items...))
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
			b, ok := bytesArg(args[0], 10)
			if !ok || len(b) != 10 {
				return nil, false, nil
			}
			year := int(b[0])<<8 | int(b[1])
			month, day := time.Month(b[2]&0x7f), int(b[3])
			hour, min, sec := int(b[4]), int(b[5]), int(b[6])
			nsec := (int(b[7])<<16 | int(b[8])<<8 | int(b[9])) * 1000
			if len(args) == 1 || args[1] == nil {
				return NaiveDateTime{time.Date(year, month, day, hour, min, sec, nsec, time.UTC)}, true, nil
			}
			tz, ok := tzinfoOf(args[1])
			if !ok {
				return nil, false, nil
			}
			if tz.pinned { // pytz: the wall clock at the offset the pickle names
				return time.Date(year, month, day, hour, min, sec, nsec, time.FixedZone("", tz.off)).In(tz.loc), true, nil
			}
			return wallTime(year, month, day, hour, min, sec, nsec, tz.loc, b[2]&0x80 != 0), true, nil
		}
	case Global{"datetime", "date"}:
		if len(args) == 1 {
			if b, ok := bytesArg(args[0], 4); ok && len(b) == 4 {
				return Date{Year: int(b[0])<<8 | int(b[1]), Month: time.Month(b[2]), Day: int(b[3])}, true, nil
			}
		}
	case Global{"datetime", "time"}:
		if len(args) >= 1 && len(args) <= 2 {
			b, ok := bytesArg(args[0], 6)
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
