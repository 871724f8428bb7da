package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/arqredis"
)

// ErrJobExpired is matched by errors.Is on a listed job whose key is gone
// (it expired or was deleted) while the queue still names it. arq's
// queued_jobs fails on such a job; Jobs lists it.
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

func (in *Inspector) recordError(key string, data []byte, err error) *RecordError {
	return &RecordError{Key: key, Serializer: in.c.Serializer().Name(), LooksLike: sniffSerializer(data), Err: err}
}

// QueuedJob is one entry of a queue page.
type QueuedJob struct {
	client.JobDef
	InProgress bool
	// Err is set when the job record is gone (errors.Is ErrJobExpired) or
	// cannot be decoded, a *RecordError; only JobID and Score are known
	// then.
	Err error
}

// JobsQuery selects a page of a queue, in score order.
type JobsQuery struct {
	// Queue is the queue read; "" is the client's.
	Queue string
	// Offset is the rank to start at; Limit the page size (default 50,
	// at most MaxLimit).
	Offset int64
	Limit  int
	// Function keeps only this function's jobs, and the jobs that cannot
	// be read (their function is unknown): the queue is read from Offset
	// in chunks and at most MaxExamined entries per page.
	Function string
	// JobID looks up one job.
	JobID string
}

// JobsPage is a page of a queue.
type JobsPage struct {
	Jobs []QueuedJob
	// Total is the queue's size; NextOffset the rank to continue from, -1
	// at the end; Examined the entries read for this page.
	Total      int64
	NextOffset int64
	Examined   int
}

const (
	// MaxLimit bounds the page size of Jobs and Results.
	MaxLimit = 1000
	// MaxExamined bounds the entries a filtered Jobs page reads.
	MaxExamined = 5000
	// defaultLimit is the page size when none is given.
	defaultLimit = 50
	// filterChunk is how many entries a filtered page reads at a time.
	filterChunk = 500
)

// pageLimit is a page size as the queries take it: default 50, at most
// MaxLimit.
func pageLimit(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return min(n, MaxLimit)
}

// Jobs reads a page of a queue by rank (ZRANGE), with the job records and
// in-progress keys of that page only: a page of Limit jobs reads Limit
// entries, whatever the queue's size (a Function filter reads more, up to
// MaxExamined).
func (in *Inspector) Jobs(ctx context.Context, q JobsQuery) (JobsPage, error) {
	q.Queue = in.queue(q.Queue)
	q.Limit = pageLimit(q.Limit)
	q.Offset = max(q.Offset, 0)
	total, err := in.r.QueueSize(ctx, q.Queue)
	if err != nil {
		return JobsPage{}, err
	}
	page := JobsPage{Total: total, NextOffset: -1}
	keep := func(j QueuedJob) bool { return q.Function == "" || j.Err != nil || j.Function == q.Function }
	if q.JobID != "" {
		k, err := in.r.JobKeys(ctx, q.Queue, q.JobID)
		if err != nil {
			return page, err
		}
		if k.Queued {
			e := arqredis.PageEntry{Record: arqredis.Record{JobID: q.JobID, Score: k.Score, Data: k.Job}, InProgress: k.InProgress}
			if j := in.queuedJob(e); keep(j) {
				page.Jobs = append(page.Jobs, j)
			}
		}
		page.Examined = 1
		return page, nil
	}
	chunk := int64(q.Limit)
	if q.Function != "" {
		chunk = filterChunk
	}
	off, full := q.Offset, false
	for !full && off < total && page.Examined < MaxExamined {
		entries, err := in.r.QueuePage(ctx, q.Queue, off, off+chunk-1)
		if err != nil {
			return page, err
		}
		if len(entries) == 0 {
			break
		}
		for _, e := range entries {
			off++
			page.Examined++
			j := in.queuedJob(e)
			if !keep(j) {
				continue
			}
			page.Jobs = append(page.Jobs, j)
			if full = len(page.Jobs) == q.Limit; full {
				break
			}
		}
	}
	if off < total {
		page.NextOffset = off
	}
	return page, nil
}

func (in *Inspector) queuedJob(e arqredis.PageEntry) QueuedJob {
	score := e.Score
	j := QueuedJob{JobDef: client.JobDef{JobID: e.JobID, Score: &score}, InProgress: e.InProgress}
	if e.Data == nil {
		j.Err = in.recordError(arqcompat.JobKey(e.JobID), nil, ErrJobExpired)
		return j
	}
	rec, err := arqcompat.DecodeJob(in.c.Serializer(), e.Data)
	if err != nil {
		j.Err = in.recordError(arqcompat.JobKey(e.JobID), e.Data, err)
		return j
	}
	j.JobDef = jobDefFrom(e.JobID, rec)
	j.Score = &score
	return j
}

// QueuedJobs lists every job of a queue ("" for the client's) in score
// order, as arq's queued_jobs: one ZRANGE of the whole queue, then its
// records. A job whose key is gone or cannot be read is an error, as in
// arq; Jobs lists those. Unlike Jobs, its work grows with the queue.
func (in *Inspector) QueuedJobs(ctx context.Context, queue string) ([]client.JobDef, error) {
	entries, err := in.r.QueuePage(ctx, in.queue(queue), 0, -1)
	if err != nil {
		return nil, err
	}
	out := make([]client.JobDef, 0, len(entries))
	for _, e := range entries {
		j := in.queuedJob(e)
		switch {
		case errors.Is(j.Err, ErrJobExpired):
			return nil, fmt.Errorf("job %q not found", arqcompat.JobKey(j.JobID))
		case j.Err != nil:
			return nil, fmt.Errorf("job %s: unable to deserialize job: %w", j.JobID, j.Err)
		}
		out = append(out, j.JobDef)
	}
	return out, nil
}

func jobDefFrom(id string, r arqcompat.JobRecord) client.JobDef {
	return client.JobDef{JobID: id, Function: r.Function, Args: r.Args, Kwargs: r.Kwargs, JobTry: int(r.JobTry), EnqueueTime: r.EnqueueTime()}
}

func jobResultFrom(id string, r arqcompat.ResultRecord) *client.JobResult {
	return &client.JobResult{JobDef: jobDefFrom(id, r.JobRecord), Success: r.Success, Result: r.Result,
		StartTime: r.StartTime(), FinishTime: r.FinishTime(), QueueName: r.Queue}
}
