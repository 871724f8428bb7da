package arqcompat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// JobRecord is what arq stores under arq:job:<id>: the dict
// {'t': job_try, 'f': function, 'a': args, 'k': kwargs, 'et': enqueue_time_ms}
// of arq.jobs.serialize_job.
type JobRecord struct {
	Function string
	Args     []any
	Kwargs   *Dict
	// JobTry is the try the enqueuer asked for (_job_try); 0 stands for None.
	JobTry        int64
	EnqueueTimeMS int64
}

// EnqueueTime is the enqueue time as a UTC time.Time.
func (j JobRecord) EnqueueTime() time.Time { return MSToTime(j.EnqueueTimeMS) }

func (j JobRecord) dict() *Dict {
	var t any
	if j.JobTry != 0 {
		t = j.JobTry
	}
	return &Dict{items: j.items(t, 0)}
}

// items are the record's fields in serialize_job's order, with room for
// extra more; t is the 't' field. The keys are distinct strs, so the
// dict they make needs no index (see Dict.index).
func (j JobRecord) items(t any, extra int) []Item {
	kw := j.Kwargs
	if kw == nil {
		kw = &Dict{}
	}
	args := Tuple(j.Args)
	if args == nil {
		args = Tuple{}
	}
	return append(make([]Item, 0, 5+extra), Item{"t", t}, Item{"f", j.Function}, Item{"a", args}, Item{"k", kw}, Item{"et", j.EnqueueTimeMS})
}

// EncodeJob serializes a job record as serialize_job does.
func EncodeJob(s Serializer, j JobRecord) ([]byte, error) {
	if _, ok := s.(pickleSerializer); ok {
		return AppendJob(make([]byte, 0, 256), s, j)
	}
	b, err := s.Marshal(j.dict())
	if err != nil {
		return nil, fmt.Errorf("unable to serialize job %q: %w", j.Function, err)
	}
	return b, nil
}

// AppendJob appends to dst the bytes EncodeJob returns, and returns the
// extended buffer, so that a caller can reuse one buffer for many jobs.
// With the pickle serializer it writes the record's dict directly, without
// building it first (the same bytes: the interop suite and
// TestAppendJobWritesWhatTheDictEncodes check them).
func AppendJob(dst []byte, s Serializer, j JobRecord) ([]byte, error) {
	if _, ok := s.(pickleSerializer); !ok {
		b, err := EncodeJob(s, j)
		return append(dst, b...), err
	}
	e := pickleEncoder{buf: dst}
	start := len(dst)
	e.buf = append(e.buf, 0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0) // PROTO 4, FRAME placeholder
	e.op('}', '(')
	if err := e.jobItems(j, j.JobTry == 0); err != nil {
		return dst, fmt.Errorf("unable to serialize job %q: %w", j.Function, err)
	}
	e.op('u', '.')
	binary.LittleEndian.PutUint64(e.buf[start+3:start+11], uint64(len(e.buf)-start-11))
	return e.buf, nil
}

// jobItems writes what encode writes for the items t, f, a, k and et of a
// job record's dict at depth 0 (so each item at depth 1); t is None when
// noTry is set.
func (e *pickleEncoder) jobItems(j JobRecord, noTry bool) error {
	e.op(0x8c, 1, 't')
	if noTry {
		e.op('N')
	} else {
		e.int64(j.JobTry)
	}
	e.op(0x8c, 1, 'f')
	if err := e.str(j.Function); err != nil {
		return err
	}
	e.op(0x8c, 1, 'a')
	if err := e.tuple(j.Args, 1); err != nil {
		return err
	}
	e.op(0x8c, 1, 'k')
	if j.Kwargs != nil {
		if err := e.dict(j.Kwargs, 1); err != nil {
			return err
		}
	} else {
		e.op('}')
	}
	e.op(0x8c, 2, 'e', 't')
	e.int64(j.EnqueueTimeMS)
	return nil
}

// appendResult is EncodeResult with pickle, written without building the
// record's dict (one allocation for the whole record, where the dict
// took three more): the same bytes, which a test checks.
func appendResult(dst []byte, r ResultRecord) ([]byte, error) {
	e := pickleEncoder{buf: dst}
	start := len(dst)
	e.buf = append(e.buf, 0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0) // PROTO 4, FRAME placeholder
	e.op('}', '(')
	err := e.jobItems(r.JobRecord, false)
	if err == nil {
		e.op(0x8c, 1, 's')
		err = e.encode(r.Success, 1)
	}
	if err == nil {
		e.op(0x8c, 1, 'r')
		err = e.encode(r.Result, 1)
	}
	if err == nil {
		e.op(0x8c, 2, 's', 't')
		e.int64(r.StartMS)
		e.op(0x8c, 2, 'f', 't')
		e.int64(r.FinishMS)
		e.op(0x8c, 1, 'q')
		err = e.str(r.Queue)
	}
	if err == nil {
		e.op(0x8c, 2, 'i', 'd')
		err = e.str(r.JobID)
	}
	if err != nil {
		return nil, err
	}
	e.op('u', '.')
	binary.LittleEndian.PutUint64(e.buf[start+3:start+11], uint64(len(e.buf)-start-11))
	return e.buf, nil
}

// ErrRecord is matched by errors.Is for every record that decodes but lacks
// a field or has one of the wrong type.
var ErrRecord = errors.New("invalid arq record")

func recordErr(f string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrRecord, fmt.Sprintf(f, a...))
}

func field(d *Dict, name string) (any, error) {
	v, ok := d.getStr(name)
	if !ok {
		return nil, recordErr("no %q field", name)
	}
	return v, nil
}

func intField(d *Dict, name string, noneOK bool) (int64, error) {
	v, err := field(d, name)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64: // tolerated: a producer that wrote a float timestamp
		return int64(x), nil
	case nil:
		if noneOK {
			return 0, nil
		}
	}
	return 0, recordErr("field %q is %s, want int", name, pyTypeName(v))
}

func decodeJobDict(d *Dict) (JobRecord, error) {
	var j JobRecord
	f, err := field(d, "f")
	if err != nil {
		return j, err
	}
	var ok bool
	if j.Function, ok = f.(string); !ok {
		return j, recordErr("field 'f' is %s, want str", pyTypeName(f))
	}
	a, err := field(d, "a")
	if err != nil {
		return j, err
	}
	switch x := a.(type) {
	case Tuple:
		j.Args = x
	case []any:
		j.Args = x
	default:
		return j, recordErr("field 'a' is %s, want tuple", pyTypeName(a))
	}
	k, err := field(d, "k")
	if err != nil {
		return j, err
	}
	if j.Kwargs, ok = k.(*Dict); !ok {
		return j, recordErr("field 'k' is %s, want dict", pyTypeName(k))
	}
	if j.JobTry, err = intField(d, "t", true); err != nil {
		return j, err
	}
	if j.EnqueueTimeMS, err = intField(d, "et", false); err != nil {
		return j, err
	}
	return j, nil
}

func decodeRecordDict(s Serializer, data []byte) (*Dict, error) {
	v, err := s.Unmarshal(data)
	if err != nil {
		return nil, err
	}
	d, ok := v.(*Dict)
	if !ok {
		return nil, recordErr("record is %s, want dict", pyTypeName(v))
	}
	return d, nil
}

// DecodeJob deserializes a job record as deserialize_job does.
func DecodeJob(s Serializer, data []byte) (JobRecord, error) {
	d, err := decodeRecordDict(s, data)
	if err != nil {
		return JobRecord{}, err
	}
	return decodeJobDict(d)
}

// ResultRecord is what arq stores under arq:result:<id> (serialize_result).
type ResultRecord struct {
	JobRecord
	Success bool
	// Result is the return value, or for a failed job the exception
	// (usually *Exception).
	Result   any
	StartMS  int64
	FinishMS int64
	Queue    string
	JobID    string
}

// StartTime and FinishTime are the run's bounds as UTC times.
func (r ResultRecord) StartTime() time.Time  { return MSToTime(r.StartMS) }
func (r ResultRecord) FinishTime() time.Time { return MSToTime(r.FinishMS) }

// EncodeResult serializes a result record as serialize_result does, without
// the fallback.
func EncodeResult(s Serializer, r ResultRecord) ([]byte, error) {
	if _, ok := s.(pickleSerializer); ok {
		return appendResult(make([]byte, 0, 256), r)
	}
	// serialize_result writes 't' as the actual try, never None. The
	// dict is built whole, with distinct str keys, so it needs no index.
	items := append(r.JobRecord.items(r.JobTry, 6), Item{"s", r.Success}, Item{"r", r.Result}, Item{"st", r.StartMS},
		Item{"ft", r.FinishMS}, Item{"q", r.Queue}, Item{"id", r.JobID})
	return s.Marshal(&Dict{items: items})
}

// unserializableResult is the result arq stores when the real one cannot be
// serialized.
const unserializableResult = "unable to serialize result"

// EncodeResultFallback is serialize_result with arq's fallback: when the
// result cannot be serialized it is replaced by the string
// 'unable to serialize result' with success False. cause is the original
// serialization error when the fallback was used. data is nil only when
// even the fallback fails.
func EncodeResultFallback(s Serializer, r ResultRecord) (data []byte, cause error) {
	data, cause = EncodeResult(s, r)
	if cause == nil {
		return data, nil
	}
	return encodeUnserializable(s, r, cause)
}

// encodeUnserializable is EncodeResultFallback's fallback, out of line so
// that the common path carries no second copy of the record in its frame.
//
//go:noinline
func encodeUnserializable(s Serializer, r ResultRecord, cause error) ([]byte, error) {
	r.Result, r.Success = unserializableResult, false
	data, err := EncodeResult(s, r)
	if err != nil {
		return nil, errors.Join(cause, err)
	}
	return data, cause
}

// DecodeResult deserializes a result record as deserialize_result does;
// missing 'q' and 'id' read as '<unknown>'.
func DecodeResult(s Serializer, data []byte) (ResultRecord, error) {
	var r ResultRecord
	d, err := decodeRecordDict(s, data)
	if err != nil {
		return r, err
	}
	// the result's 't' is the try that ran; reuse the job record parsing
	if r.JobRecord, err = decodeJobDict(d); err != nil {
		return r, err
	}
	sv, err := field(d, "s")
	if err != nil {
		return r, err
	}
	var ok bool
	if r.Success, ok = sv.(bool); !ok {
		return r, recordErr("field 's' is %s, want bool", pyTypeName(sv))
	}
	if r.Result, err = field(d, "r"); err != nil {
		return r, err
	}
	if r.StartMS, err = intField(d, "st", false); err != nil {
		return r, err
	}
	if r.FinishMS, err = intField(d, "ft", false); err != nil {
		return r, err
	}
	r.Queue, r.JobID = "<unknown>", "<unknown>"
	if q, ok := d.Get("q"); ok {
		if r.Queue, ok = q.(string); !ok {
			return r, recordErr("field 'q' is %s, want str", pyTypeName(q))
		}
	}
	if id, ok := d.Get("id"); ok {
		if r.JobID, ok = id.(string); !ok {
			return r, recordErr("field 'id' is %s, want str", pyTypeName(id))
		}
	}
	return r, nil
}
