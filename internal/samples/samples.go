// Package samples is the type-mapping table as Go values, shared by the interop
// fixtures and the Go tests; interop/samples.py holds the same rows in Python.
package samples

import (
	"math/big"
	"strings"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// sample is one row of the type-mapping table, as a Go producer writes it.
// interop/samples.py holds the same rows as Python values; the two lists
// are matched by name.
type Sample struct {
	Name        string
	Value       any
	Serializers string // which serializers carry it: "pjm" = pickle, json, msgpack
}

func bigInt(s string) *big.Int {
	n, _ := new(big.Int).SetString(s, 10)
	return n
}

// All returns every row.
func All() []Sample {
	ist := time.FixedZone("", 5*3600+30*60)
	return []Sample{
		{"none", nil, "pjm"},
		{"true", true, "pjm"},
		{"false", false, "pjm"},
		{"int_small", 42, "pjm"},
		{"int_negative", int64(-7), "pjm"},
		{"int64_max", int64(9223372036854775807), "pjm"},
		{"int64_min", int64(-9223372036854775808), "pjm"},
		{"uint64_max", uint64(18446744073709551615), "pjm"},
		{"bigint", bigInt("1267650600228229401496703205376"), "pj"},
		{"bigint_negative", bigInt("-1180591620717411303423"), "pj"},
		{"float", 1.5, "pjm"},
		{"float_whole", 1.0, "pjm"},
		{"float_tiny", 1e-300, "pjm"},
		{"float_huge", 1.7976931348623157e308, "pjm"},
		{"str", "héllo wörld ✓ 🎉", "pjm"},
		{"str_empty", "", "pjm"},
		{"bytes", []byte{0, 1, 0xfe, 0xff}, "pm"},
		{"bytearray", arqcompat.ByteArray("ab\x00"), "p"},
		{"tuple", arqcompat.Tuple{int64(1), "a", nil}, "pjm"},
		{"tuple_empty", arqcompat.Tuple{}, "pjm"},
		{"list", []any{int64(1), []any{int64(2), int64(3)}, "x"}, "pjm"},
		{"dict", arqcompat.NewDict("b", int64(1), "a", []any{int64(1), int64(2)}, "c", arqcompat.NewDict("nested", true)), "pjm"},
		{"dict_any_keys", arqcompat.NewDict(int64(1), "one", arqcompat.Tuple{int64(1), int64(2)}, "pair", nil, "none"), "p"},
		{"set", arqcompat.Set{int64(1), int64(2), int64(3)}, "p"},
		{"frozenset", arqcompat.FrozenSet{"a", "b"}, "p"},
		{"datetime_utc", time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC), "p"},
		{"datetime_offset", time.Date(2024, 5, 6, 7, 8, 9, 0, ist), "p"},
		{"datetime_naive", arqcompat.NaiveDateTime{Time: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)}, "p"},
		{"date", arqcompat.Date{Year: 2024, Month: 2, Day: 29}, "p"},
		{"time", arqcompat.TimeOfDay{Hour: 13, Minute: 14, Second: 15, Microsecond: 161718}, "p"},
		{"timedelta", 24*time.Hour + 3*time.Second + 4*time.Microsecond, "p"},
		{"timedelta_negative", -90 * time.Second, "p"},
		{"decimal", arqcompat.Decimal("123.4500"), "p"},
		{"uuid", mustUUID("12345678-1234-5678-1234-567812345678"), "p"},
		{"exception", arqcompat.NewException("builtins", "ValueError", "bad", int64(3)), "p"},
	}
}

func mustUUID(s string) arqcompat.UUID {
	u, err := arqcompat.ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

// Letter maps a serializer name to its letter in Sample.Serializers.
var Letter = map[string]string{"pickle": "p", "json": "j", "msgpack": "m"}

// Expected is how a value comes back after a Python round trip through the
// serializer.
func Expected(v any, ser string) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case uint64:
		if x > 1<<63-1 {
			return new(big.Int).SetUint64(x)
		}
		return int64(x)
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		return x
	case arqcompat.Tuple:
		items := make([]any, len(x))
		for i, it := range x {
			items[i] = Expected(it, ser)
		}
		if ser == "pickle" {
			return arqcompat.Tuple(items)
		}
		return items
	case []any:
		items := make([]any, len(x))
		for i, it := range x {
			items[i] = Expected(it, ser)
		}
		return items
	case *arqcompat.Dict:
		d := &arqcompat.Dict{}
		for _, it := range x.Items() {
			_ = d.Set(Expected(it.Key, ser), Expected(it.Value, ser))
		}
		return d
	}
	return v
}

// For returns the rows a serializer carries.
func For(ser string) []Sample {
	var out []Sample
	for _, s := range All() {
		if strings.Contains(s.Serializers, Letter[ser]) {
			out = append(out, s)
		}
	}
	return out
}
