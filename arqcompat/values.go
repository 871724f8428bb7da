package arqcompat

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Tuple is a Python tuple.
type Tuple []any

// Set is a Python set; element order carries no meaning.
type Set []any

// FrozenSet is a Python frozenset; element order carries no meaning.
type FrozenSet []any

// ByteArray is a Python bytearray.
type ByteArray []byte

// Decimal is a Python decimal.Decimal, kept as its exact string form
// ("1.10", "-Infinity", "NaN").
type Decimal string

// UUID is a Python uuid.UUID.
type UUID [16]byte

// String returns the canonical hyphenated form, as Python's str(uuid).
func (u UUID) String() string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ParseUUID parses the hyphenated or plain hex form of a UUID.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	h := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}"), "-", "")
	h = strings.TrimPrefix(strings.TrimPrefix(h, "urn:uuid:"), "urn:uuid:")
	if len(h) != 32 {
		return u, fmt.Errorf("arqcompat: invalid UUID %q", s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("arqcompat: invalid UUID %q", s)
	}
	return u, nil
}

// NaiveDateTime is a Python datetime without tzinfo. The embedded time holds
// the wall-clock reading in the UTC location.
type NaiveDateTime struct{ time.Time }

// naiveLoc marks a time.Time that stands for a naive datetime.
var naiveLoc = time.FixedZone("naive", 0)

// NaiveLocation is the location of a time.Time that stands for a naive
// Python datetime. Assign puts a naive datetime into a time.Time in this
// location, with its wall clock unchanged, and every encoder, Repr and Equal
// treat a time.Time in it as the naive datetime it came from, so a handler
// that binds a naive datetime to a time.Time, adds to it or formats it,
// and returns it gives Python a naive datetime back. Its offset is 0: Unix()
// reads the wall clock as UTC. t.UTC(), t.In(loc) and time.Now() are aware
// times, and go back to Python aware.
func NaiveLocation() *time.Location { return naiveLoc }

// naiveOf returns t as a NaiveDateTime when it is in NaiveLocation.
func naiveOf(t time.Time) (NaiveDateTime, bool) {
	if t.Location() != naiveLoc {
		return NaiveDateTime{}, false
	}
	return NaiveDateTime{t.UTC()}, true
}

// Date is a Python datetime.date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// TimeOfDay is a Python datetime.time. Location is nil for a naive time.
type TimeOfDay struct {
	Hour, Minute, Second, Microsecond int
	Location                          *time.Location
}

func (t TimeOfDay) String() string {
	s := fmt.Sprintf("%02d:%02d:%02d", t.Hour, t.Minute, t.Second)
	if t.Microsecond != 0 {
		s += fmt.Sprintf(".%06d", t.Microsecond)
	}
	return s
}

// Global is a reference to a Python class or function by module and name, as
// pickle stores it. Decoding never imports or calls it.
type Global struct {
	Module, Name string
}

func (g Global) String() string { return g.Module + "." + g.Name }

// Object is an instance of a Python class that the model does not map to a
// Go type: an enum member, a dataclass, any user class. It records how pickle
// rebuilt it so that encoding it again gives Python the same object.
type Object struct {
	Class Global
	// Args are the arguments passed to the class (REDUCE) or to cls.__new__ (NEWOBJ).
	Args Tuple
	// Kwargs are keyword arguments of NEWOBJ_EX; nil otherwise.
	Kwargs *Dict
	// NewObj is true when the instance was made by cls.__new__ (NEWOBJ).
	NewObj bool
	// State is what pickle's BUILD passed to __setstate__, or nil.
	State any
	// HasState reports whether BUILD was applied (State may be None).
	HasState bool
	// ListItems and DictItems are what pickle appended to the instance
	// (a list or dict subclass); nil when none.
	ListItems []any
	DictItems *Dict
}

// String is the object's Repr.
func (o *Object) String() string { return Repr(o) }

// Exception is a Python exception instance: its class, its args and any
// instance state. It is a Go error; errors.As finds it in a job failure.
type Exception struct {
	Class Global
	Args  Tuple
	// State is the instance __dict__, when the exception carried one.
	State any
}

// NewException makes an exception of the given Python class, e.g.
// NewException("builtins", "ValueError", "bad input").
func NewException(module, name string, args ...any) *Exception {
	return &Exception{Class: Global{module, name}, Args: Tuple(args)}
}

// Error returns "Name: message", like Python's traceback line.
func (e *Exception) Error() string {
	msg := e.Message()
	if msg == "" {
		return e.Class.Name
	}
	return e.Class.Name + ": " + msg
}

// Message is str(exception): the single argument, or the repr of the args tuple.
func (e *Exception) Message() string {
	switch len(e.Args) {
	case 0:
		return ""
	case 1:
		if s, ok := e.Args[0].(string); ok {
			return s
		}
		return Repr(e.Args[0])
	default:
		return Repr(e.Args)
	}
}

// Is matches another *Exception of the same class, so that
// errors.Is(err, arqcompat.NewException("builtins", "ValueError")) works.
func (e *Exception) Is(target error) bool {
	t, ok := target.(*Exception)
	return ok && t.Class == e.Class && len(t.Args) == 0
}

// IsCancellation reports whether v is an asyncio.CancelledError, the result
// arq stores for an aborted job.
func IsCancellation(v any) bool {
	e, ok := v.(*Exception)
	return ok && e.Class.Name == "CancelledError" && (e.Class.Module == "asyncio.exceptions" || e.Class.Module == "concurrent.futures._base" || e.Class.Module == "asyncio")
}

// Repr renders a value the way Python's repr would, for logs and the CLI.
func Repr(v any) string {
	var b strings.Builder
	repr(&b, v, 0)
	return b.String()
}

// ReprArgs renders call arguments as arq's args_to_string does: "1, 2, a=3".
func ReprArgs(args []any, kwargs *Dict) string {
	var parts []string
	for _, a := range args {
		parts = append(parts, Repr(a))
	}
	if kwargs != nil {
		for _, it := range kwargs.Items() {
			k, ok := it.Key.(string)
			if !ok {
				k = Repr(it.Key)
			}
			parts = append(parts, k+"="+Repr(it.Value))
		}
	}
	return strings.Join(parts, ", ")
}

func reprSeq(b *strings.Builder, open, close string, items []any, depth int) {
	b.WriteString(open)
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		repr(b, it, depth+1)
	}
	b.WriteString(close)
}

func repr(b *strings.Builder, v any, depth int) {
	if depth > 64 {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case string:
		b.WriteString(pyQuote(x))
	case []byte:
		b.WriteString("b" + pyQuote(string(x)))
	case ByteArray:
		b.WriteString("bytearray(b" + pyQuote(string(x)) + ")")
	case float64:
		b.WriteString(FormatFloat(x))
	case Tuple:
		if len(x) == 1 {
			b.WriteString("(")
			repr(b, x[0], depth+1)
			b.WriteString(",)")
			return
		}
		reprSeq(b, "(", ")", x, depth)
	case []any:
		reprSeq(b, "[", "]", x, depth)
	case Set:
		if len(x) == 0 {
			b.WriteString("set()")
			return
		}
		reprSeq(b, "{", "}", x, depth)
	case FrozenSet:
		if len(x) == 0 {
			b.WriteString("frozenset()")
			return
		}
		reprSeq(b, "frozenset({", "})", x, depth)
	case *Dict:
		b.WriteString("{")
		for i, it := range x.Items() {
			if i > 0 {
				b.WriteString(", ")
			}
			repr(b, it.Key, depth+1)
			b.WriteString(": ")
			repr(b, it.Value, depth+1)
		}
		b.WriteString("}")
	case time.Time:
		if n, ok := naiveOf(x); ok {
			repr(b, n, depth)
			return
		}
		fmt.Fprintf(b, "datetime.datetime(%d, %d, %d, ", x.Year(), int(x.Month()), x.Day())
		reprClock(b, x.Hour(), x.Minute(), x.Second(), x.Nanosecond()/1000)
		if ianaName(x.Location()) != "" && isFold(x) {
			b.WriteString(", fold=1")
		}
		b.WriteString(", tzinfo=")
		_, off := x.Zone()
		reprZone(b, x.Location(), time.Duration(off)*time.Second)
		b.WriteString(")")
	case NaiveDateTime:
		fmt.Fprintf(b, "datetime.datetime(%d, %d, %d, ", x.Year(), int(x.Month()), x.Day())
		reprClock(b, x.Hour(), x.Minute(), x.Second(), x.Nanosecond()/1000)
		b.WriteString(")")
	case Date:
		fmt.Fprintf(b, "datetime.date(%d, %d, %d)", x.Year, int(x.Month), x.Day)
	case TimeOfDay:
		b.WriteString("datetime.time(")
		reprClock(b, x.Hour, x.Minute, x.Second, x.Microsecond)
		if x.Location != nil {
			b.WriteString(", tzinfo=")
			_, off := time.Date(2000, 1, 1, x.Hour, x.Minute, x.Second, 0, x.Location).Zone()
			reprZone(b, x.Location, time.Duration(off)*time.Second)
		}
		b.WriteString(")")
	case time.Duration:
		reprTimedelta(b, x)
	case Decimal:
		b.WriteString("Decimal('" + string(x) + "')")
	case UUID:
		b.WriteString("UUID('" + x.String() + "')")
	case *Exception:
		b.WriteString(x.Class.Name)
		reprSeq(b, "(", ")", x.Args, depth)
	case *Object:
		reprObject(b, x, depth)
	case Global:
		b.WriteString("<" + x.String() + ">")
	default:
		if isModelValue(x) { // int64, *big.Int
			fmt.Fprintf(b, "%v", x)
			return
		}
		if reprMapped(b, x, depth) {
			return
		}
		if nv, err := Normalize(x); err == nil && isModelValue(nv) {
			repr(b, nv, depth)
			return
		}
		fmt.Fprintf(b, "%v", x)
	}
}

// reprClock writes the time fields of a datetime or time repr as CPython
// does: hour and minute always, the second when it or the microsecond is
// not zero, the microsecond when it is not zero.
func reprClock(b *strings.Builder, h, m, sec, us int) {
	fmt.Fprintf(b, "%d, %d", h, m)
	if sec != 0 || us != 0 {
		fmt.Fprintf(b, ", %d", sec)
	}
	if us != 0 {
		fmt.Fprintf(b, ", %d", us)
	}
}

// reprZone writes a tzinfo as the datetime.timezone goarq encodes it as:
// datetime.timezone.utc, or a fixed offset with its name when the name is
// not the default one.
func reprZone(b *strings.Builder, loc *time.Location, off time.Duration) {
	if loc == time.UTC {
		b.WriteString("datetime.timezone.utc")
		return
	}
	if key := ianaName(loc); key != "" {
		b.WriteString("zoneinfo.ZoneInfo(key=" + pyQuote(key) + ")")
		return
	}
	b.WriteString("datetime.timezone(")
	reprTimedelta(b, off)
	if name, _ := time.Date(2000, 1, 1, 0, 0, 0, 0, loc).Zone(); name != "" && name != utcOffsetName(off) && loc != time.Local {
		b.WriteString(", " + pyQuote(name))
	}
	b.WriteString(")")
}

// timedeltaFields splits a duration as timedelta normalizes it: days
// (negative for a negative duration), then seconds in [0, 86400) and
// microseconds in [0, 1e6); below a microsecond is dropped.
func timedeltaFields(d time.Duration) (days, secs, us int64) {
	total := int64(d / time.Microsecond)
	days = total / 86_400_000_000
	rem := total % 86_400_000_000
	if rem < 0 {
		rem += 86_400_000_000
		days--
	}
	return days, rem / 1_000_000, rem % 1_000_000
}

// reprTimedelta writes a duration as CPython's timedelta repr: normalized
// days, seconds and microseconds, zero fields left out.
func reprTimedelta(b *strings.Builder, d time.Duration) {
	days, secs, us := timedeltaFields(d)
	var parts []string
	if days != 0 {
		parts = append(parts, fmt.Sprintf("days=%d", days))
	}
	if secs != 0 {
		parts = append(parts, fmt.Sprintf("seconds=%d", secs))
	}
	if us != 0 {
		parts = append(parts, fmt.Sprintf("microseconds=%d", us))
	}
	if len(parts) == 0 {
		parts = []string{"0"}
	}
	b.WriteString("datetime.timedelta(" + strings.Join(parts, ", ") + ")")
}

// FormatFloat formats a float as Python's repr does: 1.0, 0.1, 1e+16, inf, nan.
func FormatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if a := math.Abs(f); a == 0 || (a >= 1e-4 && a < 1e16) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}

func pyQuote(s string) string {
	q := strconv.Quote(s)
	if !strings.Contains(s, "'") {
		return "'" + strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`) + "'"
	}
	return q
}

// normalizeInt returns an int64 when b fits, b otherwise.
func normalizeInt(b *big.Int) any {
	if b.IsInt64() {
		return b.Int64()
	}
	return b
}
