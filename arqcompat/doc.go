// Package arqcompat is the wire of Python's arq 0.28: what arq stores in
// Redis and how, with no Redis client in it.
//
// It has four parts:
//
//   - Key names: JobKey, InProgressKey, ResultKey, RetryKey and
//     HealthCheckKey build arq's keys (arq:job:<id>, ...), and TimestampMS
//     rounds times to milliseconds as arq's timestamp_ms does.
//   - Records: JobRecord and ResultRecord are the dicts of arq's
//     serialize_job and serialize_result; EncodeJob, DecodeJob, EncodeResult,
//     EncodeResultFallback and DecodeResult read and write them.
//   - Serializers: PickleSerializer (arq's default), JSONSerializer and
//     MsgpackSerializer encode as CPython's pickle.dumps, json.dumps and
//     msgpack.packb do and decode as their loads do, within Limits; bad bytes
//     give an error matching ErrMalformed or ErrLimit, never a panic, and
//     decoding never imports or calls anything a payload names.
//     NewSerializer plugs in a custom pair.
//   - The Go model of Python values, below: decoders produce it, encoders
//     accept it (and plain Go values, through Normalize), Assign converts it
//     into ordinary Go types, Repr prints it as Python's repr would, and
//     Equal compares two values and their Python types.
//
// # The value model
//
// Decoders produce, and encoders accept, these types:
//
//	Python              Go
//	None                nil
//	bool                bool
//	int                 int64, or *big.Int beyond 64 bits (encoders also take every Go integer type)
//	float               float64 (and float32 when encoding)
//	str                 string (valid UTF-8)
//	bytes               []byte
//	bytearray           ByteArray
//	tuple               Tuple
//	list                []any (encoders take any slice)
//	dict                *Dict, insertion order kept (encoders also take Go maps,
//	                    keys sorted, and structs, fields in declaration order)
//	set, frozenset      Set, FrozenSet
//	datetime (aware)    time.Time in UTC or a fixed zone, or, for a zoneinfo.ZoneInfo,
//	                    pytz or dateutil zone, in the time.Location of that IANA name
//	datetime (naive)    NaiveDateTime; assigned into a time.Time, a time in
//	                    NaiveLocation, which encodes as a naive datetime again
//	date                Date
//	time                TimeOfDay
//	timedelta           time.Duration
//	Decimal             Decimal
//	UUID                UUID
//	exceptions          *Exception (a Go error)
//	other instances     *Object (enum members, pydantic models, dataclasses...);
//	                    re-encodes unchanged; Assign binds its fields into structs
//	classes, functions  Global
//
// A naive datetime has no zone, and a time.Time always has one; NaiveLocation
// is the zone that means "naive", so that a naive datetime a handler takes as
// a time.Time goes back to Python naive, with its wall clock unchanged, unless
// the handler returns an aware time (time.Now(), t.UTC(), t.In(loc)).
//
// A Go type that implements Mapped stands for a Python class (a pydantic
// model, a dataclass, a NamedTuple, an enum): encoders send its values as
// instances of that class, and Assign binds only that class into it.
//
// JSON and msgpack carry only the types json.dumps and msgpack.packb carry:
// a tuple arrives as a list, and a value they refuse is an *EncodeError.
//
// The pickle decoder allocates its containers (dicts, lists, sets, calls,
// classes, small item slices) in chunks of up to 32, so that a job record
// costs far fewer allocations: a decoded value a program keeps keeps its chunk alive, and
// decoded values are meant to be read, not changed in place (a Tuple, like
// Python's, never is). An instance of scalars only that a pickle refers to
// several times (an enum member, which Python keeps as a singleton)
// decodes to one *Object.
package arqcompat
