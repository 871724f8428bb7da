package worker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goarq/goarq/arqcompat"
)

type order struct {
	ID    int    `json:"id"`
	Email string `json:"customer_email"`
}

type mappedOrder order

func (mappedOrder) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: "app.models", Name: "Order", Kind: arqcompat.Pydantic}
}

// pydanticOrder is what pickle.loads gives for a pydantic v2 Order: the
// state layout pydantic's __getstate__ writes.
func pydanticOrder(class string, fields *arqcompat.Dict) *arqcompat.Object {
	return &arqcompat.Object{Class: arqcompat.Global{Module: "app.models", Name: class}, NewObj: true, HasState: true,
		State: arqcompat.NewDict("__dict__", fields, "__pydantic_extra__", nil,
			"__pydantic_fields_set__", arqcompat.Set{"id"}, "__pydantic_private__", nil)}
}

func call(t *testing.T, f Function, args []any, kwargs *arqcompat.Dict) (any, error) {
	t.Helper()
	if f.err != nil {
		t.Fatal(f.err)
	}
	return f.handler(context.Background(), &Job{Function: f.Name, Args: args, Kwargs: kwargs})
}

func wantTypeError(t *testing.T, err error, want string) {
	t.Helper()
	var e *arqcompat.Exception
	if !errors.As(err, &e) || e.Class.Name != "TypeError" || !strings.Contains(e.Message(), want) {
		t.Fatalf("got %v, want a TypeError containing %q", err, want)
	}
}

// A struct parameter binds a positional model (value or pointer), never
// taking the model for the kwargs; an instance of another class, or one
// missing a field, is a TypeError naming it, never zero values.
func TestStructParameterBindsAPositionalObject(t *testing.T) {
	fields := arqcompat.NewDict("id", int64(7), "customer_email", "a@b.c")
	byValue := Func("process_order", func(ctx context.Context, o order) order { return o })
	byPtr := Func("process_order", func(ctx context.Context, o *order) order { return *o })
	mapped := Func("process_order", func(ctx context.Context, o mappedOrder) int { return o.ID }, WithParams("order"))
	for _, f := range []Function{byValue, byPtr} {
		got, err := call(t, f, []any{pydanticOrder("Order", fields)}, nil)
		if err != nil || got != (order{7, "a@b.c"}) {
			t.Fatalf("got %+v %v", got, err)
		}
	}
	if got, err := call(t, byValue, nil, fields); err != nil || got != (order{7, "a@b.c"}) {
		t.Fatalf("kwargs form: got %+v %v", got, err)
	}
	if got, err := call(t, mapped, []any{pydanticOrder("Order", fields)}, nil); err != nil || got != 7 {
		t.Fatalf("mapped: got %v %v", got, err)
	}
	_, err := call(t, mapped, []any{pydanticOrder("Customer", fields)}, nil)
	wantTypeError(t, err, "process_order() argument 'order' (position 1) must be Order, not Customer")
	_, err = call(t, byValue, []any{pydanticOrder("Customer", arqcompat.NewDict("id", int64(1), "name", "x"))}, nil)
	wantTypeError(t, err, "Customer has no field 'customer_email'")
	_, err = call(t, byValue, []any{pydanticOrder("Order", arqcompat.NewDict("id", "7", "customer_email", "x"))}, nil)
	wantTypeError(t, err, "process_order() argument 1['id'] must be int, not str")
}

// WithDefaults gives trailing parameters Python's defaults: a call that
// omits them gets them, fresh each call; a default of the wrong type is
// reported at registration.
func TestWithDefaults(t *testing.T) {
	f := Func("send_email", func(ctx context.Context, to string, cc []string, retries int) []any {
		cc = append(cc, "x") // must not leak into the next call's default
		return []any{to, cc, retries}
	}, WithParams("to", "cc", "retries"), WithDefaults([]string{"boss"}, 3))
	for i := 0; i < 2; i++ {
		got, err := call(t, f, []any{"a@b.c"}, nil)
		if err != nil || arqcompat.Repr(got) != "['a@b.c', ['boss', 'x'], 3]" {
			t.Fatalf("got %s %v", arqcompat.Repr(got), err)
		}
	}
	got, err := call(t, f, []any{"a@b.c"}, arqcompat.NewDict("retries", int64(9)))
	if err != nil || arqcompat.Repr(got) != "['a@b.c', ['boss', 'x'], 9]" {
		t.Fatalf("got %s %v", arqcompat.Repr(got), err)
	}
	_, err = call(t, f, nil, nil)
	wantTypeError(t, err, "send_email() missing 1 required positional argument: 'to'")

	bad := Func("f", func(ctx context.Context, n int) {}, WithDefaults("three"))
	if !errors.Is(bad.err, ErrBadFunction) || !strings.Contains(bad.err.Error(), "does not convert to int") {
		t.Fatalf("got %v", bad.err)
	}
	tooMany := Func("f", func(ctx context.Context, n int) {}, WithDefaults(1, 2))
	if !errors.Is(tooMany.err, ErrBadFunction) {
		t.Fatalf("got %v", tooMany.err)
	}
}
