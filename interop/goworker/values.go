package main

import (
	"context"
	"fmt"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/interop/gomodels"
	"github.com/goarq/goarq/worker"
)

// valueFunctions are the fixture's functions for interop/test_values.py:
//
//	value_in(name, value)       -> 'ok' when value binds into the Go type of gomodels' row name
//	                               and equals its Go value, field by field; else what differs
//	value_json(name, value)     -> value_in for a model_dump(mode='json') value (times by instant)
//	value_out(name)             -> the Go value of row name (a mapped type: Python's own class)
//	value_repr(*args, **kwargs) -> arq's args_to_string of the call, as goarq logs it
//	process_order(order)        -> the Order bound from a positional pydantic Order
//	process_order_ptr(order)    -> order.id, bound into a *Order
//	order_needs(o)              -> binds into a struct with a field Order lacks (fails)
//	send_email(to, cc=None, retries=3) -> [to, cc, retries]
//	when(t)                     -> t, bound to a time.Time
func valueFunctions() []worker.Function {
	bind := func(loose bool) worker.HandlerFunc {
		return func(ctx context.Context, j *worker.Job) (any, error) {
			if len(j.Args) != 2 {
				return nil, worker.PythonError("builtins", "TypeError", "want (name, value)")
			}
			name, _ := j.Args[0].(string)
			c, ok := gomodels.Lookup(name)
			if !ok {
				return nil, worker.PythonError("builtins", "KeyError", name)
			}
			d, err := gomodels.Bind(c, j.Args[1], loose)
			if err != nil {
				return nil, worker.PythonError("builtins", "TypeError", fmt.Sprintf("%s: %v", name, err))
			}
			if d != "" {
				return d, nil
			}
			return "ok", nil
		}
	}
	return []worker.Function{
		worker.Raw("value_in", bind(false)),
		worker.Raw("value_json", bind(true)),
		worker.Func("value_out", func(ctx context.Context, name string) (any, error) {
			c, ok := gomodels.Lookup(name)
			if !ok {
				return nil, worker.PythonError("builtins", "KeyError", name)
			}
			return c.Want, nil
		}, worker.WithParams("name")),
		worker.Raw("value_repr", func(ctx context.Context, j *worker.Job) (any, error) {
			return arqcompat.ReprArgs(j.Args, j.Kwargs), nil
		}),
		worker.Func("process_order", func(ctx context.Context, o gomodels.Order) gomodels.Order { return o },
			worker.WithParams("order")),
		worker.Func("process_order_ptr", func(ctx context.Context, o *gomodels.Order) int { return o.ID },
			worker.WithParams("order")),
		worker.Func("order_needs", func(ctx context.Context, o struct {
			ID       int     `json:"id"`
			Discount float64 `json:"discount"`
		}) int {
			return o.ID
		}),
		worker.Func("send_email", func(ctx context.Context, to string, cc []string, retries int) []any {
			return []any{to, cc, retries}
		}, worker.WithParams("to", "cc", "retries"), worker.WithDefaults(nil, 3)),
		worker.Func("when", func(ctx context.Context, t time.Time) time.Time { return t }, worker.WithParams("t")),
	}
}
