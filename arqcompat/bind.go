package arqcompat

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file reads the instances CPython and pydantic pickle, as decoded
// into *Object, for Assign. Each layout was read with pickletools.dis on
// CPython 3.11, pydantic 2.14.4 (and pydantic.v1):
//
//	pydantic v2     NEWOBJ cls(), BUILD {'__dict__': {...}, '__pydantic_extra__': None|{...},
//	                '__pydantic_fields_set__': {...}, '__pydantic_private__': None|{...}}
//	pydantic v1     NEWOBJ cls(), BUILD {'__dict__': {...}, '__fields_set__': {...},
//	                '__private_attribute_values__': {...}}
//	dataclass       NEWOBJ cls(), BUILD {field: value} (plain and frozen alike)
//	slots=True      NEWOBJ cls(), BUILD (None, {slot: value})
//	slots, frozen   NEWOBJ cls(), BUILD [values in field order] (dataclasses._dataclass_setstate)
//	NamedTuple      NEWOBJ cls(*values), no BUILD
//	Enum, IntEnum,  REDUCE cls(value), no BUILD
//	StrEnum, Flag
//
// and the forms goarq writes for a Mapped type: REDUCE Cls.model_validate
// (or Cls.parse_obj) with a dict, and REDUCE cls(*values).

// objectFields returns what an instance carries: its fields by name, or
// its field values by position. ok is false for an object none of the
// layouts above describes.
func objectFields(o *Object) (named *Dict, positional []any, ok bool) {
	if o.ListItems != nil || o.DictItems != nil {
		return nil, nil, false
	}
	if !o.HasState {
		if len(o.Args) == 1 && isValidatorCall(o.Class.Name) {
			d, ok := o.Args[0].(*Dict)
			return d, nil, ok
		}
		if len(o.Args) > 0 && o.Kwargs == nil {
			return nil, o.Args, true // a NamedTuple, or cls(*values)
		}
		return nil, nil, false
	}
	if len(o.Args) != 0 || !o.NewObj {
		return nil, nil, false
	}
	switch st := o.State.(type) {
	case *Dict:
		if inner, found := st.Get("__dict__"); found { // pydantic
			d, ok := inner.(*Dict)
			if !ok {
				return nil, nil, false
			}
			if extra, _ := st.Get("__pydantic_extra__"); extra != nil {
				if ed, ok := extra.(*Dict); ok && ed.Len() > 0 {
					merged := &Dict{}
					for _, it := range d.Items() {
						_ = merged.Set(it.Key, it.Value)
					}
					for _, it := range ed.Items() {
						_ = merged.Set(it.Key, it.Value)
					}
					d = merged
				}
			}
			return d, nil, true
		}
		return st, nil, true // a dataclass or a plain instance: its __dict__
	case Tuple: // slots: (__dict__ or None, {slot: value})
		if len(st) != 2 {
			return nil, nil, false
		}
		slots, ok := st[1].(*Dict)
		if !ok {
			return nil, nil, false
		}
		if st[0] == nil {
			return slots, nil, true
		}
		d, ok := st[0].(*Dict)
		if !ok {
			return nil, nil, false
		}
		merged := &Dict{}
		for _, it := range d.Items() {
			_ = merged.Set(it.Key, it.Value)
		}
		for _, it := range slots.Items() {
			_ = merged.Set(it.Key, it.Value)
		}
		return merged, nil, true
	case []any: // a slots=True, frozen=True dataclass
		return nil, st, true
	}
	return nil, nil, false
}

// fieldsSetOf reads a pickled pydantic model's fields set, sorted.
func fieldsSetOf(o *Object) (FieldsSet, bool) {
	if len(o.Args) == 1 && isValidatorCall(o.Class.Name) {
		d, ok := o.Args[0].(*Dict)
		if !ok {
			return nil, false
		}
		set := make(FieldsSet, 0, d.Len())
		for _, it := range d.Items() {
			if s, ok := it.Key.(string); ok {
				set = append(set, s)
			}
		}
		sort.Strings(set)
		return set, true
	}
	st, ok := o.State.(*Dict)
	if !ok || !o.HasState {
		return nil, false
	}
	v, found := st.Get("__pydantic_fields_set__")
	if !found {
		if v, found = st.Get("__fields_set__"); !found {
			return nil, false
		}
	}
	items, ok := sequence(v)
	if !ok {
		return nil, false
	}
	set := make(FieldsSet, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			set = append(set, s)
		}
	}
	sort.Strings(set)
	return set, true
}

func isValidatorCall(name string) bool {
	return strings.HasSuffix(name, ".model_validate") || strings.HasSuffix(name, ".parse_obj")
}

// className is an object's class name as Python's type() gives it: without
// the .model_validate a Go-written pydantic call carries.
func className(g Global) Global {
	if i := strings.LastIndexByte(g.Name, '.'); i > 0 && isValidatorCall(g.Name) {
		g.Name = g.Name[:i]
	}
	return g
}

// isClass reports whether g names cls, or its model_validate (parse_obj).
func isClass(g Global, cls Class) bool {
	if g.Module != cls.Module {
		return false
	}
	if g.Name == cls.Name {
		return true
	}
	return strings.HasPrefix(g.Name, cls.Name) && isValidatorCall(g.Name) && strings.IndexByte(g.Name[len(cls.Name)+1:], '.') < 0 && g.Name[len(cls.Name)] == '.'
}

// enumValue returns the value of an enum member (Class(value), no state).
func enumValue(o *Object) (any, bool) {
	if o.NewObj || o.HasState || len(o.Args) != 1 || o.Kwargs != nil || o.ListItems != nil || o.DictItems != nil {
		return nil, false
	}
	switch o.Args[0].(type) {
	case bool, int64, float64, string, []byte:
		return o.Args[0], true
	}
	return nil, false
}

// assignStruct binds a dict or an instance into a struct. A dict binds by
// key, missing keys leaving their fields as they are; an instance must
// carry every field of the struct (bar those tagged omitempty), by name or,
// for a NamedTuple or a frozen slots dataclass, by position.
func assignStruct(rv reflect.Value, src any, depth int) (bool, error) {
	const path = ""
	t := rv.Type()
	info := infoOf(t)
	fields := info.fields
	var named *Dict
	var positional []any
	isObject := false
	switch x := src.(type) {
	case *Dict:
		named = x
	case *Object:
		var ok bool
		if named, positional, ok = objectFields(x); !ok {
			return false, nil
		}
		// a Cls.model_validate(fields) call (what goarq writes) holds the
		// fields set, the others being Python's defaults; an instance holds
		// them all
		isObject = !isValidatorCall(x.Class.Name)
		if i := info.fieldsSet; i >= 0 {
			if set, ok := fieldsSetOf(x); ok {
				rv.Field(i).Set(reflect.ValueOf(set))
			}
		}
	case []any, Tuple: // a NamedTuple as JSON and msgpack carry it
		if !info.mapped || info.cls.Kind != NamedTuple {
			return false, nil
		}
		positional, _ = sequence(src)
	default:
		return false, nil
	}
	if positional != nil {
		if len(positional) != len(fields) {
			return true, &AssignError{Path: path, Want: t.String(), Expected: pyTypeFor(t), Got: pyTypeName(src),
				Msg: fmt.Sprintf("%s carries %d values by position, %s has %d fields", pyTypeName(src), len(positional), t, len(fields))}
		}
		for i, f := range fields {
			if err := assign(rv.Field(f.index), positional[i], depth+1, true); err != nil {
				return true, withPath(err, f.place)
			}
		}
		return true, nil
	}
	at := 0
	for _, f := range fields {
		v, i, present := named.getStrNear(f.name, at)
		if !present {
			if isObject && !f.omitEmpty {
				return true, &AssignError{Path: path, Want: t.String(), Expected: pyTypeFor(t), Got: pyTypeName(src),
					Msg: fmt.Sprintf("%s has no field '%s' for %s.%s", pyTypeName(src), f.name, t, t.Field(f.index).Name)}
			}
			continue
		}
		at = i + 1
		if err := assign(rv.Field(f.index), v, depth+1, true); err != nil {
			return true, withPath(err, f.place)
		}
	}
	return true, nil
}

// assignBigNumber stores an int, float or Decimal into a *big.Float or a
// *big.Rat, exactly for an int or a finite Decimal.
func assignBigNumber(rv reflect.Value, src any, fail func(string) error) error {
	var s string
	switch x := src.(type) {
	case int64:
		s = fmt.Sprint(x)
	case *big.Int:
		s = x.String()
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fail(fmt.Sprintf("%s has no %s value", FormatFloat(x), rv.Type()))
		}
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case Decimal:
		s = string(x)
	default:
		return fail("")
	}
	if rv.Type() == typeBigRat {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return fail(fmt.Sprintf("%s has no exact value", Repr(src)))
		}
		rv.Set(reflect.ValueOf(r))
		return nil
	}
	f, ok := new(big.Float).SetPrec(256).SetString(s)
	if !ok {
		return fail(fmt.Sprintf("%s has no *big.Float value", Repr(src)))
	}
	rv.Set(reflect.ValueOf(f))
	return nil
}

// decimalFloat is float(Decimal): NaN and the infinities included.
func decimalFloat(d Decimal) (float64, error) {
	s := strings.ToLower(string(d))
	switch strings.TrimLeft(s, "+-") {
	case "nan", "snan":
		return math.NaN(), nil
	case "infinity", "inf":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	}
	f, err := strconv.ParseFloat(string(d), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("Decimal('%s') does not convert to float", string(d))
	}
	return f, nil
}

// parseISOTime reads the ISO 8601 forms pydantic's model_dump(mode='json')
// and datetime.isoformat() write: an aware datetime ("...Z" or "+02:00"),
// a naive one (a time in NaiveLocation) or a date (midnight UTC).
func parseISOTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, naiveLoc); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s is not an ISO 8601 datetime or date", pyQuote(s))
}

// tzinfoName names the tzinfo class of a datetime that did not decode.
func tzinfoName(dt *Object) string {
	if len(dt.Args) == 2 {
		switch tz := dt.Args[1].(type) {
		case *Object:
			return className(tz.Class).String()
		case Global:
			return tz.String()
		}
	}
	return "?"
}

// reprObject writes an instance as Python's repr of a pydantic model, a
// dataclass or a NamedTuple reads, Order(id=1, email='a@b.c'), from the
// fields its pickle carries: by name when it has them, by position (a
// NamedTuple, a frozen slots dataclass) when not. An enum member prints as
// the call that makes it, Priority(3): its pickle holds no member name.
func reprObject(b *strings.Builder, o *Object, depth int) {
	name := className(o.Class).Name
	named, positional, ok := objectFields(o)
	switch {
	case ok && named != nil:
		b.WriteString(name + "(")
		for i, it := range named.Items() {
			if i > 0 {
				b.WriteString(", ")
			}
			if k, isStr := it.Key.(string); isStr {
				b.WriteString(k + "=")
			}
			repr(b, it.Value, depth+1)
		}
		b.WriteString(")")
	case ok:
		reprSeq(b, name+"(", ")", positional, depth)
	default:
		reprSeq(b, name+"(", ")", o.Args, depth)
	}
}

// reprMapped writes a Go value of a Mapped type as Python's repr of its
// class reads: Order(id=1, ...) with the Python field names, and an enum
// whose Go type has a String method as <Priority.HIGH: 3>.
func reprMapped(b *strings.Builder, v any, depth int) bool {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() == reflect.Pointer || rv.Type().PkgPath() == "" {
		return false
	}
	cls, ok := mappedClass(rv.Type())
	if !ok {
		return false
	}
	short := cls.Name
	if i := strings.LastIndexByte(short, '.'); i >= 0 {
		short = short[i+1:]
	}
	if cls.Kind == Enum {
		base, err := normalizeBase(rv, false, 0)
		if err != nil {
			return false
		}
		if s, isStringer := v.(fmt.Stringer); isStringer {
			b.WriteString("<" + short + "." + s.String() + ": ")
			repr(b, base, depth+1)
			b.WriteString(">")
			return true
		}
		b.WriteString(short + "(")
		repr(b, base, depth+1)
		b.WriteString(")")
		return true
	}
	if rv.Kind() != reflect.Struct {
		return false
	}
	b.WriteString(short + "(")
	for i, f := range structFields(rv.Type()) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name + "=")
		repr(b, rv.Field(f.index).Interface(), depth+1)
	}
	b.WriteString(")")
	return true
}
