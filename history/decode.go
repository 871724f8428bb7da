package history

import (
	"encoding/json"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/view"
)

// UnreadableFunction names the function of a record whose result could not
// be decoded.
const UnreadableFunction = "<unreadable>"

// FromResult makes the record of the result record raw, stored under
// arq:result:<jobID> and written with ser. A result that does not decode
// is kept with its job id, its bytes and the reason, as Undecodable, with
// StartMS 0 and FinishMS now: it is listed but never enqueued again.
func FromResult(ser arqcompat.Serializer, jobID string, raw []byte, now time.Time) Record {
	r, err := arqcompat.DecodeResult(ser, raw)
	return fromDecoded(ser, jobID, raw, r, err, now)
}

// fromDecoded is FromResult of raw, which arqcompat.DecodeResult decoded
// to r, err: the Recorder decodes first, to tell by the start time
// whether the record is stored already, and builds the rest (reprs, JSON)
// only for a record it stores.
func fromDecoded(ser arqcompat.Serializer, jobID string, raw []byte, r arqcompat.ResultRecord, err error, now time.Time) Record {
	rec := Record{JobID: jobID, Raw: raw, Serializer: ser.Name(), Source: "redis", RecordedMS: now.UnixMilli()}
	if err != nil {
		rec.Function, rec.Queue, rec.Undecodable, rec.FinishMS = UnreadableFunction, "<unknown>", err.Error(), now.UnixMilli()
		rec.Result = "(undecodable) " + err.Error()
		return rec
	}
	fill(&rec, r)
	return rec
}

func fill(rec *Record, r arqcompat.ResultRecord) {
	rec.Queue, rec.Function, rec.Try = r.Queue, r.Function, int(r.JobTry)
	rec.EnqueueMS, rec.StartMS, rec.FinishMS, rec.Success = r.EnqueueTimeMS, r.StartMS, r.FinishMS, r.Success
	rec.Args = arqcompat.ReprArgs(r.Args, r.Kwargs)
	kw := any(emptyObject{})
	if r.Kwargs != nil {
		kw = view.JSON(r.Kwargs)
	}
	// a struct, not a map: the same JSON ("args" then "kwargs"), without
	// sorting a map's keys
	if b, err := json.Marshal(argsJSON{Args: view.JSON(arqcompat.Tuple(r.Args)), Kwargs: kw}); err == nil {
		rec.ArgsJSON = string(b)
	}
	rec.Result = arqcompat.Repr(r.Result)
	if !r.Success {
		e, ok := r.Result.(*arqcompat.Exception)
		if o, isObj := r.Result.(*arqcompat.Object); isObj && !o.NewObj {
			// an exception of the application's own class: the decoder
			// does not know it is one, but a failure's result is
			// the exception raised
			e, ok = &arqcompat.Exception{Class: o.Class, Args: o.Args}, true
		}
		if ok {
			rec.ExcClass = ExceptionClass(e)
			rec.ExcMessage = e.Message()
		}
	}
}

type argsJSON struct {
	Args   any `json:"args"`
	Kwargs any `json:"kwargs"`
}

type emptyObject struct{}

// ExceptionClass is "ValueError" for a builtin exception, "module.Name"
// otherwise.
func ExceptionClass(e *arqcompat.Exception) string {
	if e.Class.Module == "builtins" || e.Class.Module == "" {
		return e.Class.Name
	}
	return e.Class.Module + "." + e.Class.Name
}
