package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/contract"
	"github.com/goarq/goarq/worker"
)

type contractOrder struct {
	ID    int64    `arq:"id"`
	Tags  []string `arq:"tags"`
	Note  *string  `arq:"note,omitempty"`
	Level level    `arq:"level"`
}

func (contractOrder) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: "app.models", Name: "Order", Kind: arqcompat.Pydantic}
}

type level int

func (level) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: "app.models", Name: "Level", Kind: arqcompat.Enum}
}

type plainPoint struct{ X, Y float64 }

func TestContractDescribesTheGoFunctions(t *testing.T) {
	s := worker.Settings{
		QueueName: "q", MaxTries: 7,
		Functions: []worker.Function{
			worker.Func("resize", func(ctx context.Context, path string, width int, when *time.Time) (string, error) { return "", nil },
				worker.WithParams("path", "width", "when"), worker.WithDefaults(640, nil), worker.WithTimeout(time.Minute)),
			worker.Func("positional", func(ctx context.Context, xs []int, m map[string]*plainPoint, rest ...float64) {}),
			worker.Func("place", func(ctx context.Context, o contractOrder) level { return 0 }, worker.WithParams("order"),
				worker.WithKeepResult(worker.Zero)),
			worker.Func("kwargs_struct", func(ctx context.Context, p struct {
				Name string `arq:"name"`
				Age  int    `arq:"age"`
			}) error {
				return nil
			}),
			worker.Raw("raw", func(ctx context.Context, j *worker.Job) (any, error) { return nil, nil }),
		},
		CronJobs: []worker.CronJob{{Name: "cron:tick", Handler: worker.Func("", func(ctx context.Context) error { return nil })}},
	}
	c, err := worker.Contract(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := c.Write(&buf); err != nil {
		t.Fatal(err)
	}
	// what Contract writes reads back as a valid contract
	back, err := contract.Read(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if back.Queue != "q" || back.Serializer != "pickle" || back.Source.Language != "go" {
		t.Errorf("queue %q serializer %q source %+v", back.Queue, back.Serializer, back.Source)
	}
	sig := func(name string) string {
		f := back.Function(name)
		if f == nil {
			t.Fatalf("no function %s", name)
		}
		var parts []string
		for _, p := range f.Params {
			s := p.Name + " " + p.Kind + " " + p.Type.String()
			if p.HasDefault {
				s += " = " + string(p.Default)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, "; ") + " -> " + f.Returns.String()
	}
	for name, want := range map[string]string{
		"resize":        "path positional_or_keyword str; width positional_or_keyword int = 640; when positional_or_keyword datetime.datetime | None = null -> str",
		"positional":    "arg1 positional_only list[int]; arg2 positional_only dict[str, go:github.com/goarq/goarq/worker_test.plainPoint | None]; args var_positional float -> None",
		"place":         "order positional_only app.models.Order -> app.models.Level",
		"kwargs_struct": "name positional_or_keyword str; age positional_or_keyword int -> None",
		"raw":           "args var_positional Any; kwargs var_keyword Any -> Any",
		"cron:tick":     " -> None",
	} {
		if got := sig(name); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	if f := back.Function("resize"); f.Timeout != 60 || f.MaxTries != 7 || f.KeepResult != 3600 {
		t.Errorf("resize: timeout %v max_tries %d keep_result %v", f.Timeout, f.MaxTries, f.KeepResult)
	}
	if f := back.Function("place"); f.KeepResult != 0 {
		t.Errorf("place: keep_result %v, want 0 (Zero)", f.KeepResult)
	}
	if f := back.Function("cron:tick"); !f.Cron || f.MaxTries != 1 || f.KeepResult != 0 {
		t.Errorf("cron:tick: %+v", f)
	}
	order := back.Model("app.models.Order")
	if order == nil || order.Kind != contract.ModelPydantic {
		t.Fatalf("Order model: %+v", order)
	}
	fields, _ := json.Marshal(order.Fields)
	if want := `[{"name":"id","type":{"kind":"int"}},{"name":"tags","type":{"kind":"list","of":{"kind":"str"}}},` +
		`{"name":"note","type":{"kind":"optional","of":{"kind":"str"}},"has_default":true},` +
		`{"name":"level","type":{"kind":"model","ref":"app.models.Level"}}]`; string(fields) != want {
		t.Errorf("Order fields:\n got %s\nwant %s", fields, want)
	}
	if lv := back.Model("app.models.Level"); lv == nil || lv.Kind != contract.ModelEnum || lv.Base != "int" {
		t.Errorf("Level model: %+v", lv)
	}
}

func TestContractReportsABadFunction(t *testing.T) {
	_, err := worker.Contract(worker.Settings{Functions: []worker.Function{worker.Func("bad", 42)}})
	if err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("err %v", err)
	}
}

// Contract describes a Go worker's functions for `goarq gen python`, which
// writes typed enqueue functions for the Python side, and for `goarq
// contract check`.
func ExampleContract() {
	s := worker.Settings{Functions: []worker.Function{
		worker.Func("resize_image", func(ctx context.Context, path string, width int) (string, error) {
			return path, nil
		}, worker.WithParams("path", "width"), worker.WithDefaults(640)),
	}}
	c, err := worker.Contract(s)
	if err != nil {
		panic(err)
	}
	f := c.Function("resize_image")
	for _, p := range f.Params {
		def := ""
		if p.HasDefault {
			def = " = " + string(p.Default)
		}
		fmt.Println(p.Name+":", p.Type.String()+def)
	}
	fmt.Println("returns", f.Returns)
	// Output:
	// path: str
	// width: int = 640
	// returns str
}
