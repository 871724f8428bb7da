package otelarq_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	itest "github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/otelarq"
	"github.com/goarq/goarq/worker"
)

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestSpansForEnqueueAndEachJobRun(t *testing.T) {
	_, rdb := itest.Redis(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := otelarq.New(tp)
	ctx := context.Background()

	c := client.New(rdb, client.Options{EnqueueObserver: tr})
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: "ok", Options: client.EnqueueOptions{JobID: "j-ok"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: "fail", Options: client.EnqueueOptions{JobID: "j-fail"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: "ok", Options: client.EnqueueOptions{JobID: "j-ok"}}); !errors.Is(err, client.ErrJobExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := c.EnqueueRequest(ctx, client.Request{Function: "missing", Options: client.EnqueueOptions{JobID: "j-missing"}}); err != nil {
		t.Fatal(err)
	}
	var inHandler trace.SpanContext
	w, err := worker.New(worker.Settings{RedisClient: rdb, Burst: true, PollDelay: 5 * time.Millisecond, Logger: itest.QuietLogger(),
		Observer: tr, Functions: []worker.Function{
			worker.Func("ok", func(ctx context.Context) int {
				inHandler = trace.SpanContextFromContext(ctx)
				return 1
			}),
			worker.Func("fail", func(ctx context.Context) error { return errors.New("boom") }),
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}

	byName := map[string][]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byName[s.Name] = append(byName[s.Name], s)
	}
	if n := len(byName["arq.enqueue ok"]); n != 2 {
		t.Fatalf("enqueue spans of ok: %d, want 2 (one a duplicate)", n)
	}
	dup := byName["arq.enqueue ok"][1]
	if dup.Status.Code != codes.Error || attrs(dup)[otelarq.AttrOutcome].AsString() != "duplicate" {
		t.Errorf("duplicate enqueue span: status %v, attrs %v", dup.Status, dup.Attributes)
	}
	if s := byName["arq.enqueue ok"][0]; s.SpanKind != trace.SpanKindProducer || attrs(s)[otelarq.AttrJobID].AsString() != "j-ok" ||
		attrs(s)[otelarq.AttrQueue].AsString() != arqcompat.DefaultQueueName {
		t.Errorf("enqueue span: kind %v attrs %v", s.SpanKind, s.Attributes)
	}

	for _, c := range []struct {
		name, id, outcome string
		failed            bool
	}{{"arq.job ok", "j-ok", "complete", false}, {"arq.job fail", "j-fail", "failed", true}, {"arq.job missing", "j-missing", "unknown_function", true}} {
		spans := byName[c.name]
		if len(spans) != 1 {
			t.Errorf("%s: %d spans, want 1", c.name, len(spans))
			continue
		}
		s := spans[0]
		a := attrs(s)
		if a[otelarq.AttrJobID].AsString() != c.id || a[otelarq.AttrOutcome].AsString() != c.outcome ||
			a[otelarq.AttrTry].AsInt64() != 1 || a[otelarq.AttrFunction].AsString() == "" || a[otelarq.AttrQueue].AsString() != arqcompat.DefaultQueueName {
			t.Errorf("%s: attributes %v", c.name, s.Attributes)
		}
		if (s.Status.Code == codes.Error) != c.failed || s.SpanKind != trace.SpanKindConsumer {
			t.Errorf("%s: status %v kind %v", c.name, s.Status, s.SpanKind)
		}
	}
	if ok := byName["arq.job ok"]; len(ok) == 1 && inHandler.SpanID() != ok[0].SpanContext.SpanID() {
		t.Error("the handler's context does not carry the job's span")
	}
}
