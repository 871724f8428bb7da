package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// Job is what a handler knows of the job it runs: arq's ctx dict (job_id,
// job_try, enqueue_time, score) plus the decoded call.
type Job struct {
	ID          string
	Try         int
	EnqueueTime time.Time
	// Score is the queue score (ms) the job was claimed with.
	Score    int64
	Function string
	Args     []any
	Kwargs   *arqcompat.Dict
	Queue    string
}

type jobKey struct{}

// JobFromContext returns the job a handler's context belongs to.
func JobFromContext(ctx context.Context) (*Job, bool) {
	j, ok := ctx.Value(jobKey{}).(*Job)
	return j, ok
}

// HandlerFunc is the raw form of a job function: it gets the decoded args
// and kwargs as they are (Job.Args, Job.Kwargs) and returns the result.
type HandlerFunc func(ctx context.Context, job *Job) (any, error)

// Function is a registered job function, arq's worker.func.
type Function struct {
	// Name is what Python enqueues: enqueue_job('<name>', ...).
	Name    string
	handler HandlerFunc
	// Timeout overrides the worker's JobTimeout; 0 keeps it.
	Timeout time.Duration
	// KeepResult overrides the worker's; 0 keeps it, DontKeep keeps no result.
	KeepResult time.Duration
	// KeepResultForever overrides the worker's when not nil.
	KeepResultForever *bool
	// MaxTries overrides the worker's when > 0.
	MaxTries int
	cron     bool
}

// DontKeep as a KeepResult keeps no result (arq's keep_result=0).
const DontKeep time.Duration = -1

// FuncOption configures a Function.
type FuncOption func(*Function, *binder)

// WithTimeout sets the function's timeout (arq: func(..., timeout=)).
func WithTimeout(d time.Duration) FuncOption { return func(f *Function, _ *binder) { f.Timeout = d } }

// WithKeepResult sets how long results are kept; DontKeep for none.
func WithKeepResult(d time.Duration) FuncOption {
	return func(f *Function, _ *binder) { f.KeepResult = d }
}

// WithKeepResultForever keeps results without expiry (or not).
func WithKeepResultForever(forever bool) FuncOption {
	return func(f *Function, _ *binder) { f.KeepResultForever = &forever }
}

// WithMaxTries sets the function's max tries; 1 prevents retrying.
func WithMaxTries(n int) FuncOption { return func(f *Function, _ *binder) { f.MaxTries = n } }

// WithParams names the Go function's parameters (after the context), so
// that Python keyword arguments bind to them: WithParams("a", "b") lets
// Python call add(a=1, b=2).
func WithParams(names ...string) FuncOption {
	return func(_ *Function, b *binder) { b.names = names }
}

// Raw registers a HandlerFunc under name.
func Raw(name string, h HandlerFunc, opts ...FuncOption) Function {
	f := Function{Name: name, handler: h}
	for _, o := range opts {
		o(&f, &binder{})
	}
	return f
}

// Func registers a Go function under the name Python enqueues. fn is a func
// whose first parameter is a context.Context and whose results are one of
// (), (error), (R) or (R, error). Its other parameters bind from Python's
// args with arqcompat.Assign's conversions: positionally, by keyword when
// WithParams names them, a final ...T takes the remaining positional args,
// and a single struct parameter takes kwargs by field name (`arq` or `json`
// tag). Arguments that do not fit fail the job with a TypeError naming the
// function and the argument, as Python would. Func panics when fn's shape
// is wrong: that is a programming error found at start-up.
func Func(name string, fn any, opts ...FuncOption) Function {
	b, err := newBinder(name, fn)
	if err != nil {
		panic(err)
	}
	f := Function{Name: name}
	for _, o := range opts {
		o(&f, b)
	}
	if b.names != nil && len(b.names) != len(b.params) {
		panic(fmt.Sprintf("worker.Func(%q): WithParams names %d parameters, the function has %d", name, len(b.names), len(b.params)))
	}
	b.direct = directCall(fn)
	f.handler = b.call
	return f
}

// directCall returns a plain call for the common argument-less shapes, or
// nil. reflect.Value.Call's frame is about 1.4 KB, which doubles the stack
// of every job waiting inside its handler (2 KB to 4 KB).
func directCall(fn any) func(context.Context) (any, error) {
	switch f := fn.(type) {
	case func(context.Context):
		return func(ctx context.Context) (any, error) { f(ctx); return nil, nil }
	case func(context.Context) error:
		return func(ctx context.Context) (any, error) { return nil, f(ctx) }
	case func(context.Context) (any, error):
		return f
	}
	return nil
}

var (
	typeContext = reflect.TypeOf((*context.Context)(nil)).Elem()
	typeError   = reflect.TypeOf((*error)(nil)).Elem()
)

type binder struct {
	name     string
	fn       reflect.Value
	params   []reflect.Type // after ctx; the variadic one as its slice type
	variadic bool
	structIn bool // one struct parameter bound from kwargs
	names    []string
	hasValue bool
	hasErr   bool
	direct   func(context.Context) (any, error) // see directCall
}

func newBinder(name string, fn any) (*binder, error) {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("worker.Func(%q): %T is not a function", name, fn)
	}
	if t.NumIn() == 0 || t.In(0) != typeContext {
		return nil, fmt.Errorf("worker.Func(%q): the first parameter must be a context.Context", name)
	}
	b := &binder{name: name, fn: v, variadic: t.IsVariadic()}
	for i := 1; i < t.NumIn(); i++ {
		b.params = append(b.params, t.In(i))
	}
	switch t.NumOut() {
	case 0:
	case 1:
		if t.Out(0) == typeError {
			b.hasErr = true
		} else {
			b.hasValue = true
		}
	case 2:
		if t.Out(1) != typeError {
			return nil, fmt.Errorf("worker.Func(%q): the second result must be an error", name)
		}
		b.hasValue, b.hasErr = true, true
	default:
		return nil, fmt.Errorf("worker.Func(%q): too many results", name)
	}
	if len(b.params) == 1 && !b.variadic && b.params[0].Kind() == reflect.Struct && b.params[0] != typeTime {
		b.structIn = true
	}
	return b, nil
}

var typeTime = reflect.TypeOf(time.Time{})

// typeErr builds the TypeError Python would raise for a bad call.
func typeErr(format string, a ...any) error {
	return arqcompat.NewException("builtins", "TypeError", fmt.Sprintf(format, a...))
}

// tooManyArgs is CPython's TypeError for too many positional arguments,
// singular and plural included. arq calls coroutine(ctx, *args), so
// Python counts ctx among both the parameters and the arguments.
func tooManyArgs(name string, takes, given int) error {
	takes, given = takes+1, given+1
	arguments, were := "arguments", "were"
	if takes == 1 {
		arguments = "argument"
	}
	if given == 1 {
		were = "was"
	}
	return typeErr("%s() takes %d positional %s but %d %s given", name, takes, arguments, given, were)
}

func (b *binder) call(ctx context.Context, job *Job) (any, error) {
	if b.direct != nil {
		if err := b.noArgs(job.Args, job.Kwargs); err != nil {
			return nil, err
		}
		return b.direct(ctx)
	}
	args, err := b.bind(job.Args, job.Kwargs)
	if err != nil {
		return nil, err
	}
	in := []reflect.Value{reflect.ValueOf(ctx)}
	var out []reflect.Value
	if b.variadic {
		out = b.fn.CallSlice(append(in, args...))
	} else {
		out = b.fn.Call(append(in, args...))
	}
	var res any
	if b.hasValue {
		res = out[0].Interface()
	}
	if b.hasErr {
		if e := out[len(out)-1]; !e.IsNil() {
			return res, e.Interface().(error)
		}
	}
	return res, nil
}

// noArgs is bind for a function without parameters, with bind's errors
// and without its 1.3 KB frame on the stack of a job about to wait.
func (b *binder) noArgs(args []any, kwargs *arqcompat.Dict) error {
	if len(args) > 0 {
		return tooManyArgs(b.name, 0, len(args))
	}
	for _, it := range kwargs.Items() {
		k, _ := it.Key.(string)
		return typeErr("%s() got an unexpected keyword argument '%s'", b.name, k)
	}
	return nil
}

func (b *binder) bind(args []any, kwargs *arqcompat.Dict) ([]reflect.Value, error) {
	if b.structIn {
		v := reflect.New(b.params[0]).Elem()
		d := &arqcompat.Dict{}
		// positional args fill the exported fields in order
		t := b.params[0]
		var fields []string
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() {
				name := t.Field(i).Name
				if tag, ok := t.Field(i).Tag.Lookup("arq"); ok && tag != "" {
					name = tag
				} else if tag, ok := t.Field(i).Tag.Lookup("json"); ok && tag != "" && tag != "-" {
					name = tag
				}
				fields = append(fields, name)
			}
		}
		if len(args) > len(fields) {
			return nil, tooManyArgs(b.name, len(fields), len(args))
		}
		for i, a := range args {
			_ = d.Set(fields[i], a)
		}
		known := map[string]bool{}
		for _, f := range fields {
			known[f] = true
		}
		for _, it := range kwargs.Items() {
			k, _ := it.Key.(string)
			if !known[k] {
				return nil, typeErr("%s() got an unexpected keyword argument '%s'", b.name, k)
			}
			if _, dup := d.Get(k); dup {
				return nil, typeErr("%s() got multiple values for argument '%s'", b.name, k)
			}
			_ = d.Set(k, it.Value)
		}
		if err := arqcompat.AssignValue(v, d); err != nil {
			return nil, typeErr("%s() argument %v", b.name, err)
		}
		return []reflect.Value{v}, nil
	}

	fixed := len(b.params)
	if b.variadic {
		fixed--
	}
	vals := make([]reflect.Value, fixed)
	set := make([]bool, fixed)
	paramName := func(i int) string {
		if b.names != nil {
			return b.names[i]
		}
		return fmt.Sprintf("#%d", i+1)
	}
	if len(args) > fixed && !b.variadic {
		return nil, tooManyArgs(b.name, fixed, len(args))
	}
	assignArg := func(i int, v any) error {
		rv := reflect.New(b.params[i]).Elem()
		if err := arqcompat.AssignValue(rv, v); err != nil {
			var ae *arqcompat.AssignError
			if errors.As(err, &ae) {
				return typeErr("%s() argument '%s' (position %d) must be %s, not %s", b.name, paramName(i), i+1, ae.Want, ae.Got)
			}
			return typeErr("%s() argument '%s': %v", b.name, paramName(i), err)
		}
		vals[i], set[i] = rv, true
		return nil
	}
	for i := 0; i < len(args) && i < fixed; i++ {
		if err := assignArg(i, args[i]); err != nil {
			return nil, err
		}
	}
	for _, it := range kwargs.Items() {
		k, _ := it.Key.(string)
		idx := -1
		for i, n := range b.names {
			if n == k && i < fixed {
				idx = i
			}
		}
		if idx < 0 {
			return nil, typeErr("%s() got an unexpected keyword argument '%s'", b.name, k)
		}
		if set[idx] {
			return nil, typeErr("%s() got multiple values for argument '%s'", b.name, k)
		}
		if err := assignArg(idx, it.Value); err != nil {
			return nil, err
		}
	}
	var missing []string
	for i := range set {
		if !set[i] {
			missing = append(missing, "'"+paramName(i)+"'")
		}
	}
	if len(missing) > 0 {
		plural := "argument"
		if len(missing) > 1 {
			plural = "arguments"
		}
		return nil, typeErr("%s() missing %d required positional %s: %s", b.name, len(missing), plural, joinAnd(missing))
	}
	if b.variadic {
		rest := []any{}
		if len(args) > fixed {
			rest = args[fixed:]
		}
		st := b.params[len(b.params)-1]
		sv := reflect.MakeSlice(st, len(rest), len(rest))
		for i, v := range rest {
			if err := arqcompat.AssignValue(sv.Index(i), v); err != nil {
				return nil, typeErr("%s() argument %d: %v", b.name, fixed+i+1, err)
			}
		}
		vals = append(vals, sv)
	}
	return vals, nil
}

func joinAnd(items []string) string {
	switch len(items) {
	case 1:
		return items[0]
	case 2:
		return items[0] + " and " + items[1]
	}
	s := ""
	for i, it := range items[:len(items)-1] {
		if i > 0 {
			s += ", "
		}
		s += it
	}
	return s + ", and " + items[len(items)-1]
}
