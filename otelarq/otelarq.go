// Package otelarq traces goarq with OpenTelemetry: a span for each job a
// worker runs (a worker.Observer) and for each enqueue (a
// client.EnqueueObserver), with the job id, function, try, queue and
// outcome as attributes.
//
// It lives apart from packages worker and client so that importing them
// does not pull in OpenTelemetry.
package otelarq

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/worker"
)

// ScopeName is the instrumentation scope of the tracer.
const ScopeName = "github.com/goarq/goarq/otelarq"

// Attribute keys.
const (
	AttrJobID    = attribute.Key("arq.job.id")
	AttrFunction = attribute.Key("arq.job.function")
	AttrTry      = attribute.Key("arq.job.try")
	AttrQueue    = attribute.Key("arq.queue")
	AttrOutcome  = attribute.Key("arq.job.outcome")
)

// Tracer is both a worker.Observer and a client.EnqueueObserver.
type Tracer struct {
	t trace.Tracer
}

var (
	_ worker.Observer        = (*Tracer)(nil)
	_ client.EnqueueObserver = (*Tracer)(nil)
)

// New returns a Tracer using tp (the global TracerProvider when nil).
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Tracer{t: tp.Tracer(ScopeName)}
}

type spanKey struct{}

// JobStarted starts the span "arq.job <function>" (kind consumer).
func (t *Tracer) JobStarted(ctx context.Context, ev *worker.JobEvent) context.Context {
	ctx, span := t.t.Start(ctx, "arq.job "+ev.Function, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithTimestamp(ev.Start), trace.WithAttributes(jobAttrs(ev)...))
	return context.WithValue(ctx, spanKey{}, span)
}

// JobEnded ends the job's span, with its outcome; a job that never started
// (expired, unknown_function) gets a span of its own.
func (t *Tracer) JobEnded(ctx context.Context, ev *worker.JobEvent) {
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		_, span = t.t.Start(ctx, "arq.job "+ev.Function, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(jobAttrs(ev)...))
	}
	span.SetAttributes(AttrOutcome.String(string(ev.Outcome)))
	switch ev.Outcome {
	case worker.OutcomeComplete, worker.OutcomeRetried, worker.OutcomeCancelled:
	default:
		err := ev.Err
		if err == nil {
			err = errors.New(string(ev.Outcome))
		}
		span.RecordError(err)
		span.SetStatus(codes.Error, string(ev.Outcome))
	}
	if ok && !ev.Start.IsZero() {
		span.End(trace.WithTimestamp(ev.Start.Add(ev.Duration)))
		return
	}
	span.End()
}

// RedisError adds an event to the current span, if any.
func (t *Tracer) RedisError(ctx context.Context, queue string, err error) {
	trace.SpanFromContext(ctx).AddEvent("redis error", trace.WithAttributes(AttrQueue.String(queue),
		attribute.String("error", err.Error())))
}

func jobAttrs(ev *worker.JobEvent) []attribute.KeyValue {
	return []attribute.KeyValue{AttrJobID.String(ev.JobID), AttrFunction.String(ev.Function),
		AttrTry.Int(ev.Try), AttrQueue.String(ev.Queue)}
}

// EnqueueStarted starts the span "arq.enqueue <function>" (kind producer).
func (t *Tracer) EnqueueStarted(ctx context.Context, ev *client.EnqueueEvent) context.Context {
	ctx, span := t.t.Start(ctx, "arq.enqueue "+ev.Function, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(AttrJobID.String(ev.JobID), AttrFunction.String(ev.Function),
			AttrTry.Int(max(ev.Try, 1)), AttrQueue.String(ev.Queue)))
	return context.WithValue(ctx, spanKey{}, span)
}

// EnqueueEnded ends the enqueue span; a failed enqueue records its error.
func (t *Tracer) EnqueueEnded(ctx context.Context, ev *client.EnqueueEvent) {
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	if ev.Err != nil {
		span.RecordError(ev.Err)
		span.SetStatus(codes.Error, ev.Err.Error())
		if errors.Is(ev.Err, client.ErrJobExists) {
			span.SetAttributes(AttrOutcome.String("duplicate"))
		}
	} else {
		span.SetAttributes(AttrOutcome.String("enqueued"))
	}
	span.End()
}
