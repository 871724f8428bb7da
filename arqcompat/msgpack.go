package arqcompat

import (
	"bytes"
	"fmt"
	"math"
	"math/big"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// msgpackMarshal encodes like Python's msgpack.packb with its defaults
// (use_bin_type=True): str and bytes stay distinct, tuples become arrays,
// integers take the smallest width. Values packb rejects (integers beyond
// 64 bits, sets, datetimes, objects) give an error, and so do dict keys
// other than str and bytes, which unpackb's strict_map_key refuses.
func msgpackMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := mpEncode(enc, v, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mpErr(f string, a ...any) error { return &EncodeError{"msgpack", fmt.Sprintf(f, a...)} }

func mpEncode(enc *msgpack.Encoder, v any, depth int) error {
	if depth > maxEncodeDepth {
		return mpErr("value nested deeper than 1000 (a cycle?)")
	}
	switch x := v.(type) {
	case nil:
		return enc.EncodeNil()
	case bool:
		return enc.EncodeBool(x)
	case int:
		return enc.EncodeInt(int64(x))
	case int8:
		return enc.EncodeInt(int64(x))
	case int16:
		return enc.EncodeInt(int64(x))
	case int32:
		return enc.EncodeInt(int64(x))
	case int64:
		return enc.EncodeInt(x)
	case uint:
		return enc.EncodeUint(uint64(x))
	case uint8:
		return enc.EncodeUint(uint64(x))
	case uint16:
		return enc.EncodeUint(uint64(x))
	case uint32:
		return enc.EncodeUint(uint64(x))
	case uint64:
		return enc.EncodeUint(x)
	case *big.Int:
		switch {
		case x.IsInt64():
			return enc.EncodeInt(x.Int64())
		case x.IsUint64():
			return enc.EncodeUint(x.Uint64())
		}
		return mpErr("integer %s does not fit in 64 bits (packb: Integer value out of range)", x)
	case float32:
		return enc.EncodeFloat64(float64(x))
	case float64:
		return enc.EncodeFloat64(x)
	case string:
		return enc.EncodeString(x)
	case []byte:
		return enc.EncodeBytes(x)
	case ByteArray:
		return enc.EncodeBytes(x)
	case Tuple:
		return mpArray(enc, x, depth)
	case []any:
		return mpArray(enc, x, depth)
	case *Dict:
		if x == nil {
			return enc.EncodeNil()
		}
		if err := enc.EncodeMapLen(x.Len()); err != nil {
			return err
		}
		for _, it := range x.Items() {
			switch it.Key.(type) {
			case string, []byte:
			default:
				return mpErr("dict key of type %s: msgpack.unpackb accepts only str and bytes keys (strict_map_key)", pyTypeName(it.Key))
			}
			if err := mpEncode(enc, it.Key, depth+1); err != nil {
				return err
			}
			if err := mpEncode(enc, it.Value, depth+1); err != nil {
				return err
			}
		}
		return nil
	default:
		if isModelValue(v) {
			return mpErr("can not serialize %s object", pyTypeName(v))
		}
		if e, ok := v.(error); ok {
			return mpErr("can not serialize %T (%v)", e, e)
		}
		nv, err := normalizePlain(v)
		if err != nil {
			return mpErr("%v", err)
		}
		return mpEncode(enc, nv, depth)
	}
}

func mpArray(enc *msgpack.Encoder, items []any, depth int) error {
	if err := enc.EncodeArrayLen(len(items)); err != nil {
		return err
	}
	for _, it := range items {
		if err := mpEncode(enc, it, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// msgpackUnmarshal decodes like msgpack.unpackb(raw=False): maps
// become *Dict in order, arrays []any, str string, bin []byte, and
// unsigned integers beyond int64 *big.Int.
func msgpackUnmarshal(data []byte, lim Limits) (v any, err error) {
	lim = lim.orDefault()
	if len(data) > lim.MaxBytes {
		return nil, overLimit("msgpack", "payload of %d bytes is over the %d-byte limit", len(data), lim.MaxBytes)
	}
	r := bytes.NewReader(data)
	p := &mpParser{data: data, r: r, dec: msgpack.NewDecoder(r), budget: budget{format: "msgpack", lim: lim}}
	v, err = p.value(0)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, malformed("msgpack", "%d bytes of extra data after the value", r.Len())
	}
	return v, nil
}

type mpParser struct {
	data []byte
	r    *bytes.Reader
	dec  *msgpack.Decoder
	budget
}

func (p *mpParser) bad(err error) error { return malformed("msgpack", "%v", err) }

func (p *mpParser) value(depth int) (any, error) {
	if err := p.enter(depth); err != nil {
		return nil, err
	}
	c, err := p.dec.PeekCode()
	if err != nil {
		return nil, p.bad(err)
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := p.dec.DecodeMapLen()
		if err != nil {
			return nil, p.bad(err)
		}
		if n > p.r.Len()/2 {
			return nil, malformed("msgpack", "map of %d entries in %d remaining bytes", n, p.r.Len())
		}
		d := &Dict{}
		for i := 0; i < n; i++ {
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case string, []byte:
			default:
				return nil, malformed("msgpack", "%s is not allowed for map key when strict_map_key=True", pyTypeName(k))
			}
			val, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if err := d.Set(k, val); err != nil {
				return nil, malformed("msgpack", "%v", err)
			}
		}
		return d, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := p.dec.DecodeArrayLen()
		if err != nil {
			return nil, p.bad(err)
		}
		if n > p.r.Len() {
			return nil, malformed("msgpack", "array of %d items in %d remaining bytes", n, p.r.Len())
		}
		items := make([]any, 0, n)
		for i := 0; i < n; i++ {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return items, nil
	case msgpcode.IsExt(c) || msgpcode.IsFixedExt(c):
		return nil, malformed("msgpack", "extension types are not supported (code 0x%02x)", c)
	case msgpcode.IsString(c) || msgpcode.IsBin(c):
		if err := p.checkLen(c); err != nil {
			return nil, err
		}
	}
	switch {
	case msgpcode.IsString(c):
		s, err := p.dec.DecodeString()
		if err != nil {
			return nil, p.bad(err)
		}
		return s, nil
	case msgpcode.IsBin(c):
		b, err := p.dec.DecodeBytes()
		if err != nil {
			return nil, p.bad(err)
		}
		if b == nil {
			b = []byte{}
		}
		return b, nil
	}
	raw, err := p.dec.DecodeInterface()
	if err != nil {
		return nil, p.bad(err)
	}
	switch x := raw.(type) {
	case nil, bool, string, float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
		return new(big.Int).SetUint64(x), nil
	}
	return nil, malformed("msgpack", "unsupported value of code 0x%02x", c)
}

// checkLen refuses a str or bin whose declared length runs past the payload,
// before the decoder allocates for it.
func (p *mpParser) checkLen(c byte) error {
	off := len(p.data) - p.r.Len() + 1
	var width int
	switch c {
	case msgpcode.Str8, msgpcode.Bin8:
		width = 1
	case msgpcode.Str16, msgpcode.Bin16:
		width = 2
	case msgpcode.Str32, msgpcode.Bin32:
		width = 4
	default:
		return nil // fixstr: at most 31 bytes
	}
	if off+width > len(p.data) {
		return malformed("msgpack", "truncated length at offset %d", off)
	}
	n := 0
	for _, b := range p.data[off : off+width] {
		n = n<<8 | int(b)
	}
	if n > len(p.data)-off-width {
		return malformed("msgpack", "length %d at offset %d runs past the end of the %d-byte payload", n, off, len(p.data))
	}
	return nil
}
