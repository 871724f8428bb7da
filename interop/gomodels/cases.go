package gomodels

import (
	"fmt"
	"reflect"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// Case is a row of the value table: the Go value of appmodels' row Name.
type Case struct {
	Name string
	Want any
}

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func str(s string) *string { return &s }

// When is appmodels.WHEN.
func When() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 123456000, mustZone("Europe/Paris")) }

// Bench is appmodels.bench_order().
func Bench() BenchOrder {
	o := BenchOrder{ID: 123456, CustomerID: 987, CustomerEmail: "ann@example.com", CustomerName: "Ann Example",
		Priority: 3, Status: "new", PlacedAt: When(), Currency: "EUR", Subtotal: 99.5, Tax: 19.9, Total: 119.4,
		Paid: true, Street: "1 Rue de Rivoli", City: "Paris", Postcode: "75001", Country: "FR",
		Phone: "+33 1 23 45 67 89", Notes: "ring twice"}
	for i := 0; i < 10; i++ {
		o.Lines = append(o.Lines, BenchLine{SKU: fmt.Sprintf("SKU-%d", i), Qty: i + 1, Price: 9.95 + float64(i), Status: "new"})
	}
	return o
}

// Cases are the rows that go both ways (appmodels.VALUES).
func Cases() []Case {
	paris, ny := mustZone("Europe/Paris"), mustZone("America/New_York")
	line := Line{SKU: "A-1", Qty: 2, Price: "9.99"}
	uuid, _ := arqcompat.ParseUUID("12345678-1234-5678-1234-567812345678")
	return []Case{
		{"priority", Priority(3)},
		{"priority_low", Priority(1)},
		{"color", Color("blue")},
		{"status", Status("done")},
		{"perm", Perm(3)},
		{"perm_none", Perm(0)},
		{"point", Point{1, 2.5}},
		{"money", Money{"12.50", "EUR"}},
		{"tag", Tag{"urgent", 3}},
		{"dims", Dims{2, 3}},
		{"coord", Coord{48.8566, 2.3522}},
		{"range", Range{1, 3}},
		{"shipment", Shipment{7, 3, When(), Dims{4, 5}}},
		{"timer", Timer{"tick", 5*time.Minute + time.Microsecond}},
		{"line", line},
		{"order_min", Order{ID: 1, CustomerEmail: "a@b.c", Priority: 1, Status: "new", PlacedAt: When(),
			Lines: []Line{}, Tags: []string{}, Set: arqcompat.FieldsSet{"customer_email", "id", "placed_at"}}},
		{"order_full", Order{ID: 2, CustomerEmail: "b@c.d", Priority: 3, Status: "done", PlacedAt: When(),
			Lines: []Line{line, {SKU: "B-2", Qty: 1, Price: "0.50"}}, Note: str("leave at door"), Tags: []string{"gift", "fragile"},
			Set: arqcompat.FieldsSet{"customer_email", "id", "lines", "note", "placed_at", "priority", "status", "tags"}}},
		{"event", Event{"launch", time.Date(2024, 3, 31, 1, 30, 0, 0, ny), "red"}},
		{"invoice", Invoice{uuid, "1000.01", arqcompat.Date{Year: 2024, Month: 2, Day: 29}}},
		{"profile", Profile{[]Status{"new", "done"}, Coord{1.5, -2.25}, 4}},
		{"setting", Setting{"retries", 3}},
		{"legacy_user", LegacyUser{"bob", 42}},
		{"dt_paris", When()},
		{"dt_new_york", time.Date(2024, 11, 3, 12, 0, 0, 0, ny)},
		{"dt_tokyo", time.Date(2000, 1, 1, 9, 0, 0, 0, mustZone("Asia/Tokyo"))},
		{"dt_fold", time.Date(2024, 10, 27, 1, 30, 0, 0, time.UTC).In(paris)}, // 02:30 CET, the second 02:30
		{"dt_utc", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
		{"dt_fixed", time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("UTC+05:30", 19800))},
		{"date", arqcompat.Date{Year: 2024, Month: 2, Day: 29}},
		{"uuid", uuid},
		{"decimal", arqcompat.Decimal("3.14159")},
		{"lines", []Line{line, {SKU: "C-3", Qty: 9, Price: "1"}}},
		{"points", map[string]Point{"a": {0, 0.5}, "b": {-1, 1e-9}}},
		{"bench_order", Bench()},
	}
}

// orderSubset is a handler's view of an Order that needs three fields.
type orderSubset struct {
	ID    int     `json:"id"`
	Note  *string `json:"note"`
	Lines []struct {
		SKU string `json:"sku"`
	} `json:"lines"`
}

// InOnly are the rows that bind into plain Go types (appmodels.IN_ONLY).
func InOnly() []Case {
	paris := mustZone("Europe/Paris")
	sub := orderSubset{ID: 2, Note: str("leave at door")}
	sub.Lines = append(sub.Lines, struct {
		SKU string `json:"sku"`
	}{"A-1"}, struct {
		SKU string `json:"sku"`
	}{"B-2"})
	return []Case{
		{"pydantic_tzinfo", time.Date(2024, 5, 6, 7, 8, 9, 500000000, time.FixedZone("UTC+02:00", 7200))},
		{"pytz_paris", time.Date(2024, 10, 27, 1, 30, 0, 0, time.UTC).In(paris)},
		{"pytz_utc", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
		{"dateutil_paris", time.Date(2024, 7, 1, 12, 0, 0, 0, paris)},
		{"dateutil_utc", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
		{"dateutil_offset", time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("IST", 19800))},
		{"zoneinfo_utc", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
		{"intenum_as_int", 3},
		{"strenum_as_str", "done"},
		{"enum_as_str", "blue"},
		{"flag_as_int", 5},
		{"uuid_as_str", "12345678-1234-5678-1234-567812345678"},
		{"decimal_as_str", "-0.10"},
		{"decimal_as_float", 2.5},
		{"date_as_time", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"order_as_subset", sub},
		{"dataclass_as_dict", map[string]any{"x": int64(1), "y": 2.5}},
	}
}

// Lookup finds a row of Cases or InOnly.
func Lookup(name string) (Case, bool) {
	for _, c := range append(Cases(), InOnly()...) {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// Bind binds a decoded Python value into a new value of the row's Go type
// and compares it with the row's: "" when every field is the same, else
// what differs. loose compares times by instant and offset only and skips
// FieldsSet (JSON carries neither zone names nor fields sets).
func Bind(c Case, v any, loose bool) (string, error) {
	p := reflect.New(reflect.TypeOf(c.Want))
	assign := arqcompat.AssignValue
	if loose {
		assign = arqcompat.AssignField // ISO strings into time.Time, as in a model's fields
	}
	if err := assign(p.Elem(), v); err != nil {
		return "", err
	}
	if d := diff(reflect.ValueOf(c.Want), p.Elem(), "", loose); d != "" {
		return fmt.Sprintf("%s: got %#v, want %#v", d, p.Elem().Interface(), c.Want), nil
	}
	return "", nil
}

// New returns a pointer to a zero value of the row's Go type.
func New(c Case) any { return reflect.New(reflect.TypeOf(c.Want)).Interface() }

// Diff compares what a pointer from New holds with the row's value: ""
// when every field is the same, else what differs.
func Diff(c Case, ptr any) string {
	got := reflect.ValueOf(ptr).Elem()
	if d := diff(reflect.ValueOf(c.Want), got, "", false); d != "" {
		return fmt.Sprintf("%s: got %#v, want %#v", d, got.Interface(), c.Want)
	}
	return ""
}

var (
	typeTime      = reflect.TypeOf(time.Time{})
	typeFieldsSet = reflect.TypeOf(arqcompat.FieldsSet{})
)

func diff(a, b reflect.Value, path string, loose bool) string {
	if a.Type() != b.Type() {
		return fmt.Sprintf("%s: type %s != %s", path, a.Type(), b.Type())
	}
	switch {
	case a.Type() == typeTime:
		x, y := a.Interface().(time.Time), b.Interface().(time.Time)
		xn, xo := x.Zone()
		yn, yo := y.Zone()
		if !x.Equal(y) || xo != yo || (!loose && (xn != yn || x.Location().String() != y.Location().String())) {
			return fmt.Sprintf("%s: %s (%s) != %s (%s)", path, x, x.Location(), y, y.Location())
		}
		return ""
	case a.Type() == typeFieldsSet && loose:
		return ""
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if d := diff(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name, loose); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.Len() != b.Len() || a.IsNil() != b.IsNil() {
			return fmt.Sprintf("%s: %d items (nil %v) != %d items (nil %v)", path, a.Len(), a.IsNil(), b.Len(), b.IsNil())
		}
		for i := 0; i < a.Len(); i++ {
			if d := diff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i), loose); d != "" {
				return d
			}
		}
		return ""
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path + ": nil != not nil"
			}
			return ""
		}
		return diff(a.Elem(), b.Elem(), path, loose)
	case reflect.Map:
		if a.Len() != b.Len() {
			return path + ": map sizes differ"
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Sprintf("%s[%v]: missing", path, k)
			}
			if d := diff(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k), loose); d != "" {
				return d
			}
		}
		return ""
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path + ": nil != not nil"
			}
			return ""
		}
		return diff(a.Elem(), b.Elem(), path, loose)
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %#v != %#v", path, a.Interface(), b.Interface())
	}
	return ""
}
