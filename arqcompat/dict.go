package arqcompat

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Item is one key/value pair of a Dict.
type Item struct {
	Key, Value any
}

// Dict is a Python dict: keys of any hashable Python type, insertion order
// kept, and Python's key equality (1, 1.0 and True are the same key).
type Dict struct {
	items []Item
	index map[any]int // keyed by indexKey
}

// complexKey is the index key of a value whose Python equality needs the
// keyHash string; str and int keys, the common case, index as themselves.
type complexKey string

// indexKey maps equal Python keys to equal Go map keys: str as string,
// int-valued numbers and bools as int64 (1 == 1.0 == True in Python),
// everything else by its keyHash.
func indexKey(key any) (any, error) {
	switch k := key.(type) {
	case string:
		return k, nil
	case int64:
		return k, nil
	case int:
		return int64(k), nil
	case bool:
		if k {
			return int64(1), nil
		}
		return int64(0), nil
	}
	h, err := keyHash(key)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(h, "n") && strings.HasSuffix(h, ";") {
		if n, err := strconv.ParseInt(h[1:len(h)-1], 10, 64); err == nil {
			return n, nil // an integral float or a small big.Int equals that int
		}
	}
	return complexKey(h), nil
}

// NewDict returns a dict holding the given key/value pairs in order:
// NewDict("a", 1, "b", 2). It panics on an odd count or an unhashable key,
// like a Python dict literal would fail; use Set for checked insertion.
func NewDict(kv ...any) *Dict {
	if len(kv)%2 != 0 {
		panic("arqcompat.NewDict: odd number of arguments")
	}
	d := &Dict{}
	for i := 0; i < len(kv); i += 2 {
		if err := d.Set(kv[i], kv[i+1]); err != nil {
			panic(err)
		}
	}
	return d
}

// Len is the number of items.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.items)
}

// Items returns the pairs in insertion order. The slice must not be modified.
func (d *Dict) Items() []Item {
	if d == nil {
		return nil
	}
	return d.items
}

// Keys returns the keys in insertion order.
func (d *Dict) Keys() []any {
	keys := make([]any, 0, d.Len())
	for _, it := range d.Items() {
		keys = append(keys, it.Key)
	}
	return keys
}

// Set inserts or replaces key. A replaced key keeps its position, as in Python.
func (d *Dict) Set(key, value any) error {
	h, err := indexKey(key)
	if err != nil {
		return err
	}
	if d.index == nil {
		d.index = make(map[any]int, 8)
	}
	if i, ok := d.index[h]; ok {
		d.items[i].Value = value
		return nil
	}
	d.index[h] = len(d.items)
	d.items = append(d.items, Item{key, value})
	return nil
}

// Get returns the value for key.
func (d *Dict) Get(key any) (any, bool) {
	if d == nil || d.index == nil {
		return nil, false
	}
	h, err := indexKey(key)
	if err != nil {
		return nil, false
	}
	i, ok := d.index[h]
	if !ok {
		return nil, false
	}
	return d.items[i].Value, true
}

// UnhashableError reports a value Python could not use as a dict key or set member.
type UnhashableError struct{ TypeName string }

func (e *UnhashableError) Error() string {
	return fmt.Sprintf("arqcompat: unhashable type: '%s'", e.TypeName)
}

// keyHash returns a string that is equal for two values exactly when Python
// considers them equal as dict keys, or an error for unhashable values.
func keyHash(v any) (string, error) {
	var b strings.Builder
	if err := hashKey(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func hashNumber(b *strings.Builder, f float64) {
	if f == math.Trunc(f) && !math.IsInf(f, 0) && math.Abs(f) < 1<<63 {
		b.WriteString("n" + strconv.FormatInt(int64(f), 10) + ";")
		return
	}
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		bf := new(big.Float).SetFloat64(f)
		bi, _ := bf.Int(nil)
		b.WriteString("n" + bi.String() + ";")
		return
	}
	b.WriteString("f" + strconv.FormatFloat(f, 'g', -1, 64) + ";")
}

func hashKey(b *strings.Builder, v any, depth int) error {
	if depth > 100 {
		return fmt.Errorf("arqcompat: dict key nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("N;")
	case bool:
		if x {
			b.WriteString("n1;")
		} else {
			b.WriteString("n0;")
		}
	case int:
		b.WriteString("n" + strconv.FormatInt(int64(x), 10) + ";")
	case int64:
		b.WriteString("n" + strconv.FormatInt(x, 10) + ";")
	case int32:
		b.WriteString("n" + strconv.FormatInt(int64(x), 10) + ";")
	case uint64:
		b.WriteString("n" + strconv.FormatUint(x, 10) + ";")
	case *big.Int:
		b.WriteString("n" + x.String() + ";")
	case float64:
		hashNumber(b, x)
	case string:
		b.WriteString("s" + strconv.Itoa(len(x)) + ":" + x)
	case []byte:
		b.WriteString("b" + strconv.Itoa(len(x)) + ":" + string(x))
	case Tuple:
		b.WriteString("t(")
		for _, it := range x {
			if err := hashKey(b, it, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(")")
	case FrozenSet:
		// order-insensitive: hash the sorted member hashes
		hs := make([]string, 0, len(x))
		for _, it := range x {
			h, err := keyHash(it)
			if err != nil {
				return err
			}
			hs = append(hs, h)
		}
		sort.Strings(hs)
		b.WriteString("F(" + strings.Join(hs, ",") + ")")
	case time.Time:
		if n, ok := naiveOf(x); ok {
			return hashKey(b, n, depth)
		}
		b.WriteString("T" + strconv.FormatInt(x.UnixNano(), 10) + ";")
	case NaiveDateTime:
		b.WriteString("W" + strconv.FormatInt(x.UnixNano(), 10) + ";")
	case Date:
		b.WriteString("D" + x.String() + ";")
	case TimeOfDay:
		b.WriteString("H" + x.String() + ";")
	case time.Duration:
		b.WriteString("d" + strconv.FormatInt(int64(x), 10) + ";")
	case Decimal:
		b.WriteString("M" + string(x) + ";")
	case UUID:
		b.WriteString("U" + x.String() + ";")
	case Global:
		b.WriteString("G" + x.String() + ";")
	case *Object:
		// Python hashes instances by identity unless they define __hash__;
		// enum members and most value objects compare by their arguments.
		b.WriteString("O" + x.Class.String() + "(")
		for _, it := range x.Args {
			if err := hashKey(b, it, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(")")
	case *Exception:
		fmt.Fprintf(b, "E%p;", x)
	default:
		return &UnhashableError{TypeName: pyTypeName(v)}
	}
	return nil
}

// pyTypeName is the Python type name of a model value, for error messages.
func pyTypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, *big.Int:
		return "int"
	case float32, float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case ByteArray:
		return "bytearray"
	case Tuple:
		return "tuple"
	case []any:
		return "list"
	case *Dict:
		return "dict"
	case Set:
		return "set"
	case FrozenSet:
		return "frozenset"
	case time.Time, NaiveDateTime:
		return "datetime"
	case Date:
		return "date"
	case TimeOfDay:
		return "time"
	case time.Duration:
		return "timedelta"
	case Decimal:
		return "Decimal"
	case UUID:
		return "UUID"
	case *Exception:
		return x.Class.Name
	case *Object:
		return x.Class.Name
	case Global:
		return "type"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// PyTypeName returns the Python type name of a model value ("int", "str",
// "dict", or the class name of an object).
func PyTypeName(v any) string { return pyTypeName(v) }
