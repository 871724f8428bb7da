package arqcompat

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strings"
	"time"
)

// This file turns Go values outside the model (named types, typed slices,
// maps, structs, pointers) into the model, for every encoder.

// Normalize converts a Go value outside the model into the model: named
// numeric and string types to their base type, typed slices to []any, maps
// to *Dict (keys sorted, see keyOrder), structs to *Dict of exported fields (named by an
// `arq` or `json` tag), pointers to what they point to.
//
// A value of a type that implements Mapped becomes the *Object that Python
// unpickles as an instance of its class.
func Normalize(v any) (any, error) {
	return normalizeWith(reflect.ValueOf(v), false, 0)
}

// normalizePlain is Normalize for JSON and msgpack: a mapped value becomes
// what model_dump(mode='json') gives, a dict, a list or an enum's value.
func normalizePlain(v any) (any, error) {
	return normalizeWith(reflect.ValueOf(v), true, 0)
}

func normalize(rv reflect.Value, plain bool, depth int) (any, error) {
	if depth > maxEncodeDepth {
		return nil, fmt.Errorf("value nested deeper than %d", maxEncodeDepth)
	}
	if !rv.IsValid() {
		return nil, nil
	}
	if rv.Kind() != reflect.Pointer && rv.Kind() != reflect.Interface && rv.Type().PkgPath() != "" {
		if cls, ok := mappedClass(rv.Type()); ok {
			return normalizeMapped(rv, cls, plain, depth)
		}
	}
	return normalizeBase(rv, plain, depth)
}

// normalizeBase is normalize without the Mapped check: the value as its
// Go kind.
func normalizeBase(rv reflect.Value, plain bool, depth int) (any, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if d, ok := rv.Interface().(time.Duration); ok {
			return d, nil
		}
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u <= math.MaxInt64 {
			return int64(u), nil
		}
		return new(big.Int).SetUint64(u), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		if rv.Kind() == reflect.Pointer {
			if b, ok := rv.Interface().(*big.Int); ok {
				return b, nil
			}
			if d, ok := rv.Interface().(*Dict); ok {
				return d, nil
			}
		}
		return normalizeWith(rv.Elem(), plain, depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return b, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			v, err := normalizeWith(rv.Index(i), plain, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case reflect.Map:
		if rv.IsNil() {
			return nil, nil
		}
		type kv struct {
			k, v any
			h    string
		}
		var kvs []kv
		iter := rv.MapRange()
		for iter.Next() {
			k, err := normalizeWith(iter.Key(), plain, depth+1)
			if err != nil {
				return nil, err
			}
			h, err := keyHash(k)
			if err != nil {
				return nil, err
			}
			val, err := normalizeWith(iter.Value(), plain, depth+1)
			if err != nil {
				return nil, err
			}
			kvs = append(kvs, kv{k, val, h})
		}
		sort.Slice(kvs, func(i, j int) bool { return keyOrder(kvs[i].k, kvs[j].k, kvs[i].h, kvs[j].h) < 0 })
		d := &Dict{}
		for _, p := range kvs {
			if err := d.Set(p.k, p.v); err != nil {
				return nil, err
			}
		}
		return d, nil
	case reflect.Struct:
		if t, ok := rv.Interface().(time.Time); ok {
			return t, nil
		}
		d := &Dict{}
		rt := rv.Type()
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if !f.IsExported() {
				continue
			}
			name, skip := fieldName(f)
			if skip {
				continue
			}
			val, err := normalizeWith(rv.Field(i), plain, depth+1)
			if err != nil {
				return nil, err
			}
			if err := d.Set(name, val); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("cannot represent Go type %s as a Python value", rv.Type())
}

// keyOrder orders the keys of a Go map as Python's sorted() would: numbers
// by value (9 before 10), str by code point, bytes byte by byte, tuples item
// by item. Keys that sorted() cannot compare (of different types, or None,
// sets, objects) are ordered by Python type name, then by their hashes ha
// and hb, so that the order is the same on every run.
func keyOrder(a, b any, ha, hb string) int {
	if c := keyCompare(a, b); c != 0 {
		return c
	}
	return strings.Compare(ha, hb)
}

func keyCompare(a, b any) int {
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y) // UTF-8 byte order is code point order
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case []byte:
		if y, ok := b.([]byte); ok {
			return bytes.Compare(x, y)
		}
	case Tuple:
		if y, ok := b.(Tuple); ok {
			for i := 0; i < len(x) && i < len(y); i++ {
				if c := keyCompare(x[i], y[i]); c != 0 {
					return c
				}
			}
			return cmp.Compare(len(x), len(y))
		}
	}
	if fa, ok := keyNumber(a); ok {
		if fb, ok := keyNumber(b); ok {
			return fa.Cmp(fb)
		}
	}
	return strings.Compare(pyTypeName(a), pyTypeName(b))
}

// keyNumber is a bool, int or float key as an exact big.Float; NaN is not
// ordered.
func keyNumber(v any) (*big.Float, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewFloat(1), true
		}
		return big.NewFloat(0), true
	case int64:
		return new(big.Float).SetInt64(x), true
	case *big.Int:
		return new(big.Float).SetInt(x), true
	case float64:
		if !math.IsNaN(x) {
			return big.NewFloat(x), true
		}
	}
	return nil, false
}

// normalizeWith keeps model values as they are and normalizes the rest.
func normalizeWith(rv reflect.Value, plain bool, depth int) (any, error) {
	if !rv.IsValid() {
		return nil, nil
	}
	if rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil, nil
		}
		rv = rv.Elem()
	}
	v := rv.Interface()
	if isModelValue(v) {
		return v, nil
	}
	return normalize(rv, plain, depth)
}

func isModelValue(v any) bool {
	switch v.(type) {
	case nil, bool, int64, *big.Int, float64, string, []byte, ByteArray, Tuple, []any, *Dict, Set, FrozenSet,
		time.Time, NaiveDateTime, Date, TimeOfDay, time.Duration, Decimal, UUID, Global, *Exception, *Object:
		return true
	}
	return false
}

// fieldName returns the dict key of a struct field: the `arq` tag, else the
// `json` tag, else the field name; "-" skips the field.
func fieldName(f reflect.StructField) (string, bool) {
	for _, tag := range []string{"arq", "json"} {
		if t, ok := f.Tag.Lookup(tag); ok {
			name, _, _ := strings.Cut(t, ",")
			if name == "-" {
				return "", true
			}
			if name != "" {
				return name, false
			}
		}
	}
	return f.Name, false
}
