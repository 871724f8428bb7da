package arqcompat

import "fmt"

// Serializer turns the records arq stores in Redis into bytes and back, as
// arq's job_serializer / job_deserializer pair does. Unmarshal returns the
// Go model of Python values (see the package documentation).
type Serializer interface {
	// Name is a short name for logs and errors: "pickle", "json", "msgpack".
	Name() string
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte) (any, error)
}

type funcSerializer struct {
	name      string
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte) (any, error)
}

func (s funcSerializer) Name() string                    { return s.name }
func (s funcSerializer) Marshal(v any) ([]byte, error)   { return s.marshal(v) }
func (s funcSerializer) Unmarshal(b []byte) (any, error) { return s.unmarshal(b) }

// NewSerializer plugs in a custom pair of functions, like passing
// job_serializer and job_deserializer to arq. unmarshal must return values
// of the model (see the package documentation), and must bound its own work on untrusted bytes.
func NewSerializer(name string, marshal func(any) ([]byte, error), unmarshal func([]byte) (any, error)) Serializer {
	return funcSerializer{name, marshal, unmarshal}
}

// PickleSerializer is arq's default, pickle.dumps / pickle.loads.
func PickleSerializer(lim Limits) Serializer { return pickleSerializer{lim} }

// pickleSerializer is a type of its own, not a funcSerializer, so that
// AppendJob can find it and write a job record without building its dict.
type pickleSerializer struct{ lim Limits }

func (pickleSerializer) Name() string                      { return "pickle" }
func (pickleSerializer) Marshal(v any) ([]byte, error)     { return pickleMarshal(v) }
func (s pickleSerializer) Unmarshal(b []byte) (any, error) { return pickleUnmarshal(b, s.lim) }

// JSONSerializer is json.dumps(d).encode() / json.loads, as arq users
// configure it.
func JSONSerializer(lim Limits) Serializer {
	return funcSerializer{"json", jsonMarshal, func(b []byte) (any, error) { return jsonUnmarshal(b, lim) }}
}

// MsgpackSerializer is msgpack.packb / msgpack.unpackb(raw=False), arq's
// documented example.
func MsgpackSerializer(lim Limits) Serializer {
	return funcSerializer{"msgpack", msgpackMarshal, func(b []byte) (any, error) { return msgpackUnmarshal(b, lim) }}
}

// SerializerByName returns the pickle, json or msgpack serializer with the
// default limits.
func SerializerByName(name string) (Serializer, error) {
	switch name {
	case "", "pickle":
		return PickleSerializer(Limits{}), nil
	case "json":
		return JSONSerializer(Limits{}), nil
	case "msgpack":
		return MsgpackSerializer(Limits{}), nil
	}
	return nil, fmt.Errorf("arqcompat: unknown serializer %q (want pickle, json or msgpack)", name)
}
