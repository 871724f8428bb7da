package arqcompat

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"time"
)

// AssignError reports a Python value that does not fit a Go type.
type AssignError struct {
	// Path is where in the value, as Python subscripts: "" for the value
	// itself, "[2]" for a list item, "['name']" for a dict item or a struct
	// field (by its dict key), "[2]['name']" deeper.
	Path     string
	Want     string // the Go type
	Expected string // the Python type that converts to it: "int", "datetime", "list"
	Got      string // the Python type of the value
	Msg      string // more detail, optional
}

// Error reads as Python's TypeError does: "['age'] must be int, not str",
// or gives the detail: "[2]: 300 is out of range for int8".
func (e *AssignError) Error() string {
	if e.Msg != "" {
		if e.Path != "" {
			return e.Path + ": " + e.Msg
		}
		return e.Msg
	}
	s := fmt.Sprintf("must be %s, not %s", e.Expected, e.Got)
	if e.Path != "" {
		s = e.Path + " " + s
	}
	return s
}

// pyTypeFor is the Python type whose values Assign converts to t.
func pyTypeFor(t reflect.Type) string {
	if t.PkgPath() != "" {
		if cls, ok := mappedClass(t); ok {
			return cls.Name
		}
	}
	switch t {
	case typeTime, reflect.TypeOf(NaiveDateTime{}):
		return "datetime"
	case typeDuration:
		return "timedelta"
	case typeBigInt:
		return "int"
	case reflect.TypeOf(Tuple{}):
		return "tuple"
	case reflect.TypeOf(Set{}):
		return "set"
	case reflect.TypeOf(FrozenSet{}):
		return "frozenset"
	case reflect.TypeOf(ByteArray{}):
		return "bytearray"
	case reflect.TypeOf(Date{}):
		return "date"
	case reflect.TypeOf(TimeOfDay{}):
		return "time"
	case reflect.TypeOf(Decimal("")):
		return "Decimal"
	case reflect.TypeOf(UUID{}):
		return "UUID"
	case reflect.TypeOf(Global{}):
		return "type"
	case reflect.TypeOf((*Dict)(nil)):
		return "dict"
	case reflect.TypeOf((*Exception)(nil)):
		return "BaseException"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.String:
		return "str"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "bytes"
		}
		return "list"
	case reflect.Map, reflect.Struct:
		return "dict"
	case reflect.Pointer:
		return pyTypeFor(t.Elem())
	}
	return "object"
}

// Assign stores a model value into the Go value dst points to, converting
// as a Go user expects: Python int into any Go integer type (range-checked),
// int or float into floats, list, tuple or set into slices and arrays, dict
// into maps and structs (by `arq` or `json` tag, else field name), naive or
// aware datetimes into time.Time (a naive one in NaiveLocation, so that it
// encodes as naive again), numbers of seconds or timedelta into
// time.Duration. A destination of type any receives the model value as is.
func Assign(dst any, src any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("arqcompat.Assign: destination must be a non-nil pointer, got %T", dst)
	}
	return AssignValue(rv.Elem(), src)
}

// AssignValue is Assign for a settable reflect.Value.
func AssignValue(rv reflect.Value, src any) error { return assign(rv, src, 0, false) }

// AssignField is AssignValue for a field of a model: as pydantic's lax
// mode does, and as a struct's fields always do, it also takes ISO 8601
// strings for a time.Time (what model_dump(mode='json') writes for a
// datetime or date), which a bare time.Time does not.
func AssignField(rv reflect.Value, src any) error { return assign(rv, src, 0, true) }

var (
	typeTime     = reflect.TypeOf(time.Time{})
	typeDuration = reflect.TypeOf(time.Duration(0))
	typeBigInt   = reflect.TypeOf((*big.Int)(nil))
	typeBigFloat = reflect.TypeOf((*big.Float)(nil))
	typeBigRat   = reflect.TypeOf((*big.Rat)(nil))
)

func assign(rv reflect.Value, src any, depth int, lax bool) error {
	const path = "" // each caller of a nested assign prefixes its place (withPath), on failure only
	if depth > maxEncodeDepth {
		return &AssignError{Path: path, Want: rv.Type().String(), Expected: pyTypeFor(rv.Type()), Got: pyTypeName(src), Msg: "nested too deeply"}
	}
	fail := func(msg string) error {
		return &AssignError{Path: path, Want: rv.Type().String(), Expected: pyTypeFor(rv.Type()), Got: pyTypeName(src), Msg: msg}
	}
	t := rv.Type()
	if assignScalar(rv, t, src) {
		return nil
	}
	if src != nil && reflect.TypeOf(src) == t {
		rv.Set(reflect.ValueOf(src))
		return nil
	}
	if t.Kind() == reflect.Interface {
		if src == nil {
			rv.Set(reflect.Zero(t))
			return nil
		}
		if reflect.TypeOf(src).Implements(t) {
			rv.Set(reflect.ValueOf(src))
			return nil
		}
		return fail("")
	}
	if t.Kind() == reflect.Pointer {
		if src == nil {
			rv.Set(reflect.Zero(t))
			return nil
		}
		if t == typeBigInt {
			switch x := src.(type) {
			case int64:
				rv.Set(reflect.ValueOf(big.NewInt(x)))
				return nil
			}
			return fail("")
		}
		if t == typeBigFloat || t == typeBigRat {
			return assignBigNumber(rv, src, fail)
		}
		p := reflect.New(t.Elem())
		if err := assign(p.Elem(), src, depth+1, lax); err != nil {
			return err
		}
		rv.Set(p)
		return nil
	}
	if src == nil {
		if k := t.Kind(); k == reflect.Slice || k == reflect.Map {
			rv.Set(reflect.Zero(t)) // None is a nil slice or map, which encodes as None again
			return nil
		}
		return fail("")
	}
	if o, isObj := src.(*Object); isObj {
		if t.PkgPath() != "" {
			if cls, ok := mappedClass(t); ok && !isClass(o.Class, cls) {
				return fail("") // an instance of another class: "must be Order, not Customer"
			}
		}
		if k := t.Kind(); k != reflect.Struct && k != reflect.Interface && k != reflect.Map && k != reflect.Slice && k != reflect.Array {
			if v, ok := enumValue(o); ok {
				src = v // an enum member binds as its value
			}
		}
	}
	switch t {
	case typeTime:
		switch x := src.(type) {
		case NaiveDateTime:
			// the wall clock, in the location that encodes as naive again
			rv.Set(reflect.ValueOf(time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), naiveLoc)))
			return nil
		case Date:
			rv.Set(reflect.ValueOf(time.Date(x.Year, x.Month, x.Day, 0, 0, 0, 0, time.UTC)))
			return nil
		case string: // in a model: an ISO 8601 string, as model_dump(mode='json') writes datetimes and dates
			if !lax {
				return fail("")
			}
			tm, err := parseISOTime(x)
			if err != nil {
				return fail("") // "must be datetime, not str"
			}
			rv.Set(reflect.ValueOf(tm))
			return nil
		case *Object:
			if x.Class == (Global{"datetime", "datetime"}) {
				return fail(fmt.Sprintf("datetime with tzinfo %s is not supported: use datetime.timezone, zoneinfo.ZoneInfo, pytz or dateutil zones", tzinfoName(x)))
			}
		}
		return fail("")
	case typeDuration:
		switch x := src.(type) {
		case int64:
			rv.SetInt(int64(time.Duration(x) * time.Second))
			return nil
		case float64:
			rv.SetInt(int64(x * float64(time.Second)))
			return nil
		}
		return fail("")
	}
	switch t.Kind() {
	case reflect.Bool:
		if b, ok := src.(bool); ok {
			rv.SetBool(b)
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := src.(int64)
		if !ok {
			if x, big := src.(*big.Int); big {
				return fail(fmt.Sprintf("%s is out of range for %s", x, t))
			}
			break
		}
		if rv.OverflowInt(n) {
			return fail(fmt.Sprintf("%d is out of range for %s", n, t))
		}
		rv.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		var u uint64
		switch x := src.(type) {
		case int64:
			if x < 0 {
				return fail(fmt.Sprintf("%d is out of range for %s", x, t))
			}
			u = uint64(x)
		case *big.Int:
			if !x.IsUint64() {
				return fail(fmt.Sprintf("%s is out of range for %s", x, t))
			}
			u = x.Uint64()
		default:
			return fail("")
		}
		if rv.OverflowUint(u) {
			return fail(fmt.Sprintf("%d is out of range for %s", u, t))
		}
		rv.SetUint(u)
		return nil
	case reflect.Float32, reflect.Float64:
		switch x := src.(type) {
		case float64:
			rv.SetFloat(x)
			return nil
		case int64:
			rv.SetFloat(float64(x))
			return nil
		case *big.Int:
			f, _ := new(big.Float).SetInt(x).Float64()
			if math.IsInf(f, 0) {
				return fail("int too large to convert to float")
			}
			rv.SetFloat(f)
			return nil
		case Decimal:
			f, err := decimalFloat(x)
			if err != nil {
				return fail(err.Error())
			}
			rv.SetFloat(f)
			return nil
		}
	case reflect.String:
		switch x := src.(type) {
		case string:
			rv.SetString(x)
			return nil
		case Decimal:
			rv.SetString(string(x))
			return nil
		case UUID:
			rv.SetString(x.String())
			return nil
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			switch x := src.(type) {
			case []byte:
				rv.SetBytes(append([]byte{}, x...))
				return nil
			case ByteArray:
				rv.SetBytes(append([]byte{}, x...))
				return nil
			}
		}
		items, ok := sequence(src)
		if !ok {
			break
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, it := range items {
			if err := assign(s.Index(i), it, depth+1, lax); err != nil {
				return withPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		rv.Set(s)
		return nil
	case reflect.Array:
		if s, isStr := src.(string); isStr && t == reflect.TypeOf(UUID{}) {
			u, err := ParseUUID(s) // a UUID as model_dump(mode='json') writes it
			if err != nil {
				return fail("")
			}
			rv.Set(reflect.ValueOf(u))
			return nil
		}
		items, ok := sequence(src)
		if !ok {
			if b, isBytes := src.([]byte); isBytes && t.Elem().Kind() == reflect.Uint8 {
				items = make([]any, len(b))
				for i, c := range b {
					items[i] = int64(c)
				}
			} else {
				break
			}
		}
		if len(items) != t.Len() {
			return fail(fmt.Sprintf("%d items do not fit %s", len(items), t))
		}
		for i, it := range items {
			if err := assign(rv.Index(i), it, depth+1, lax); err != nil {
				return withPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return nil
	case reflect.Map:
		d, ok := src.(*Dict)
		if o, isObj := src.(*Object); isObj {
			d, _, _ = objectFields(o) // an instance's fields by name
			ok = d != nil
		}
		if !ok {
			break
		}
		m := reflect.MakeMapWithSize(t, d.Len())
		for _, it := range d.Items() {
			k := reflect.New(t.Key()).Elem()
			if err := assign(k, it.Key, depth+1, lax); err != nil {
				return withPath(err, ".keys()")
			}
			v := reflect.New(t.Elem()).Elem()
			if err := assign(v, it.Value, depth+1, lax); err != nil {
				return withPath(err, "["+Repr(it.Key)+"]")
			}
			m.SetMapIndex(k, v)
		}
		rv.Set(m)
		return nil
	case reflect.Struct:
		if s, isStr := src.(string); isStr && t == reflect.TypeOf(Date{}) {
			d, err := time.Parse(time.DateOnly, s) // a date as model_dump(mode='json') writes it
			if err != nil {
				return fail("")
			}
			rv.Set(reflect.ValueOf(Date{d.Year(), d.Month(), d.Day()}))
			return nil
		}
		if ok, err := assignStruct(rv, src, depth); ok {
			return err
		}
	}
	return fail("")
}

// assignScalar is assign's fast path for the values most fields hold: a
// str, an int, a float or a bool into a Go type of that kind, which
// assign would store the same way. It reports whether it stored src;
// everything else (a time.Duration, an int out of range, an object) is
// left to assign.
func assignScalar(rv reflect.Value, t reflect.Type, src any) bool {
	switch x := src.(type) {
	case string:
		if t.Kind() == reflect.String {
			rv.SetString(x)
			return true
		}
	case int64:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if t != typeDuration && !rv.OverflowInt(x) {
				rv.SetInt(x)
				return true
			}
		case reflect.Float32, reflect.Float64:
			rv.SetFloat(float64(x))
			return true
		}
	case float64:
		if k := t.Kind(); k == reflect.Float32 || k == reflect.Float64 {
			rv.SetFloat(x)
			return true
		}
	case bool:
		if t.Kind() == reflect.Bool {
			rv.SetBool(x)
			return true
		}
	}
	return false
}

// withPath puts the place of a nested value in front of its error's path.
func withPath(err error, place string) error {
	if ae, ok := err.(*AssignError); ok {
		ae.Path = place + ae.Path
	}
	return err
}

func sequence(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case Tuple:
		return x, true
	case Set:
		return x, true
	case FrozenSet:
		return x, true
	}
	return nil, false
}
