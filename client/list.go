package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/goarq/goarq/arqcompat"
)

// ErrJobExpired is matched by errors.Is on a listed job whose key is gone
// (it expired or was deleted) while the queue still names it. arq's
// queued_jobs fails on such a job; ListJobs lists it.
var ErrJobExpired = errors.New("job key expired or deleted while the job is still queued")

// RecordError is the Err of a listed job or result that could not be read.
// errors.As reaches the decode error (*arqcompat.DecodeError, or
// arqcompat.ErrRecord for a record of the wrong shape), and errors.Is
// reaches ErrJobExpired.
type RecordError struct {
	Key string
	// Serializer is the client's; LooksLike is the serializer the bytes
	// look written with, "" when they do not look like any of arq's
	// usual three.
	Serializer, LooksLike string
	Err                   error
}

func (e *RecordError) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), "arqcompat: ")
	if e.LooksLike != "" && e.LooksLike != e.Serializer {
		msg += fmt.Sprintf(" (the bytes look %s-encoded, not %s)", e.LooksLike, e.Serializer)
	}
	return msg
}

func (e *RecordError) Unwrap() error { return e.Err }

// sniffSerializer says which of arq's usual serializers the bytes of a
// stored record look written with: "pickle" (a PROTO opcode, 0x80, then a
// protocol number 2 to 5), "json" (an object, '{'), "msgpack" (a map:
// fixmap 0x81 to 0x8f, map16 0xde or map32 0xdf), else "".
func sniffSerializer(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	switch b := data[0]; {
	case b == 0x80 && len(data) > 1 && data[1] >= 2 && data[1] <= 5:
		return "pickle"
	case b == '{':
		return "json"
	case b > 0x80 && b <= 0x8f, b == 0xde, b == 0xdf:
		return "msgpack"
	}
	return ""
}

func (c *Client) recordError(key string, data []byte, err error) *RecordError {
	return &RecordError{Key: key, Serializer: c.ser.Name(), LooksLike: sniffSerializer(data), Err: err}
}

// ListOptions selects what ListJobs and ListResults return. The zero value
// lists everything of the client's queue.
type ListOptions struct {
	// Queue is the queue whose jobs are listed; "" is the client's. For
	// ListResults: the results of jobs from this queue, by the queue name
	// each result record carries (records that name none, '<unknown>',
	// are kept too).
	Queue string
	// AllQueues makes ListResults keep every queue's results.
	AllQueues bool
	// Function keeps only the jobs of this function. An unreadable record
	// is kept whatever its function, since that is unknown.
	Function string
	// FailedOnly makes ListResults keep only failed jobs (and unreadable
	// records).
	FailedOnly bool
	// Limit keeps the first Limit entries after filtering; 0 keeps all.
	Limit int
}

// ListJobs lists the jobs of a queue in score order, as arq's queued_jobs,
// except that a job that cannot be read is listed with Err set (a
// *RecordError) instead of failing the listing: its JobID and Score are
// known, the rest is zero. The error return is for Redis errors only.
func (c *Client) ListJobs(ctx context.Context, opts ListOptions) ([]JobDef, error) {
	queue := opts.Queue
	if queue == "" {
		queue = c.queue
	}
	recs, err := c.store.QueuedJobs(ctx, queue)
	if err != nil {
		return nil, err
	}
	out := make([]JobDef, 0, len(recs))
	for _, r := range recs {
		jd := JobDef{JobID: r.JobID}
		if r.Data == nil {
			jd.Err = c.recordError(arqcompat.JobKey(r.JobID), nil, ErrJobExpired)
		} else if rec, err := arqcompat.DecodeJob(c.ser, r.Data); err != nil {
			jd.Err = c.recordError(arqcompat.JobKey(r.JobID), r.Data, err)
		} else {
			jd = jobDefFrom(r.JobID, rec)
		}
		if opts.Function != "" && jd.Err == nil && jd.Function != opts.Function {
			continue
		}
		s := r.Score
		jd.Score = &s
		out = append(out, jd)
		if opts.Limit > 0 && len(out) == opts.Limit {
			break
		}
	}
	return out, nil
}

// ListResults lists kept results, newest finish first, with the filters of
// opts. A result that cannot be read is listed (after the readable ones)
// with Err set, a *RecordError, instead of failing the listing; its queue
// is unknown, so it is kept whatever opts.Queue says. A result whose key
// expires while it is listed is left out. The error return is for Redis
// errors only.
func (c *Client) ListResults(ctx context.Context, opts ListOptions) ([]*JobResult, error) {
	all, err := c.readResults(ctx)
	if err != nil {
		return nil, err
	}
	queue := opts.Queue
	if queue == "" {
		queue = c.queue
	}
	var out []*JobResult
	for _, r := range all {
		if r.Err == nil {
			if !opts.AllQueues && r.QueueName != queue && r.QueueName != "<unknown>" {
				continue
			}
			if opts.Function != "" && r.Function != opts.Function {
				continue
			}
			if opts.FailedOnly && r.Success {
				continue
			}
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Err == nil) != (b.Err == nil) {
			return a.Err == nil
		}
		if a.Err != nil {
			return a.JobID < b.JobID
		}
		return a.FinishTime.After(b.FinishTime)
	})
	if opts.Limit > 0 && len(out) > opts.Limit {
		out = out[:opts.Limit]
	}
	return out, nil
}

// readResults reads every kept result; one that cannot be decoded has Err
// set, one whose key expired since SCAN is left out.
func (c *Client) readResults(ctx context.Context) ([]*JobResult, error) {
	ids, err := c.store.ScanResultIDs(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := c.store.Results(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*JobResult, 0, len(recs))
	for _, r := range recs {
		if r.Data == nil {
			continue // expired between SCAN and GET
		}
		rec, err := arqcompat.DecodeResult(c.ser, r.Data)
		if err != nil {
			out = append(out, &JobResult{JobDef: JobDef{JobID: r.JobID, Err: c.recordError(arqcompat.ResultKey(r.JobID), r.Data, err)}})
			continue
		}
		res := jobResultFrom(rec)
		res.JobID = r.JobID
		out = append(out, res)
	}
	return out, nil
}
