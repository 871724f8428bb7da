// Package view renders Python values of the arqcompat model for people
// (Python-like repr) and for machines (JSON that keeps the Python type).
package view

import (
	"encoding/base64"
	"math"
	"math/big"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// JSON converts a model value to something encoding/json writes faithfully:
// JSON-native values stay as they are (ints as numbers, big ones as
// strings of digits, tuples as arrays), others become an object
// {"$type": "...", ...} naming the Python type.
func JSON(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, string:
		return x
	case *big.Int:
		return map[string]any{"$type": "int", "value": x.String()}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return map[string]any{"$type": "float", "value": arqcompat.FormatFloat(x)}
		}
		return x
	case []byte:
		return map[string]any{"$type": "bytes", "base64": base64.StdEncoding.EncodeToString(x)}
	case arqcompat.ByteArray:
		return map[string]any{"$type": "bytearray", "base64": base64.StdEncoding.EncodeToString(x)}
	case arqcompat.Tuple:
		return seq(x)
	case []any:
		return seq(x)
	case arqcompat.Set:
		return map[string]any{"$type": "set", "items": seq(x)}
	case arqcompat.FrozenSet:
		return map[string]any{"$type": "frozenset", "items": seq(x)}
	case *arqcompat.Dict:
		allStr := true
		for _, it := range x.Items() {
			if _, ok := it.Key.(string); !ok {
				allStr = false
			}
		}
		if allStr {
			m := make(map[string]any, x.Len())
			for _, it := range x.Items() {
				m[it.Key.(string)] = JSON(it.Value)
			}
			return m
		}
		items := make([]any, 0, x.Len())
		for _, it := range x.Items() {
			items = append(items, []any{JSON(it.Key), JSON(it.Value)})
		}
		return map[string]any{"$type": "dict", "items": items}
	case time.Time:
		return map[string]any{"$type": "datetime", "value": x.Format(time.RFC3339Nano)}
	case arqcompat.NaiveDateTime:
		return map[string]any{"$type": "datetime", "value": x.Format("2006-01-02T15:04:05.999999")}
	case arqcompat.Date:
		return map[string]any{"$type": "date", "value": x.String()}
	case arqcompat.TimeOfDay:
		return map[string]any{"$type": "time", "value": x.String()}
	case time.Duration:
		return map[string]any{"$type": "timedelta", "seconds": x.Seconds()}
	case arqcompat.Decimal:
		return map[string]any{"$type": "Decimal", "value": string(x)}
	case arqcompat.UUID:
		return map[string]any{"$type": "UUID", "value": x.String()}
	case *arqcompat.Exception:
		return Exception(x)
	case *arqcompat.Object:
		return map[string]any{"$type": "object", "class": x.Class.String(), "args": seq(x.Args), "repr": arqcompat.Repr(x)}
	case arqcompat.Global:
		return map[string]any{"$type": "global", "name": x.String()}
	}
	return map[string]any{"$type": "unknown", "repr": arqcompat.Repr(v)}
}

// Exception is the JSON form of a Python exception.
func Exception(e *arqcompat.Exception) map[string]any {
	return map[string]any{"$type": "exception", "module": e.Class.Module, "class": e.Class.Name,
		"args": seq(e.Args), "message": e.Message()}
}

func seq(items []any) []any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = JSON(it)
	}
	return out
}
