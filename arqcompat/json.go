package arqcompat

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonMarshal encodes like Python's json.dumps: tuples become arrays, floats
// keep a fraction or exponent (1.0 stays a float), integers of any size are
// written exactly, NaN and infinities as Python writes them, and dict keys
// that are int, float, bool or None become strings as json.dumps makes them.
// Values json.dumps rejects (bytes, sets, datetimes, objects) give an error.
func jsonMarshal(v any) ([]byte, error) {
	var b strings.Builder
	if err := jsonEncode(&b, v, 0); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

func jsonString(b *strings.Builder, s string) error {
	if !utf8.ValidString(s) {
		return &EncodeError{"json", fmt.Sprintf("string %q is not valid UTF-8", s)}
	}
	enc, _ := json.Marshal(s)
	// encoding/json escapes <, > and & for HTML; Python does not, and both read either.
	b.Write(enc)
	return nil
}

func jsonEncode(b *strings.Builder, v any, depth int) error {
	if depth > maxEncodeDepth {
		return &EncodeError{"json", "value nested deeper than 1000 (a cycle?)"}
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		fmt.Fprintf(b, "%d", x)
	case *big.Int:
		b.WriteString(x.String())
	case float32:
		return jsonEncode(b, float64(x), depth)
	case float64:
		switch {
		case math.IsNaN(x):
			b.WriteString("NaN")
		case math.IsInf(x, 1):
			b.WriteString("Infinity")
		case math.IsInf(x, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(FormatFloat(x))
		}
	case string:
		return jsonString(b, x)
	case Tuple:
		return jsonArray(b, x, depth)
	case []any:
		return jsonArray(b, x, depth)
	case *Dict:
		if x == nil {
			b.WriteString("null")
			return nil
		}
		b.WriteString("{")
		for i, it := range x.Items() {
			if i > 0 {
				b.WriteString(", ")
			}
			var key string
			switch k := it.Key.(type) {
			case string:
				key = k
			case nil:
				key = "null"
			case bool:
				key = strconv.FormatBool(k)
			case float64:
				key = FormatFloat(k)
			case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, *big.Int:
				key = fmt.Sprint(k)
			default:
				return &EncodeError{"json", fmt.Sprintf("keys must be str, int, float, bool or None, not %s", pyTypeName(k))}
			}
			if err := jsonString(b, key); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := jsonEncode(b, it.Value, depth+1); err != nil {
				return err
			}
		}
		b.WriteString("}")
	default:
		if isModelValue(v) {
			return &EncodeError{"json", fmt.Sprintf("Object of type %s is not JSON serializable", pyTypeName(v))}
		}
		if e, ok := v.(error); ok {
			return &EncodeError{"json", fmt.Sprintf("Object of type %T (%v) is not JSON serializable", e, e)}
		}
		nv, err := normalizePlain(v)
		if err != nil {
			return &EncodeError{"json", err.Error()}
		}
		return jsonEncode(b, nv, depth)
	}
	return nil
}

func jsonArray(b *strings.Builder, items []any, depth int) error {
	b.WriteString("[")
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := jsonEncode(b, it, depth+1); err != nil {
			return err
		}
	}
	b.WriteString("]")
	return nil
}

// jsonUnmarshal decodes like Python's json.loads: objects become *Dict
// in document order, numbers with a fraction or exponent become float64 and
// the rest int64 or *big.Int, and NaN, Infinity and -Infinity are accepted.
func jsonUnmarshal(data []byte, lim Limits) (any, error) {
	lim = lim.orDefault()
	if len(data) > lim.MaxBytes {
		return nil, overLimit("json", "payload of %d bytes is over the %d-byte limit", len(data), lim.MaxBytes)
	}
	p := &jsonParser{data: data, budget: budget{format: "json", lim: lim}}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(p.data) {
		return nil, malformed("json", "extra data at offset %d", p.pos)
	}
	return v, nil
}

// UnmarshalJSON decodes like Python's json.loads, with the default Limits,
// into the model (as JSONSerializer does).
func UnmarshalJSON(data []byte) (any, error) { return jsonUnmarshal(data, Limits{}) }

type jsonParser struct {
	data []byte
	pos  int
	budget
}

func (p *jsonParser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) lit(s string) bool {
	if strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(s))]), s) {
		p.pos += len(s)
		return true
	}
	return false
}

func (p *jsonParser) errf(f string, a ...any) error {
	return malformed("json", "%s at offset %d", fmt.Sprintf(f, a...), p.pos)
}

func (p *jsonParser) value(depth int) (any, error) {
	if err := p.enter(depth); err != nil {
		return nil, err
	}
	if p.pos >= len(p.data) {
		return nil, p.errf("unexpected end of data")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		p.pos++
		d := &Dict{}
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			return d, nil
		}
		for {
			p.ws()
			if p.pos >= len(p.data) || p.data[p.pos] != '"' {
				return nil, p.errf("expected a string key")
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.pos >= len(p.data) || p.data[p.pos] != ':' {
				return nil, p.errf("expected ':'")
			}
			p.pos++
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			_ = d.Set(k, v) // str keys always hash
			p.ws()
			if p.pos < len(p.data) && p.data[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.data) && p.data[p.pos] == '}' {
				p.pos++
				return d, nil
			}
			return nil, p.errf("expected ',' or '}'")
		}
	case c == '[':
		p.pos++
		items := []any{}
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return items, nil
		}
		for {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			p.ws()
			if p.pos < len(p.data) && p.data[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.data) && p.data[p.pos] == ']' {
				p.pos++
				return items, nil
			}
			return nil, p.errf("expected ',' or ']'")
		}
	case c == '"':
		return p.str()
	case p.lit("null"):
		return nil, nil
	case p.lit("true"):
		return true, nil
	case p.lit("false"):
		return false, nil
	case p.lit("NaN"):
		return math.NaN(), nil
	case p.lit("Infinity"):
		return math.Inf(1), nil
	case p.lit("-Infinity"):
		return math.Inf(-1), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.errf("unexpected character %q", p.data[p.pos])
}

func (p *jsonParser) str() (string, error) {
	start := p.pos
	p.pos++
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case '\\':
			p.pos += 2
			continue
		case '"':
			p.pos++
			var s string
			if err := json.Unmarshal(p.data[start:p.pos], &s); err != nil {
				return "", malformed("json", "invalid string at offset %d: %v", start, err)
			}
			return s, nil
		}
		p.pos++
	}
	return "", malformed("json", "unterminated string at offset %d", start)
}

func (p *jsonParser) number() (any, error) {
	start := p.pos
	isFloat := false
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '.' || c == 'e' || c == 'E' {
			isFloat = true
		} else if !(c == '-' || c == '+' || (c >= '0' && c <= '9')) {
			break
		}
		p.pos++
	}
	s := string(p.data[start:p.pos])
	if isFloat {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !strings.Contains(err.Error(), "range") {
			return nil, malformed("json", "invalid number %q at offset %d", s, start)
		}
		return f, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if len(s) > 4300 { // CPython's int max_str_digits
		return nil, overLimit("json", "integer of %d digits at offset %d", len(s), start)
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, malformed("json", "invalid number %q at offset %d", s, start)
	}
	return n, nil
}
