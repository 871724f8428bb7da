package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/internal/workertest"
	"github.com/goarq/goarq/worker"
)

// A function Func cannot call is an error from New, matching
// ErrBadFunction and naming the function, never a panic from Func.
func TestNewReportsBadFunctions(t *testing.T) {
	type withChan struct {
		Name string
		C    chan int
	}
	cases := map[string]worker.Function{
		"not a func":      worker.Func("f", 42),
		"nil":             worker.Func("f", nil),
		"no context":      worker.Func("f", func(a int) {}),
		"second result":   worker.Func("f", func(ctx context.Context) (int, int) { return 0, 0 }),
		"three results":   worker.Func("f", func(ctx context.Context) (int, int, error) { return 0, 0, nil }),
		"params count":    worker.Func("f", func(ctx context.Context, a, b int) {}, worker.WithParams("a")),
		"chan param":      worker.Func("f", func(ctx context.Context, c chan int) {}),
		"func param":      worker.Func("f", func(ctx context.Context, f func()) {}),
		"unsafe pointer":  worker.Func("f", func(ctx context.Context, p unsafe.Pointer) {}),
		"complex param":   worker.Func("f", func(ctx context.Context, c complex128) {}),
		"chan in struct":  worker.Func("f", func(ctx context.Context, in withChan) {}),
		"func in slice":   worker.Func("f", func(ctx context.Context, fs ...func()) {}),
		"chan in map key": worker.Func("f", func(ctx context.Context, m map[string][]chan int) {}),
	}
	for name, f := range cases {
		_, err := worker.New(worker.Settings{Functions: []worker.Function{f}, Logger: testutil.QuietLogger()})
		if !errors.Is(err, worker.ErrBadFunction) || !strings.Contains(err.Error(), `worker.Func("f")`) {
			t.Errorf("%s: New returned %v", name, err)
		}
		cron := worker.CronJob{Name: "cron:f", Handler: f}
		if _, err := worker.New(worker.Settings{CronJobs: []worker.CronJob{cron}, Logger: testutil.QuietLogger()}); !errors.Is(err, worker.ErrBadFunction) {
			t.Errorf("%s as a cron Handler: New returned %v", name, err)
		}
	}
	// a recursive type whose fields all bind is fine
	type node struct {
		Value int
		Next  *node
	}
	ok := worker.Func("ok", func(ctx context.Context, n node, rest ...map[string]any) {})
	if _, err := worker.New(worker.Settings{Functions: []worker.Function{ok}, Logger: testutil.QuietLogger()}); err != nil {
		t.Errorf("a recursive struct parameter: %v", err)
	}
}

// Arguments that do not convert fail with a TypeError worded as CPython
// words one for a builtin: Python type names, and the keyword of a struct
// field, never a Go type or a Go field path.
func TestTypeErrorsUsePythonNames(t *testing.T) {
	c, rdb, _ := setup(t)
	ctx := context.Background()
	type Person struct {
		Name string `arq:"name"`
		Age  int    `json:"age,omitempty"`
		Tags []int  `arq:"tags"`
	}
	fns := []worker.Function{
		worker.Func("typed", func(ctx context.Context, p Person) (string, error) { return p.Name, nil }),
		worker.Func("when", func(ctx context.Context, t time.Time) time.Time { return t }, worker.WithParams("t")),
		worker.Func("unnamed", func(ctx context.Context, t time.Time, d time.Duration) {}),
		worker.Func("sum", func(ctx context.Context, xs ...float64) {}),
		worker.Func("small", func(ctx context.Context, n int8, xs []int) {}, worker.WithParams("n", "xs")),
	}
	calls := map[string]client.Request{
		"struct":       {Function: "typed", Kwargs: map[string]any{"name": "ann", "age": "ten"}},
		"structPos":    {Function: "typed", Args: []any{"ann", "ten"}},
		"structNested": {Function: "typed", Kwargs: map[string]any{"tags": []any{1, "x"}}},
		"structOK":     {Function: "typed", Kwargs: map[string]any{"name": "ann", "age": 3}},
		"datetime":     {Function: "when", Args: []any{"2024-01-01"}},
		"datetimeKw":   {Function: "when", Kwargs: map[string]any{"t": 1.5}},
		"unnamed":      {Function: "unnamed", Args: []any{arqcompat.NaiveDateTime{Time: time.Unix(0, 0).UTC()}, "1s"}},
		"variadic":     {Function: "sum", Args: []any{1, 2, "3"}},
		"range":        {Function: "small", Args: []any{300, []any{}}},
		"listItem":     {Function: "small", Args: []any{1, []any{1, 2.5}}},
	}
	for id, r := range calls {
		r.Options.JobID = id
		if _, err := c.EnqueueRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	workertest.RunBurst(t, rdb, worker.Settings{Functions: fns})
	if got, err := result(t, c, "structOK"); err != nil || got != "ann" {
		t.Errorf("structOK: %v %v", got, err)
	}
	want := map[string]string{
		"struct":       "typed() argument 'age' must be int, not str",
		"structPos":    "typed() argument 'age' must be int, not str",
		"structNested": "typed() argument 'tags'[1] must be int, not str",
		"datetime":     "when() argument 't' (position 1) must be datetime, not str",
		"datetimeKw":   "when() argument 't' (position 1) must be datetime, not float",
		"unnamed":      "unnamed() argument 2 must be timedelta, not str",
		"variadic":     "sum() argument 3 must be float, not str",
		"range":        "small() argument 'n' (position 1): 300 is out of range for int8",
		"listItem":     "small() argument 'xs' (position 2)[1] must be int, not float",
	}
	expectTypeErrors(t, c, want)
}

// A naive datetime bound to a time.Time goes back to Python naive, also
// after arithmetic; a handler that returns an aware time gives an aware one.
func TestNaiveDateTimeRoundTripsThroughAHandler(t *testing.T) {
	c, rdb, _ := setup(t)
	ctx := context.Background()
	later := worker.Func("later", func(ctx context.Context, t time.Time) time.Time { return t.Add(time.Hour) })
	utc := worker.Func("utc", func(ctx context.Context, t time.Time) time.Time { return t.UTC() })
	naive := arqcompat.NaiveDateTime{Time: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
	aware := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("", 3600))
	calls := map[string]client.Request{
		"naive": {Function: "later", Args: []any{naive}},
		"aware": {Function: "later", Args: []any{aware}},
		"utc":   {Function: "utc", Args: []any{naive}},
	}
	for id, r := range calls {
		r.Options.JobID = id
		if _, err := c.EnqueueRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{later, utc}})
	want := map[string]any{
		"naive": arqcompat.NaiveDateTime{Time: naive.Add(time.Hour)},
		"aware": aware.Add(time.Hour),
		"utc":   naive.Time,
	}
	for id, v := range want {
		got, err := result(t, c, id)
		if err != nil || !arqcompat.Equal(got, v) {
			t.Errorf("%s: got %s %v, want %s", id, arqcompat.Repr(got), err, arqcompat.Repr(v))
		}
	}
}
