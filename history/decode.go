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
	rec := Record{JobID: jobID, Raw: raw, Serializer: ser.Name(), Source: "redis", RecordedMS: now.UnixMilli()}
	r, err := arqcompat.DecodeResult(ser, raw)
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
	kw := any(map[string]any{})
	if r.Kwargs != nil {
		kw = view.JSON(r.Kwargs)
	}
	if b, err := json.Marshal(map[string]any{"args": view.JSON(arqcompat.Tuple(r.Args)), "kwargs": kw}); err == nil {
		rec.ArgsJSON = string(b)
	}
	rec.Result = arqcompat.Repr(r.Result)
	if !r.Success {
		if e, ok := r.Result.(*arqcompat.Exception); ok {
			rec.ExcClass = ExceptionClass(e)
			rec.ExcMessage = e.Message()
		}
	}
}

// ExceptionClass is "ValueError" for a builtin exception, "module.Name"
// otherwise.
func ExceptionClass(e *arqcompat.Exception) string {
	if e.Class.Module == "builtins" || e.Class.Module == "" {
		return e.Class.Name
	}
	return e.Class.Module + "." + e.Class.Name
}
