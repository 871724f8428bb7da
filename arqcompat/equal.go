package arqcompat

import (
	"bytes"
	"math"
	"math/big"
	"time"
)

// Equal reports whether two model values are the same Python value of the
// same Python type: 1 and 1.0 differ, as do a tuple and a list, and sets
// compare without order. Useful in tests and to compare decoded payloads.
func Equal(a, b any) bool { return equal(a, b, 0) }

func equal(a, b any, depth int) bool {
	if t, ok := a.(time.Time); ok {
		if n, ok := naiveOf(t); ok {
			a = n
		}
	}
	if t, ok := b.(time.Time); ok {
		if n, ok := naiveOf(t); ok {
			b = n
		}
	}
	if depth > maxEncodeDepth {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case *big.Int:
			return y.IsInt64() && y.Int64() == x
		}
		return false
	case *big.Int:
		switch y := b.(type) {
		case int64:
			return x.IsInt64() && x.Int64() == y
		case *big.Int:
			return x.Cmp(y) == 0
		}
		return false
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case ByteArray:
		y, ok := b.(ByteArray)
		return ok && bytes.Equal(x, y)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && equalSeq(x, y, depth)
	case []any:
		y, ok := b.([]any)
		return ok && equalSeq(x, y, depth)
	case Set:
		y, ok := b.(Set)
		return ok && equalUnordered(x, y)
	case FrozenSet:
		y, ok := b.(FrozenSet)
		return ok && equalUnordered(x, y)
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, it := range x.Items() {
			v, ok := y.Get(it.Key)
			if !ok || !equal(it.Value, v, depth+1) {
				return false
			}
		}
		return true
	case time.Time:
		y, ok := b.(time.Time)
		if !ok || !x.Equal(y) {
			return false
		}
		_, ox := x.Zone()
		_, oy := y.Zone()
		return ox == oy
	case NaiveDateTime:
		y, ok := b.(NaiveDateTime)
		return ok && x.Equal(y.Time)
	case Date, TimeOfDay, time.Duration, Decimal, UUID, Global:
		return a == b
	case *Exception:
		y, ok := b.(*Exception)
		return ok && x.Class == y.Class && equalSeq(x.Args, y.Args, depth)
	case *Object:
		y, ok := b.(*Object)
		return ok && x.Class == y.Class && x.NewObj == y.NewObj && equalSeq(x.Args, y.Args, depth) &&
			x.HasState == y.HasState && equal(x.State, y.State, depth+1)
	}
	return false
}

func equalSeq(a, b []any, depth int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equal(a[i], b[i], depth+1) {
			return false
		}
	}
	return true
}

func equalUnordered(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, v := range a {
		h, err := keyHash(v)
		if err != nil {
			return false
		}
		seen[h]++
	}
	for _, v := range b {
		h, err := keyHash(v)
		if err != nil || seen[h] == 0 {
			return false
		}
		seen[h]--
	}
	return true
}
