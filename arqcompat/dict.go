package arqcompat

import (
	"errors"
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
	// index is keyed by indexKey. It may be nil while items is not, for a
	// dict built whole with distinct keys (a record about to be encoded):
	// Get then scans the items, and the first Set builds the index.
	index map[any]int
}

// complexKey is the index key of a value whose Python equality needs the
// keyHash string; str and int keys, the common case, index as themselves.
type complexKey string

// indexKey maps equal Python keys to equal Go map keys: str as string,
// int-valued numbers and bools as int64 (1 == 1.0 == True in Python),
// everything else by its keyHash. max > 0 bounds the bytes the key takes
// to hash (errKeyTooLong beyond it); size is that count.
func indexKey(key any, max int) (k any, size int, err error) {
	switch k := key.(type) {
	case string:
		if max > 0 && len(k) > max {
			return nil, 0, errKeyTooLong
		}
		return k, len(k), nil
	case int64:
		return k, 8, nil
	case int:
		return int64(k), 8, nil
	case bool:
		if k {
			return int64(1), 8, nil
		}
		return int64(0), 8, nil
	}
	h, err := hashKeyMax(key, max)
	if err != nil {
		return nil, 0, err
	}
	if strings.HasPrefix(h, "n") && strings.HasSuffix(h, ";") {
		if n, err := strconv.ParseInt(h[1:len(h)-1], 10, 64); err == nil {
			return n, len(h), nil // an integral float or a small big.Int equals that int
		}
	}
	return complexKey(h), len(h), nil
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
	h, _, err := indexKey(key, 0)
	if err != nil {
		return err
	}
	d.setIndexed(h, key, value)
	return nil
}

// setIndexed is Set with the key's indexKey h already computed.
func (d *Dict) setIndexed(h, key, value any) {
	if d.index == nil {
		d.index = make(map[any]int, max(8, len(d.items)+1))
		for i, it := range d.items {
			k, _, _ := indexKey(it.Key, 0) // hashable: put there by Set or as a distinct str
			d.index[k] = i
		}
	}
	if i, ok := d.index[h]; ok {
		d.items[i].Value = value
		return
	}
	d.index[h] = len(d.items)
	d.items = append(d.items, Item{key, value})
}

// getStr is Get for a str key, without boxing it into an interface.
func (d *Dict) getStr(key string) (any, bool) {
	if d == nil {
		return nil, false
	}
	if d.index == nil {
		for _, it := range d.items {
			if k, ok := it.Key.(string); ok && k == key {
				return it.Value, true
			}
		}
		return nil, false
	}
	return d.Get(key)
}

// getStrNear is getStr that looks at items[i] first, and also returns
// where key is: binding a struct asks for its fields in its own order,
// which is usually the dict's (a model's __dict__), so that the next
// field is most often right after the last one found.
func (d *Dict) getStrNear(key string, i int) (any, int, bool) {
	if d == nil {
		return nil, 0, false
	}
	if i >= 0 && i < len(d.items) {
		if k, ok := d.items[i].Key.(string); ok && k == key { // keys are distinct: this is the one
			return d.items[i].Value, i, true
		}
	}
	if d.index != nil {
		j, ok := d.index[key]
		if !ok {
			return nil, 0, false
		}
		return d.items[j].Value, j, true
	}
	for j, it := range d.items {
		if k, ok := it.Key.(string); ok && k == key {
			return it.Value, j, true
		}
	}
	return nil, 0, false
}

// Get returns the value for key.
func (d *Dict) Get(key any) (any, bool) {
	if d == nil || len(d.items) == 0 {
		return nil, false
	}
	if d.index == nil {
		return d.scan(key)
	}
	h, _, err := indexKey(key, 0)
	if err != nil {
		return nil, false
	}
	i, ok := d.index[h]
	if !ok {
		return nil, false
	}
	return d.items[i].Value, true
}

// scan is Get on a dict without an index: a str key, the common case, is
// compared as itself (a str equals only a str); another by its indexKey.
func (d *Dict) scan(key any) (any, bool) {
	if s, ok := key.(string); ok {
		for _, it := range d.items {
			if k, ok := it.Key.(string); ok && k == s {
				return it.Value, true
			}
		}
		return nil, false
	}
	h, _, err := indexKey(key, 0)
	if err != nil {
		return nil, false
	}
	for _, it := range d.items {
		if k, _, err := indexKey(it.Key, 0); err == nil && k == h {
			return it.Value, true
		}
	}
	return nil, false
}

// UnhashableError reports a value Python could not use as a dict key or set member.
type UnhashableError struct{ TypeName string }

func (e *UnhashableError) Error() string {
	return fmt.Sprintf("arqcompat: unhashable type: '%s'", e.TypeName)
}

// keyHash returns a string that is equal for two values exactly when Python
// considers them equal as dict keys, or an error for unhashable values.
func keyHash(v any) (string, error) { return hashKeyMax(v, 0) }

// errKeyTooLong is hashKeyMax's error for a key longer than its bound.
var errKeyTooLong = errors.New("arqcompat: hash key over its length bound")

// hashKeyMax is keyHash bounded: with max > 0, a key that would be longer
// than max bytes is errKeyTooLong. A key repeats every shared reference in
// full (a tuple of a thousand references to one string holds a thousand
// copies), so a decoder must bound it; the bound is checked by measuring
// the key first, which costs no copy of a string, and the key is then
// built in one allocation.
func hashKeyMax(v any, max int) (string, error) {
	var w keyWriter
	if max > 0 {
		m := keyWriter{max: max, measuring: true}
		if err := hashKey(&m, v, 0); err != nil {
			return "", err
		}
		w.Grow(m.n)
	}
	if err := hashKey(&w, v, 0); err != nil {
		return "", err
	}
	return w.String(), nil
}

// keyWriter builds a keyHash, or when measuring only counts its length n.
// max > 0 bounds the length.
type keyWriter struct {
	strings.Builder
	max       int
	measuring bool
	n         int
}

// add writes parts, or returns errKeyTooLong if they would not fit.
func (w *keyWriter) add(parts ...string) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if err := w.count(n); err != nil || w.measuring {
		return err
	}
	for _, p := range parts {
		w.WriteString(p)
	}
	return nil
}

// count adds n bytes to the length, or returns errKeyTooLong if they would
// not fit.
func (w *keyWriter) count(n int) error {
	if w.max > 0 && n > w.max-w.n {
		return errKeyTooLong
	}
	w.n += n
	return nil
}

// hashInt writes an int: in decimal within 64 bits (indexKey reads those
// back as int64), beyond in hex, which unlike decimal takes linear time.
func hashInt(w *keyWriter, x *big.Int) error {
	if x.IsInt64() {
		return w.add("n", strconv.FormatInt(x.Int64(), 10), ";")
	}
	if w.measuring {
		return w.count(x.BitLen()/4 + 5)
	}
	return w.add("nx", x.Text(16), ";")
}

func hashNumber(w *keyWriter, f float64) error {
	if f == math.Trunc(f) && !math.IsInf(f, 0) && math.Abs(f) < 1<<63 {
		return w.add("n", strconv.FormatInt(int64(f), 10), ";")
	}
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		bf := new(big.Float).SetFloat64(f)
		bi, _ := bf.Int(nil)
		return hashInt(w, bi)
	}
	return w.add("f", strconv.FormatFloat(f, 'g', -1, 64), ";")
}

func hashKey(w *keyWriter, v any, depth int) error {
	if depth > 100 {
		return fmt.Errorf("arqcompat: dict key nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return w.add("N;")
	case bool:
		if x {
			return w.add("n1;")
		}
		return w.add("n0;")
	case int:
		return w.add("n", strconv.FormatInt(int64(x), 10), ";")
	case int64:
		return w.add("n", strconv.FormatInt(x, 10), ";")
	case int32:
		return w.add("n", strconv.FormatInt(int64(x), 10), ";")
	case uint64:
		return w.add("n", strconv.FormatUint(x, 10), ";")
	case *big.Int:
		return hashInt(w, x)
	case float64:
		return hashNumber(w, x)
	case string:
		return w.add("s", strconv.Itoa(len(x)), ":", x)
	case []byte:
		if w.measuring {
			return w.count(len(x) + len(strconv.Itoa(len(x))) + 2)
		}
		return w.add("b", strconv.Itoa(len(x)), ":", string(x))
	case Tuple:
		if err := w.add("t("); err != nil {
			return err
		}
		for _, it := range x {
			if err := hashKey(w, it, depth+1); err != nil {
				return err
			}
		}
		return w.add(")")
	case FrozenSet:
		// order-insensitive: hash the sorted member hashes
		if err := w.count(len(x) + 3); err != nil { // "F(", the commas, ")"
			return err
		}
		hs := make([]string, 0, len(x))
		for _, it := range x {
			m := keyWriter{measuring: w.measuring}
			if w.max > 0 {
				if m.max = w.max - w.n; m.max <= 0 {
					return errKeyTooLong
				}
			}
			if err := hashKey(&m, it, 0); err != nil {
				return err
			}
			w.n += m.n
			hs = append(hs, m.String())
		}
		if w.measuring {
			return nil
		}
		sort.Strings(hs)
		w.WriteString("F(")
		w.WriteString(strings.Join(hs, ","))
		w.WriteString(")")
		return nil
	case time.Time:
		return w.add("T", strconv.FormatInt(x.UnixNano(), 10), ";")
	case NaiveDateTime:
		return w.add("W", strconv.FormatInt(x.UnixNano(), 10), ";")
	case Date:
		return w.add("D", x.String(), ";")
	case TimeOfDay:
		return w.add("H", x.String(), ";")
	case time.Duration:
		return w.add("d", strconv.FormatInt(int64(x), 10), ";")
	case Decimal:
		return w.add("M", string(x), ";")
	case UUID:
		return w.add("U", x.String(), ";")
	case Global:
		return w.add("G", x.Module, ".", x.Name, ";")
	case *Object:
		// Python hashes instances by identity unless they define __hash__;
		// enum members and most value objects compare by their arguments.
		if err := w.add("O", x.Class.Module, ".", x.Class.Name, "("); err != nil {
			return err
		}
		for _, it := range x.Args {
			if err := hashKey(w, it, depth+1); err != nil {
				return err
			}
		}
		return w.add(")")
	case *Exception:
		return w.add("E", fmt.Sprintf("%p", x), ";")
	default:
		return &UnhashableError{TypeName: pyTypeName(v)}
	}
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
		return className(x.Class).Name
	case Global:
		return "type"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// PyTypeName returns the Python type name of a model value ("int", "str",
// "dict", or the class name of an object).
func PyTypeName(v any) string { return pyTypeName(v) }
