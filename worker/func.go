package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
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
	Name string
	// Timeout overrides the worker's JobTimeout; 0 keeps it.
	Timeout time.Duration
	// KeepResult overrides the worker's; 0 keeps it, Zero keeps no result.
	KeepResult time.Duration
	// KeepResultForever keeps the function's results without expiry. Set
	// with WithKeepResultForever, false included, it overrides the worker's
	// KeepResultForever, as arq's func(keep_result_forever=) does.
	KeepResultForever bool
	// MaxTries overrides the worker's when > 0.
	MaxTries int
	// MaxConcurrency, when > 0, bounds how many of the function's jobs
	// this worker runs at once (see WithMaxConcurrency).
	MaxConcurrency int

	handler        HandlerFunc
	keepForeverSet bool  // WithKeepResultForever was given
	cron           bool  // a cron job's function
	err            error // a registration error, reported by New

	sig *binder // Func's signature, for Contract (worker/contract.go)
}

// keepResultForever is the function's KeepResultForever, or the worker's
// when the function sets none.
func (f *Function) keepResultForever(workers bool) bool {
	if f.KeepResultForever || f.keepForeverSet {
		return f.KeepResultForever
	}
	return workers
}

// ErrBadFunction is matched (errors.Is) by the error New returns for a
// function Func cannot call: fn is not a func, its first parameter is not a
// context.Context, its results are not one of the allowed shapes, WithParams
// names a different number of parameters, or a parameter has a type no
// Python value converts to (a channel, a func, an unsafe.Pointer, a complex
// number).
var ErrBadFunction = errors.New("worker: bad function")

// FuncOption configures a Function: WithTimeout, WithKeepResult,
// WithKeepResultForever, WithMaxTries, WithParams.
type FuncOption struct {
	apply func(*Function, *binder)
}

// WithTimeout sets the function's timeout (arq: func(..., timeout=)).
func WithTimeout(d time.Duration) FuncOption {
	return FuncOption{func(f *Function, _ *binder) { f.Timeout = d }}
}

// WithKeepResult sets how long results are kept; Zero for none.
func WithKeepResult(d time.Duration) FuncOption {
	return FuncOption{func(f *Function, _ *binder) { f.KeepResult = d }}
}

// WithKeepResultForever keeps results without expiry (or not, whatever the
// worker's KeepResultForever).
func WithKeepResultForever(forever bool) FuncOption {
	return FuncOption{func(f *Function, _ *binder) { f.KeepResultForever, f.keepForeverSet = forever, true }}
}

// WithMaxTries sets the function's max tries; 1 prevents retrying.
func WithMaxTries(n int) FuncOption {
	return FuncOption{func(f *Function, _ *binder) { f.MaxTries = n }}
}

// WithMaxConcurrency runs at most n of the function's jobs at once in
// this worker. While n run, the worker claims no more of them (they stay
// queued, untouched, for other workers) and jobs of other functions keep
// flowing. arq has no such limit (python-arq/arq#453).
func WithMaxConcurrency(n int) FuncOption {
	return FuncOption{func(f *Function, _ *binder) { f.MaxConcurrency = n }}
}

// WithParams names the Go function's parameters (after the context), so
// that Python keyword arguments bind to them: WithParams("a", "b") lets
// Python call add(a=1, b=2). WithDefaults gives the last ones defaults.
func WithParams(names ...string) FuncOption {
	return FuncOption{func(_ *Function, b *binder) {
		if b != nil {
			b.names = names
		}
	}}
}

// WithDefaults gives the function's last len(values) parameters default
// values, as Python's def send_email(ctx, to, cc=None, retries=3) does:
// WithParams("to", "cc", "retries"), WithDefaults(nil, 3). A call that
// omits such a parameter gets its default, converted as a Python argument
// would be (a fresh copy for every call, so a handler that changes a
// default slice or map changes only its own). A default that does not
// convert to its parameter's type is reported by New (ErrBadFunction).
func WithDefaults(values ...any) FuncOption {
	return FuncOption{func(_ *Function, b *binder) {
		if b != nil {
			b.defaults = values
		}
	}}
}

// Raw registers a HandlerFunc under name.
func Raw(name string, h HandlerFunc, opts ...FuncOption) Function {
	f := Function{Name: name, handler: h}
	for _, o := range opts {
		if o.apply != nil {
			o.apply(&f, nil)
		}
	}
	return f
}

// Func registers a Go function under the name Python enqueues. fn is a func
// whose first parameter is a context.Context and whose results are one of
// (), (error), (R) or (R, error). Its other parameters bind from Python's
// args with arqcompat.Assign's conversions: positionally, by keyword when
// WithParams names them, a final ...T takes the remaining positional args,
// and a single struct parameter takes a positional dict or object (a
// pydantic model, dataclass or NamedTuple; see arqcompat.Mapped), or, when
// the call has no such argument, kwargs by field name (`arq` or `json` tag). Arguments that do not fit fail the job with a TypeError naming the
// function and the argument, as Python would. A function Func cannot call
// (see ErrBadFunction) is reported by New, which then returns an error.
func Func(name string, fn any, opts ...FuncOption) Function {
	f := Function{Name: name}
	b, err := newBinder(name, fn)
	if err != nil {
		f.err = err
		return f
	}
	f.sig = b
	for _, o := range opts {
		if o.apply != nil {
			o.apply(&f, b)
		}
	}
	if b.names != nil && len(b.names) != len(b.params) {
		f.err = fmt.Errorf("%w: worker.Func(%q): WithParams names %d parameters, the function has %d", ErrBadFunction, name, len(b.names), len(b.params))
		return f
	}
	if err := b.checkDefaults(); err != nil {
		f.err = err
		return f
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
	structIn bool          // one struct parameter bound from kwargs
	fields   []structField // its exported fields, in order
	names    []string
	defaults []any // WithDefaults' values, for the last parameters; normalized by checkDefaults
	hasValue bool
	hasErr   bool
	direct   func(context.Context) (any, error) // see directCall
}

// structField is a field of a struct parameter: the keyword that binds to
// it and its index.
type structField struct {
	name  string
	index int
}

func newBinder(name string, fn any) (*binder, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: worker.Func(%q): %s", ErrBadFunction, name, fmt.Sprintf(format, a...))
	}
	if fn == nil {
		return nil, bad("the function is nil")
	}
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return nil, bad("%T is not a function", fn)
	}
	if v.IsNil() {
		return nil, bad("the function is nil")
	}
	if t.NumIn() == 0 || t.In(0) != typeContext {
		return nil, bad("the first parameter must be a context.Context")
	}
	b := &binder{name: name, fn: v, variadic: t.IsVariadic()}
	for i := 1; i < t.NumIn(); i++ {
		b.params = append(b.params, t.In(i))
		if why := unbindable(t.In(i), map[reflect.Type]bool{}); why != "" {
			return nil, bad("parameter %d (%s): no Python value converts to %s", i+1, t.In(i), why)
		}
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
			return nil, bad("the second result must be an error")
		}
		b.hasValue, b.hasErr = true, true
	default:
		return nil, bad("too many results")
	}
	if len(b.params) == 1 && !b.variadic && b.params[0].Kind() == reflect.Struct && b.params[0] != typeTime {
		b.structIn = true
		st := b.params[0]
		for i := 0; i < st.NumField(); i++ {
			if name, ok := keyword(st.Field(i)); ok {
				b.fields = append(b.fields, structField{name, i})
			}
		}
	}
	return b, nil
}

// checkDefaults normalizes WithDefaults' values to Python values and
// checks that each converts to its parameter's type.
func (b *binder) checkDefaults() error {
	if b.defaults == nil {
		return nil
	}
	fixed := len(b.params)
	if b.variadic {
		fixed--
	}
	if b.structIn || len(b.defaults) > fixed {
		return fmt.Errorf("%w: worker.Func(%q): WithDefaults gives %d defaults, the function has %d parameters that can take one", ErrBadFunction, b.name, len(b.defaults), fixed)
	}
	first := fixed - len(b.defaults)
	for i, d := range b.defaults {
		v, err := arqcompat.Normalize(d)
		if err != nil {
			return fmt.Errorf("%w: worker.Func(%q): default %d: %v", ErrBadFunction, b.name, i+1, err)
		}
		if err := arqcompat.AssignValue(reflect.New(b.params[first+i]).Elem(), v); err != nil {
			return fmt.Errorf("%w: worker.Func(%q): the default of parameter %d does not convert to %s: %v", ErrBadFunction, b.name, first+i+1, b.params[first+i], err)
		}
		b.defaults[i] = v
	}
	return nil
}

// keyword is the keyword a struct field binds to, as arqcompat.Assign
// reads a dict into a struct: the `arq` tag, else the `json` tag, else the
// field name; unexported fields and the tag "-" bind to none.
func keyword(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	for _, key := range []string{"arq", "json"} {
		if tag, ok := f.Tag.Lookup(key); ok {
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" {
				return "", false
			}
			if name != "" {
				return name, true
			}
		}
	}
	return f.Name, true
}

// unbindable names the part of t that no Python value converts to (a
// channel, a func, an unsafe.Pointer, a complex number), or returns "".
func unbindable(t reflect.Type, seen map[reflect.Type]bool) string {
	if seen[t] {
		return ""
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return t.String()
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return unbindable(t.Elem(), seen)
	case reflect.Map:
		if why := unbindable(t.Key(), seen); why != "" {
			return why
		}
		return unbindable(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if _, ok := keyword(t.Field(i)); ok {
				if why := unbindable(t.Field(i).Type, seen); why != "" {
					return why
				}
			}
		}
	}
	return ""
}

var typeTime = reflect.TypeOf(time.Time{})

// typeErr builds the TypeError Python would raise for a bad call.
func typeErr(format string, a ...any) error {
	return arqcompat.NewException("builtins", "TypeError", fmt.Sprintf(format, a...))
}

// argTypeErr is the TypeError for an argument that does not convert to its
// parameter, in CPython's words for a builtin: "f() argument 'x' must be
// int, not str" (argument is "'x'", "'x' (position 1)" or "3"), with the
// place inside the argument as a Python subscript: "argument 'xs'[2]".
func argTypeErr(fname, argument string, err error) error {
	var ae *arqcompat.AssignError
	if !errors.As(err, &ae) {
		return typeErr("%s() argument %s: %v", fname, argument, err)
	}
	if ae.Msg != "" {
		return typeErr("%s() argument %s%s: %s", fname, argument, ae.Path, ae.Msg)
	}
	return typeErr("%s() argument %s%s must be %s, not %s", fname, argument, ae.Path, ae.Expected, ae.Got)
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
	return b.callReflect(ctx, job)
}

// callReflect is call through reflection. It is a function of its own so
// that call's frame, under every waiting handler, stays small.
func (b *binder) callReflect(ctx context.Context, job *Job) (any, error) {
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

// bindStruct fills the struct parameter. A single positional dict or
// object (a pydantic model, a dataclass, a NamedTuple) is the struct
// itself; otherwise positional args fill its fields in order and kwargs
// fill them by keyword (the kwargs-as-struct form).
func (b *binder) bindStruct(args []any, kwargs *arqcompat.Dict) ([]reflect.Value, error) {
	v := reflect.New(b.params[0]).Elem()
	if len(args) == 0 && b.names != nil && kwargs.Len() == 1 {
		if whole, ok := kwargs.Get(b.names[0]); ok && isInstance(whole) {
			args, kwargs = []any{whole}, nil // f(order=Order(...)), the parameter by its name
		}
	}
	if len(args) == 1 && isInstance(args[0]) {
		if kwargs.Len() > 0 {
			for _, it := range kwargs.Items() {
				k, _ := it.Key.(string)
				return nil, typeErr("%s() got an unexpected keyword argument '%s'", b.name, k)
			}
		}
		if err := arqcompat.AssignValue(v, args[0]); err != nil {
			argument := "1"
			if b.names != nil {
				argument = fmt.Sprintf("'%s' (position 1)", b.names[0])
			}
			return nil, argTypeErr(b.name, argument, err)
		}
		return []reflect.Value{v}, nil
	}
	if len(args) > len(b.fields) {
		return nil, tooManyArgs(b.name, len(b.fields), len(args))
	}
	set := make([]bool, len(b.fields))
	assignField := func(i int, value any) error {
		if err := arqcompat.AssignField(v.Field(b.fields[i].index), value); err != nil {
			return argTypeErr(b.name, "'"+b.fields[i].name+"'", err)
		}
		set[i] = true
		return nil
	}
	for i, a := range args {
		if err := assignField(i, a); err != nil {
			return nil, err
		}
	}
	for _, it := range kwargs.Items() {
		k, _ := it.Key.(string)
		idx := -1
		for i, f := range b.fields {
			if f.name == k {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, typeErr("%s() got an unexpected keyword argument '%s'", b.name, k)
		}
		if set[idx] {
			return nil, typeErr("%s() got multiple values for argument '%s'", b.name, k)
		}
		if err := assignField(idx, it.Value); err != nil {
			return nil, err
		}
	}
	return []reflect.Value{v}, nil
}

// isInstance reports whether a positional argument is a whole struct
// parameter's value: a dict or an instance of a class.
func isInstance(v any) bool {
	switch v.(type) {
	case *arqcompat.Dict, *arqcompat.Object:
		return true
	}
	return false
}

func (b *binder) bind(args []any, kwargs *arqcompat.Dict) ([]reflect.Value, error) {
	if b.structIn {
		return b.bindStruct(args, kwargs)
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
			argument := strconv.Itoa(i + 1) // CPython's positional-only wording
			if b.names != nil {
				argument = fmt.Sprintf("'%s' (position %d)", b.names[i], i+1)
			}
			return argTypeErr(b.name, argument, err)
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
	firstDefault := fixed - len(b.defaults)
	for i := range set {
		if set[i] {
			continue
		}
		if i >= firstDefault {
			if err := assignArg(i, b.defaults[i-firstDefault]); err != nil {
				return nil, err
			}
			continue
		}
		missing = append(missing, "'"+paramName(i)+"'")
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
				return nil, argTypeErr(b.name, strconv.Itoa(fixed+i+1), err)
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
