package arqcompat_test

import (
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

const appModule = "interop.appmodels"

type lPriority int

func (lPriority) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: appModule, Name: "Priority", Kind: arqcompat.Enum}
}

type lStatus string

func (lStatus) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: appModule, Name: "Status", Kind: arqcompat.Enum}
}

type lLine struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
	Set   arqcompat.FieldsSet
}

func (lLine) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: appModule, Name: "Line", Kind: arqcompat.Pydantic}
}

type lOrder struct {
	ID       int       `json:"id"`
	Email    string    `json:"customer_email"`
	Priority lPriority `json:"priority"`
	Status   lStatus   `json:"status"`
	Note     *string   `json:"note"`
	Tags     []string  `json:"tags"`
	Set      arqcompat.FieldsSet
}

func (lOrder) PythonClass() arqcompat.Class {
	return arqcompat.Class{Module: appModule, Name: "Order", Kind: arqcompat.Pydantic}
}

type lPair struct {
	A string  `json:"a"`
	B float64 `json:"b"`
}

func decodePy(t *testing.T, name string) any {
	t.Helper()
	data, ok := pythonPickles[name]
	if !ok {
		t.Fatalf("no pickle %q", name)
	}
	v, err := arqcompat.PickleSerializer(arqcompat.Limits{}).Unmarshal([]byte(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func zone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	return loc
}

// Every layout CPython and pydantic write binds into Go types, field by
// field, from the bytes Python wrote (layouts_data_test.go).
func TestPythonLayoutsBind(t *testing.T) {
	paris := zone(t, "Europe/Paris")
	type point struct {
		X int     `json:"x"`
		Y float64 `json:"y"`
	}
	type tag struct {
		Name   string `json:"name"`
		Weight int    `json:"weight"`
	}
	type dims struct{ W, H int }
	type money struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	}
	type user struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	cases := []struct {
		pickle string
		dst    any // a pointer to a zero value
		want   any
	}{
		{"pydantic", new(lLine), lLine{"A-1", 2, 9.99, arqcompat.FieldsSet{"price", "qty", "sku"}}},
		{"pydanticFieldsSet", new(lOrder), lOrder{ID: 1, Email: "a@b.c", Priority: 1, Status: "new", Tags: []string{},
			Set: arqcompat.FieldsSet{"customer_email", "id", "placed_at"}}},
		{"pydanticV1", new(user), user{"bob", 42}},
		{"dataclass", new(point), point{1, 2.5}},
		{"dataclassFrozen", new(money), money{"12.50", "EUR"}},
		{"dataclassSlots", new(tag), tag{"urgent", 3}},
		{"dataclassSlotsFrozen", new(dims), dims{2, 3}},
		{"namedtuple", new(lPair), lPair{}}, // checked below: str into a str field fails
		{"intenum", new(int), 3},
		{"intenum", new(lPriority), lPriority(3)},
		{"strenum", new(string), "done"},
		{"strenum", new(lStatus), lStatus("done")},
		{"enum", new(string), "blue"},
		{"flag", new(uint8), uint8(5)},
		{"uuid", new(string), "12345678-1234-5678-1234-567812345678"},
		{"decimal", new(string), "-0.10"},
		{"decimal", new(float64), -0.1},
		{"date", new(time.Time), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"zoneinfo", new(time.Time), time.Date(2024, 7, 1, 12, 0, 0, 0, paris)},
		{"zoneinfoFold", new(time.Time), time.Date(2024, 10, 27, 1, 30, 0, 0, time.UTC).In(paris)},
		{"pydanticTzInfo", new(time.Time), time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("UTC+02:00", 7200))},
		{"pytz", new(time.Time), time.Date(2024, 10, 27, 1, 30, 0, 0, time.UTC).In(paris)},
		{"pytzUTC", new(time.Time), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"dateutilGettz", new(time.Time), time.Date(2024, 7, 1, 12, 0, 0, 0, paris)},
		{"dateutilUTC", new(time.Time), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"dateutilOffset", new(time.Time), time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("IST", 19800))},
	}
	for _, c := range cases {
		if c.pickle == "namedtuple" {
			continue
		}
		err := arqcompat.Assign(c.dst, decodePy(t, c.pickle))
		got := reflect.ValueOf(c.dst).Elem().Interface()
		if err != nil {
			t.Errorf("%s into %T: %v", c.pickle, c.dst, err)
			continue
		}
		if tm, ok := got.(time.Time); ok {
			w := c.want.(time.Time)
			gn, goff := tm.Zone()
			wn, woff := w.Zone()
			if !tm.Equal(w) || gn != wn || goff != woff || tm.Location().String() != w.Location().String() {
				t.Errorf("%s: got %v (%v), want %v (%v)", c.pickle, tm, tm.Location(), w, w.Location())
			}
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s into %T: got %#v, want %#v", c.pickle, c.dst, got, c.want)
		}
	}
	var coord struct{ Lat, Lon float64 }
	if err := arqcompat.Assign(&coord, decodePy(t, "namedtuple")); err != nil || coord.Lat != 1.5 || coord.Lon != -2.25 {
		t.Errorf("namedtuple by position: %+v %v", coord, err)
	}
	var r big.Rat
	p := &r
	if err := arqcompat.Assign(&p, decodePy(t, "decimal")); err != nil || p.RatString() != "-1/10" {
		t.Errorf("Decimal into *big.Rat: %v %v", p, err)
	}
}

// A value that does not fit is an *AssignError naming the field or the
// class, never zero values.
func TestPythonLayoutsNeverBindSilently(t *testing.T) {
	cases := []struct {
		pickle string
		dst    any
		want   string
	}{
		{"pydantic", new(lOrder), "must be Order, not Line"},
		{"dataclass", new(struct {
			X int `json:"x"`
			Z int `json:"z"`
		}), "Point has no field 'z'"},
		{"namedtuple", new(struct{ A, B, C float64 }), "Coord carries 2 values by position"},
		{"namedtuple", new(lPair), "['a'] must be str, not float"},
		{"strenum", new(lPriority), "must be Priority, not Status"},
		{"dateutilLocal", new(time.Time), "datetime with tzinfo dateutil.tz.tz.tzlocal is not supported"},
		{"pydantic", new(struct {
			Qty string `json:"qty"`
		}), "['qty'] must be str, not int"},
	}
	for _, c := range cases {
		err := arqcompat.Assign(c.dst, decodePy(t, c.pickle))
		var ae *arqcompat.AssignError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s into %T: got %v, want an AssignError containing %q", c.pickle, c.dst, err, c.want)
		}
	}
}

// Reprs read as Python's, for what the pickle carries (an enum member's
// name is not in its pickle).
func TestPythonLayoutsRepr(t *testing.T) {
	want := map[string]string{
		"pydantic":             "Line(sku='A-1', qty=2, price=Decimal('9.99'))",
		"pydanticV1":           "LegacyUser(name='bob', age=42)",
		"dataclass":            "Point(x=1, y=2.5)",
		"dataclassSlots":       "Tag(name='urgent', weight=3)",
		"dataclassSlotsFrozen": "Dims(2, 3)",
		"namedtuple":           "Coord(1.5, -2.25)",
		"intenum":              "Priority(3)",
		"zoneinfo":             "datetime.datetime(2024, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))",
		"zoneinfoFold":         "datetime.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))",
	}
	zone(t, "Europe/Paris")
	for name, w := range want {
		if got := arqcompat.Repr(decodePy(t, name)); got != w {
			t.Errorf("%s: got %s, want %s", name, got, w)
		}
	}
}

// A mapped Go value pickles as a call Python's class makes its instance
// from, decodes back into the same Go value, and reprs as Python would.
func TestMappedRoundTrip(t *testing.T) {
	note := "n"
	in := lOrder{ID: 7, Email: "a@b.c", Priority: 3, Status: "done", Note: &note, Tags: []string{"x"},
		Set: arqcompat.FieldsSet{"customer_email", "id", "note"}}
	pickle := arqcompat.PickleSerializer(arqcompat.Limits{})
	data, err := pickle.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	v, err := pickle.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := v.(*arqcompat.Object)
	if !ok || o.Class != (arqcompat.Global{Module: appModule, Name: "Order.model_validate"}) {
		t.Fatalf("got %s", arqcompat.Repr(v))
	}
	if got := arqcompat.Repr(v); got != "Order(id=7, customer_email='a@b.c', note='n')" {
		t.Errorf("repr of the pickle: %s", got) // only the fields set are sent
	}
	if got := arqcompat.Repr(in); got != "Order(id=7, customer_email='a@b.c', priority=Priority(3), status=Status('done'), note='n', tags=['x'])" {
		t.Errorf("repr of the Go value: %s", got)
	}
	var back lOrder
	if err := arqcompat.Assign(&back, v); err != nil || back.ID != 7 || back.Email != "a@b.c" || *back.Note != "n" || !reflect.DeepEqual(back.Set, in.Set) {
		t.Errorf("back: %+v %v", back, err)
	}
	js, err := arqcompat.JSONSerializer(arqcompat.Limits{}).Marshal(in)
	if err != nil || string(js) != `{"id": 7, "customer_email": "a@b.c", "note": "n"}` {
		t.Errorf("JSON: %s %v", js, err)
	}
}
