package history

import (
	"context"
	"errors"
	"fmt"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
)

// RetryCandidate is a failed record a retry would enqueue again, or the
// reason it will not (Skip non-empty).
type RetryCandidate struct {
	Record Record
	// Skip says why the record is not enqueued again: its result could not
	// be decoded, or its job definition never reached the worker.
	Skip string
	call arqcompat.ResultRecord
}

// RetryPlan is what a retry would do, for a dry run to show.
type RetryPlan struct {
	Enqueue []RetryCandidate
	Skipped []RetryCandidate
	// More is true when the filter matched more records than the plan's
	// limit.
	More bool
}

// Retried is one job enqueued again.
type Retried struct {
	Origin   Record
	NewJobID string
	Err      error
}

// ErrNotRetryable is wrapped by the reason a record is not enqueued again.
var ErrNotRetryable = errors.New("not retryable")

// PlanRetry lists the final failures f selects (f.Success is forced to
// false, and records already retried are left out) up to limit, and
// decodes the call of each. A record whose bytes do not decode, or whose
// function is arq's "<unknown>" (the worker could not deserialize the job,
// so the result holds no call), is listed in Skipped with the reason.
func PlanRetry(ctx context.Context, s Store, f Filter, limit int) (RetryPlan, error) {
	no := false
	f.Success, f.NotRetried = &no, true
	var plan RetryPlan
	for {
		f.Limit = min(limit-len(plan.Enqueue)-len(plan.Skipped)+1, 1000)
		p, err := s.Query(ctx, f)
		if err != nil {
			return plan, err
		}
		for _, r := range p.Records {
			if len(plan.Enqueue)+len(plan.Skipped) == limit {
				plan.More = true
				return plan, nil
			}
			c := Candidate(r)
			if c.Skip != "" {
				plan.Skipped = append(plan.Skipped, c)
			} else {
				plan.Enqueue = append(plan.Enqueue, c)
			}
		}
		if p.Next.IsZero() {
			return plan, nil
		}
		f.Before = p.Next
	}
}

// Candidate decodes the call of r for a retry; Skip says why it cannot be
// enqueued again.
func Candidate(r Record) RetryCandidate {
	c := RetryCandidate{Record: r}
	if r.Undecodable != "" {
		c.Skip = "its result could not be decoded: " + r.Undecodable
		return c
	}
	ser, err := arqcompat.SerializerByName(r.Serializer)
	if err != nil {
		c.Skip = err.Error()
		return c
	}
	call, err := arqcompat.DecodeResult(ser, r.Raw)
	if err != nil {
		c.Skip = "its result could not be decoded: " + err.Error()
		return c
	}
	if call.Function == "<unknown>" {
		c.Skip = "the worker could not deserialize the job (" + r.ExcClass + "), so its result holds no function or arguments"
		return c
	}
	c.call = call
	return c
}

// Retry enqueues each candidate of plan again under a new job id, on its
// queue, with its function and arguments. Before each enqueue the link
// between the record and the new id is stored (LinkRetry), so that the
// new job's record names its origin and the origin names its retry; a
// failed enqueue removes the link.
func Retry(ctx context.Context, s Store, c *client.Client, plan RetryPlan) []Retried {
	out := make([]Retried, 0, len(plan.Enqueue))
	for _, cand := range plan.Enqueue {
		out = append(out, retryOne(ctx, s, c, cand))
	}
	return out
}

func retryOne(ctx context.Context, s Store, c *client.Client, cand RetryCandidate) Retried {
	res := Retried{Origin: cand.Record, NewJobID: client.NewJobID()}
	if cand.Skip != "" || cand.call.Function == "" {
		res.Err = fmt.Errorf("%w: %s", ErrNotRetryable, cand.Skip)
		return res
	}
	if err := s.LinkRetry(ctx, cand.Record.ID, res.NewJobID); err != nil {
		res.Err = err
		return res
	}
	queue := cand.call.Queue
	if queue == "" || queue == "<unknown>" {
		queue = c.QueueName()
	}
	var kw any
	if cand.call.Kwargs != nil {
		kw = cand.call.Kwargs
	}
	_, err := c.EnqueueRequest(ctx, client.Request{Function: cand.call.Function, Args: cand.call.Args, Kwargs: kw,
		Options: client.EnqueueOptions{JobID: res.NewJobID, QueueName: queue}})
	if err != nil {
		res.Err = err
		if uerr := s.UnlinkRetry(context.WithoutCancel(ctx), cand.Record.ID, res.NewJobID); uerr != nil {
			res.Err = errors.Join(err, uerr)
		}
	}
	return res
}
