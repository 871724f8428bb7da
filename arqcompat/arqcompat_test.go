package arqcompat_test

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/samples"
)

var formats = map[string]func([]byte) (any, error){
	"pickle":  arqcompat.Unpickle,
	"json":    arqcompat.UnmarshalJSON,
	"msgpack": arqcompat.UnmarshalMsgpack,
}

// Every row of the type table, as CPython writes it, decodes to the Go value.
func TestDecodeWhatPythonWrites(t *testing.T) {
	for ser, decode := range formats {
		for _, s := range samples.For(ser) {
			pattern := fmt.Sprintf("testdata/python/%s.%s", s.Name, map[string]string{"pickle": "p*.pkl", "json": "json", "msgpack": "msgpack"}[ser])
			files, _ := filepath.Glob(pattern)
			if len(files) == 0 {
				t.Fatalf("no test data %s: run scripts/gen_testdata.py", pattern)
			}
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := decode(data)
				if err != nil {
					t.Errorf("%s: %v", f, err)
					continue
				}
				if want := samples.Expected(s.Value, ser); !arqcompat.Equal(got, want) {
					t.Errorf("%s: got %s %s, want %s %s", f, arqcompat.PyTypeName(got), arqcompat.Repr(got), arqcompat.PyTypeName(want), arqcompat.Repr(want))
				}
			}
		}
	}
}

// What Go encodes, Go decodes to the same value (Python's side of this is
// the interop suite).
func TestRoundTrip(t *testing.T) {
	for ser := range formats {
		s, _ := arqcompat.SerializerByName(ser)
		for _, row := range samples.For(ser) {
			data, err := s.Marshal(row.Value)
			if err != nil {
				t.Errorf("%s %s: marshal: %v", ser, row.Name, err)
				continue
			}
			got, err := s.Unmarshal(data)
			if err != nil {
				t.Errorf("%s %s: unmarshal: %v", ser, row.Name, err)
				continue
			}
			if want := samples.Expected(row.Value, ser); !arqcompat.Equal(got, want) {
				t.Errorf("%s %s: got %s, want %s", ser, row.Name, arqcompat.Repr(got), arqcompat.Repr(want))
			}
		}
	}
}

// Values a serializer cannot carry are refused at encoding, with the reason,
// rather than written in a form Python would misread.
func TestEncodeRefusesWhatPythonCannotRead(t *testing.T) {
	cases := []struct {
		ser  string
		v    any
		want string
	}{
		{"json", []byte("x"), "bytes is not JSON serializable"},
		{"json", arqcompat.Set{int64(1)}, "set is not JSON serializable"},
		{"json", time.Now(), "datetime is not JSON serializable"},
		{"msgpack", arqcompat.NewDict(int64(1), "x"), "strict_map_key"},
		{"msgpack", new(big.Int).Lsh(big.NewInt(1), 70), "does not fit in 64 bits"},
		{"msgpack", arqcompat.Decimal("1"), "can not serialize Decimal"},
		{"pickle", "\xff\xfe", "not valid UTF-8"},
		{"pickle", arqcompat.Date{Year: 0, Month: 1, Day: 1}, "out of Python's datetime range"},
	}
	for _, c := range cases {
		s, _ := arqcompat.SerializerByName(c.ser)
		_, err := s.Marshal(c.v)
		var ee *arqcompat.EncodeError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: err %v, want EncodeError containing %q", c.ser, arqcompat.Repr(c.v), err, c.want)
		}
	}
}

func TestArqRecordsFromPython(t *testing.T) {
	p := arqcompat.PickleSerializer(arqcompat.Limits{})
	data, _ := os.ReadFile("testdata/python/record.job.pkl")
	j, err := arqcompat.DecodeJob(p, data)
	if err != nil {
		t.Fatal(err)
	}
	if j.Function != "echo" || j.JobTry != 0 || j.EnqueueTimeMS != 1700000000123 ||
		!arqcompat.Equal(arqcompat.Tuple(j.Args), arqcompat.Tuple{int64(1), "a"}) || !arqcompat.Equal(j.Kwargs, arqcompat.NewDict("k", 2.5)) {
		t.Fatalf("job record: %+v", j)
	}
	data, _ = os.ReadFile("testdata/python/record.result.pkl")
	r, err := arqcompat.DecodeResult(p, data)
	if err != nil {
		t.Fatal(err)
	}
	exc, ok := r.Result.(*arqcompat.Exception)
	if r.Success || !ok || exc.Error() != "ValueError: boom" || r.JobTry != 2 || r.Queue != "arq:queue" || r.JobID != "jid" ||
		r.StartMS != 1700000000200 || r.FinishMS != 1700000000300 {
		t.Fatalf("result record: %+v", r)
	}
	data, _ = os.ReadFile("testdata/python/record.result.json")
	if r, err = arqcompat.DecodeResult(arqcompat.JSONSerializer(arqcompat.Limits{}), data); err != nil || !r.Success {
		t.Fatalf("json result: %+v %v", r, err)
	}
}

// arq's serialize_result fallback: a result the serializer cannot carry is
// replaced by the string 'unable to serialize result' with success False.
func TestResultFallback(t *testing.T) {
	js := arqcompat.JSONSerializer(arqcompat.Limits{})
	data, cause := arqcompat.EncodeResultFallback(js, arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "f"}, Success: true, Result: arqcompat.NewException("builtins", "ValueError", "x"),
	})
	if cause == nil || data == nil {
		t.Fatalf("want fallback data and a cause, got %v %v", data, cause)
	}
	r, err := arqcompat.DecodeResult(js, data)
	if err != nil || r.Success || r.Result != arqcompat.UnserializableResult {
		t.Fatalf("got %+v %v", r, err)
	}
}

// A pickle that names os.system decodes to an inert object and runs nothing.
func TestHostilePicklesStayInert(t *testing.T) {
	_ = os.Remove("/tmp/goarq-pwned")
	files, _ := filepath.Glob("testdata/hostile/os_system.*.pkl")
	if len(files) == 0 {
		t.Fatal("no hostile test data")
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		v, err := arqcompat.Unpickle(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		o, ok := v.(*arqcompat.Object)
		if !ok || o.Class.Name != "system" || !arqcompat.Equal(o.Args, arqcompat.Tuple{"echo pwned > /tmp/goarq-pwned"}) {
			t.Fatalf("%s: got %#v", f, v)
		}
	}
	data, _ := os.ReadFile("testdata/hostile/job_with_os_system.pkl")
	j, err := arqcompat.DecodeJob(arqcompat.PickleSerializer(arqcompat.Limits{}), data)
	if err != nil || len(j.Args) != 1 {
		t.Fatalf("job: %+v %v", j, err)
	}
	if _, err := os.Stat("/tmp/goarq-pwned"); err == nil {
		t.Fatal("decoding ran os.system")
	}
	// re-encoding the inert object gives Python back the same reduce call
	again, err := arqcompat.Pickle(j.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := arqcompat.Unpickle(again); !arqcompat.Equal(back, j.Args[0]) {
		t.Fatalf("re-encoded object differs: %s", arqcompat.Repr(back))
	}
}

func TestDecodingIsBounded(t *testing.T) {
	for _, name := range []string{"cycle.pkl", "laughs.pkl"} {
		data, _ := os.ReadFile("testdata/hostile/" + name)
		start := time.Now()
		_, err := arqcompat.UnpickleLimits(data, arqcompat.Limits{MaxItems: 100_000})
		if !errors.Is(err, arqcompat.ErrLimit) {
			t.Errorf("%s: err %v, want ErrLimit", name, err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("%s took %s", name, time.Since(start))
		}
	}
	// a length far beyond the payload is refused before anything is allocated
	huge := []byte("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.")
	if _, err := arqcompat.Unpickle(huge); !errors.Is(err, arqcompat.ErrMalformed) {
		t.Errorf("huge length: %v", err)
	}
	if _, err := arqcompat.UnpickleLimits(make([]byte, 2000), arqcompat.Limits{MaxBytes: 1000}); !errors.Is(err, arqcompat.ErrLimit) {
		t.Errorf("oversized payload: %v", err)
	}
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	if _, err := arqcompat.UnmarshalJSON([]byte(deep)); !errors.Is(err, arqcompat.ErrLimit) {
		t.Errorf("deep json: %v", err)
	}
	deepPickle := []byte("\x80\x04" + strings.Repeat("]", 10_000) + strings.Repeat("a", 9_999) + ".")
	if _, err := arqcompat.Unpickle(deepPickle); !errors.Is(err, arqcompat.ErrLimit) {
		t.Errorf("deep pickle: %v", err)
	}
}

// Every truncation of every Python pickle is an error, never a panic.
func TestTruncatedAndGarbage(t *testing.T) {
	files, _ := filepath.Glob("testdata/python/*")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		decode := formats["pickle"]
		switch filepath.Ext(f) {
		case ".json":
			decode = formats["json"]
		case ".msgpack":
			decode = formats["msgpack"]
		}
		for i := 0; i < len(data); i++ {
			if _, err := decode(data[:i]); err == nil && filepath.Ext(f) == ".pkl" {
				t.Errorf("%s truncated to %d bytes decoded without error", f, i)
			}
		}
	}
	for _, garbage := range []string{"", "\x00", "\x80\x04\xff", "\x80\x02c__builtin__\nset\n", "}(u", "\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00)R.", "\x80\x04(]\x8f(\x8f\x90\x90."} {
		if _, err := arqcompat.Unpickle([]byte(garbage)); err == nil {
			t.Errorf("garbage %q decoded", garbage)
		}
	}
}

func TestRecordsWithWrongFields(t *testing.T) {
	p := arqcompat.PickleSerializer(arqcompat.Limits{})
	cases := map[string]any{
		"not a dict":   []any{int64(1)},
		"no f":         arqcompat.NewDict("a", arqcompat.Tuple{}, "k", &arqcompat.Dict{}, "t", nil, "et", int64(1)),
		"f not str":    arqcompat.NewDict("f", int64(1), "a", arqcompat.Tuple{}, "k", &arqcompat.Dict{}, "t", nil, "et", int64(1)),
		"a not tuple":  arqcompat.NewDict("f", "x", "a", "nope", "k", &arqcompat.Dict{}, "t", nil, "et", int64(1)),
		"et not int":   arqcompat.NewDict("f", "x", "a", arqcompat.Tuple{}, "k", &arqcompat.Dict{}, "t", nil, "et", "soon"),
		"k not a dict": arqcompat.NewDict("f", "x", "a", arqcompat.Tuple{}, "k", []any{}, "t", nil, "et", int64(1)),
	}
	for name, v := range cases {
		data, err := arqcompat.Pickle(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := arqcompat.DecodeJob(p, data); !errors.Is(err, arqcompat.ErrRecord) {
			t.Errorf("%s: err %v, want ErrRecord", name, err)
		}
	}
}

func TestAssign(t *testing.T) {
	var n int8
	if err := arqcompat.Assign(&n, int64(300)); err == nil {
		t.Error("300 fit in an int8")
	}
	type point struct {
		X int     `json:"x"`
		Y float64 `arq:"y"`
		L []string
	}
	var p point
	err := arqcompat.Assign(&p, arqcompat.NewDict("x", int64(1), "y", int64(2), "L", arqcompat.Tuple{"a", "b"}))
	if err != nil || p.X != 1 || p.Y != 2 || len(p.L) != 2 {
		t.Fatalf("%+v %v", p, err)
	}
	var s string
	err = arqcompat.Assign(&s, int64(1))
	var ae *arqcompat.AssignError
	if !errors.As(err, &ae) || ae.Got != "int" || ae.Want != "string" {
		t.Fatalf("%v", err)
	}
	var tm time.Time
	if err := arqcompat.Assign(&tm, arqcompat.NaiveDateTime{Time: time.Unix(5, 0).UTC()}); err != nil || tm.Unix() != 5 {
		t.Fatal(err)
	}
}

func TestTimestampMSRoundsLikePython(t *testing.T) {
	cases := map[int64]int64{1_000_499: 1000, 1_000_500: 1000, 1_001_500: 1002, 1_000_501: 1001}
	for us, want := range cases {
		if got := arqcompat.TimestampMS(time.UnixMicro(us)); got != want {
			t.Errorf("%dus: got %d, want %d", us, got, want)
		}
	}
}

func TestFormatFloatLikePythonRepr(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 0.1: "0.1", 1e16: "1e+16", 1e15: "1000000000000000.0", 1.5e-5: "1.5e-05", 0: "0.0", math.Copysign(0, -1): "-0.0"} {
		if got := arqcompat.FormatFloat(f); got != want {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
}

// Repr of the datetime types is CPython's repr (the strings below are what
// CPython 3.11 prints), so that a Go worker's log lines read as arq's.
func TestReprOfDatetimesLikePython(t *testing.T) {
	day := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		v    any
		want string
	}{
		{arqcompat.NaiveDateTime{Time: day}, "datetime.datetime(2024, 1, 2, 3, 4, 5)"},
		{arqcompat.NaiveDateTime{Time: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}, "datetime.datetime(2024, 1, 2, 0, 0)"},
		{arqcompat.NaiveDateTime{Time: time.Date(2024, 1, 2, 3, 4, 0, 7000, time.UTC)}, "datetime.datetime(2024, 1, 2, 3, 4, 0, 7)"},
		{day, "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("UTC-05:00", -5*3600)),
			"datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(days=-1, seconds=68400)))"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)),
			"datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(seconds=3600), 'CET'))"},
		{arqcompat.Date{Year: 2024, Month: 1, Day: 2}, "datetime.date(2024, 1, 2)"},
		{arqcompat.TimeOfDay{Hour: 3, Minute: 4}, "datetime.time(3, 4)"},
		{arqcompat.TimeOfDay{Hour: 3, Minute: 4, Second: 5, Microsecond: 6, Location: time.UTC}, "datetime.time(3, 4, 5, 6, tzinfo=datetime.timezone.utc)"},
		{time.Duration(0), "datetime.timedelta(0)"},
		{-24*time.Hour + 5*time.Second, "datetime.timedelta(days=-1, seconds=5)"},
		{90*time.Second + 7*time.Microsecond, "datetime.timedelta(seconds=90, microseconds=7)"},
		{-time.Microsecond, "datetime.timedelta(days=-1, seconds=86399, microseconds=999999)"},
		{arqcompat.FrozenSet{}, "frozenset()"},
		{arqcompat.Set{}, "set()"},
		{arqcompat.FrozenSet{int64(1)}, "frozenset({1})"},
	}
	for _, c := range cases {
		if got := arqcompat.Repr(c.v); got != c.want {
			t.Errorf("Repr(%#v)\n got %s\nwant %s", c.v, got, c.want)
		}
	}
}

// Go maps have no order; every encoder writes their keys sorted, so Python
// sees the same dict order on every run: strings by code point, numbers by
// value (not by their text: 9 before 10).
func TestMapKeysSortedByEveryEncoder(t *testing.T) {
	words := map[string]int{"bb": 1, "a": 2, "c": 3, "ab": 4, "é": 5, "B": 6}
	wantWords := []any{"B", "a", "ab", "bb", "c", "é"}
	numbers := map[int]string{10: "x", 9: "y", 100: "z", -1: "w", 0: "v"}
	for _, s := range []arqcompat.Serializer{
		arqcompat.PickleSerializer(arqcompat.Limits{}),
		arqcompat.JSONSerializer(arqcompat.Limits{}),
		arqcompat.MsgpackSerializer(arqcompat.Limits{}),
	} {
		cases := []struct {
			m    any
			want []any
		}{{words, wantWords}}
		switch s.Name() {
		case "pickle":
			cases = append(cases, struct {
				m    any
				want []any
			}{numbers, []any{int64(-1), int64(0), int64(9), int64(10), int64(100)}})
		case "json": // json.dumps turns int keys into strings, in the dict's order
			cases = append(cases, struct {
				m    any
				want []any
			}{numbers, []any{"-1", "0", "9", "10", "100"}})
		}
		for _, c := range cases {
			for range 5 { // map iteration order changes from run to run
				data, err := s.Marshal(c.m)
				if err != nil {
					t.Fatalf("%s: %v", s.Name(), err)
				}
				v, err := s.Unmarshal(data)
				if err != nil {
					t.Fatalf("%s: %v", s.Name(), err)
				}
				if got := v.(*arqcompat.Dict).Keys(); !arqcompat.Equal(got, c.want) {
					t.Fatalf("%s: keys %s, want %s", s.Name(), arqcompat.Repr(got), arqcompat.Repr(c.want))
				}
			}
		}
	}
}

// A naive datetime assigned into a time.Time keeps its wall clock and goes
// back to Python naive, also after arithmetic; an aware one stays aware.
func TestNaiveDateTimeThroughTimeTimeStaysNaive(t *testing.T) {
	pickle := arqcompat.PickleSerializer(arqcompat.Limits{})
	naive := arqcompat.NaiveDateTime{Time: time.Date(2024, 5, 6, 7, 8, 9, 10_000, time.UTC)}
	var tm time.Time
	if err := arqcompat.Assign(&tm, naive); err != nil {
		t.Fatal(err)
	}
	if tm.Location() != arqcompat.NaiveLocation() || tm.Hour() != 7 || tm.Unix() != naive.Unix() {
		t.Fatalf("assigned %v", tm)
	}
	for _, c := range []struct {
		v    time.Time
		want any
	}{
		{tm, naive},
		{tm.Add(time.Hour), arqcompat.NaiveDateTime{Time: naive.Add(time.Hour)}},
		{tm.UTC(), naive.Time},
	} {
		data, err := pickle.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := pickle.Unmarshal(data)
		if err != nil || !arqcompat.Equal(back, c.want) {
			t.Fatalf("%v: got %s, want %s (%v)", c.v, arqcompat.Repr(back), arqcompat.Repr(c.want), err)
		}
		if arqcompat.Repr(c.v) != arqcompat.Repr(c.want) || !arqcompat.Equal(c.v, c.want) {
			t.Errorf("Repr/Equal: %s vs %s", arqcompat.Repr(c.v), arqcompat.Repr(c.want))
		}
	}
	if !strings.Contains(arqcompat.Repr(tm), "datetime.datetime(2024, 5, 6, 7, 8, 9, 10)") {
		t.Errorf("repr %s", arqcompat.Repr(tm))
	}
}

// The dict a job record is handed to a serializer as is an ordinary Dict:
// Get finds its fields by Python key equality, Set replaces in place and
// appends, and the encoded bytes do not depend on how it was built.
func TestJobRecordDictBehavesAsADict(t *testing.T) {
	kw := arqcompat.NewDict("x", int64(1))
	var seen *arqcompat.Dict
	s := arqcompat.NewSerializer("probe", func(v any) ([]byte, error) {
		seen = v.(*arqcompat.Dict)
		return arqcompat.Pickle(v)
	}, arqcompat.Unpickle)
	rec := arqcompat.JobRecord{Function: "f", Args: []any{int64(2)}, Kwargs: kw, JobTry: 3, EnqueueTimeMS: 1700000000123}
	got, err := arqcompat.EncodeJob(s, rec)
	if err != nil {
		t.Fatal(err)
	}
	want, err := arqcompat.Pickle(arqcompat.NewDict("t", int64(3), "f", "f", "a", arqcompat.Tuple{int64(2)}, "k", kw, "et", int64(1700000000123)))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("EncodeJob wrote\n%q\nwant\n%q", got, want)
	}
	for key, want := range map[string]any{"t": int64(3), "f": "f", "et": int64(1700000000123)} {
		if v, ok := seen.Get(key); !ok || v != want {
			t.Fatalf("Get(%q) = %v, %v; want %v", key, v, ok, want)
		}
	}
	for _, absent := range []any{"missing", int64(1), 1.0, true, arqcompat.Tuple{"f"}} {
		if v, ok := seen.Get(absent); ok {
			t.Fatalf("Get(%#v) = %v, want absent", absent, v)
		}
	}
	if err := seen.Set("f", "g"); err != nil {
		t.Fatal(err)
	}
	if err := seen.Set(int64(1), "one"); err != nil {
		t.Fatal(err)
	}
	if v, _ := seen.Get("f"); v != "g" {
		t.Fatalf("after Set, f = %v", v)
	}
	if v, ok := seen.Get(1.0); !ok || v != "one" { // 1.0 == 1 as a Python key
		t.Fatalf("Get(1.0) = %v, %v; want the value of key 1", v, ok)
	}
	keys := seen.Keys()
	if len(keys) != 6 || keys[1] != "f" || keys[5] != int64(1) {
		t.Fatalf("keys %v: a replaced key keeps its place, a new one is appended", keys)
	}
}

// A result record is serialize_result's dict: its keys in that order, the
// try as the actual try, and a custom serializer can read every field.
func TestResultRecordIsSerializeResultsDict(t *testing.T) {
	var got *arqcompat.Dict
	s := arqcompat.NewSerializer("capture", func(v any) ([]byte, error) {
		got = v.(*arqcompat.Dict)
		return []byte("x"), nil
	}, nil)
	r := arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f", Args: []any{int64(1)}, EnqueueTimeMS: 5},
		Success: true, Result: "ok", StartMS: 6, FinishMS: 7, Queue: "arq:queue", JobID: "j"}
	r.JobTry = 2
	if _, err := arqcompat.EncodeResult(s, r); err != nil {
		t.Fatal(err)
	}
	if keys := fmt.Sprint(got.Keys()); keys != "[t f a k et s r st ft q id]" {
		t.Errorf("keys %s, want serialize_result's order", keys)
	}
	for k, want := range map[string]any{"t": int64(2), "f": "f", "et": int64(5), "s": true, "r": "ok", "st": int64(6), "ft": int64(7), "q": "arq:queue", "id": "j"} {
		if v, ok := got.Get(k); !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", k, v, ok, want)
		}
	}
	if kw, _ := got.Get("k"); kw.(*arqcompat.Dict).Len() != 0 {
		t.Errorf("kwargs %v, want an empty dict", kw)
	}
}

// With pickle, EncodeResult writes the record without building its dict:
// the bytes must be those of the dict serialize_result builds, for every
// value of the type table as the result and as an argument, and a value
// pickle cannot carry must be refused the same way.
func TestEncodeResultWritesWhatTheDictEncodes(t *testing.T) {
	s := arqcompat.PickleSerializer(arqcompat.Limits{})
	dictOf := func(r arqcompat.ResultRecord) *arqcompat.Dict {
		kw := r.Kwargs
		if kw == nil {
			kw = &arqcompat.Dict{}
		}
		args := arqcompat.Tuple(r.Args)
		if args == nil {
			args = arqcompat.Tuple{}
		}
		return arqcompat.NewDict("t", r.JobTry, "f", r.Function, "a", args, "k", kw, "et", r.EnqueueTimeMS,
			"s", r.Success, "r", r.Result, "st", r.StartMS, "ft", r.FinishMS, "q", r.Queue, "id", r.JobID)
	}
	base := arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f", EnqueueTimeMS: 1700000000123},
		Success: true, StartMS: 1700000000200, FinishMS: 1700000000300, Queue: "arq:queue", JobID: "abc"}
	recs := []arqcompat.ResultRecord{base}
	for _, row := range samples.For("pickle") {
		r := base
		r.Result = row.Value
		recs = append(recs, r)
		r.Success, r.JobTry, r.Args, r.Kwargs = false, 3, []any{row.Value}, arqcompat.NewDict("x", row.Value)
		recs = append(recs, r)
	}
	for _, r := range recs {
		want, werr := s.Marshal(dictOf(r))
		got, err := arqcompat.EncodeResult(s, r)
		if werr != nil || err != nil || string(got) != string(want) {
			t.Fatalf("%v: EncodeResult wrote\n%q, %v\nthe dict encodes as\n%q, %v", r.Result, got, err, want, werr)
		}
	}
	for _, bad := range []any{"\xff", make(chan int)} {
		r := base
		r.Result = bad
		_, werr := s.Marshal(dictOf(r))
		_, err := arqcompat.EncodeResult(s, r)
		var ee *arqcompat.EncodeError
		if !errors.As(err, &ee) || werr == nil || err.Error() != werr.Error() {
			t.Errorf("result %v: err %v, the dict's %v", bad, err, werr)
		}
	}
}

// With pickle, EncodeJob and AppendJob write the record without building
// its dict: the bytes must be those of the dict serialize_job builds,
// for every value of the type table as an argument and a keyword
// argument, with and without a try, and the refusals must be the same.
func TestAppendJobWritesWhatTheDictEncodes(t *testing.T) {
	s := arqcompat.PickleSerializer(arqcompat.Limits{})
	type rec = arqcompat.JobRecord
	recs := []rec{
		{Function: "noop", EnqueueTimeMS: 1700000000123},
		{Function: "f", Args: []any{}, Kwargs: &arqcompat.Dict{}, EnqueueTimeMS: 0},
		{Function: "fünf", Args: []any{int64(1), "two", 3.0, nil}, JobTry: 7, EnqueueTimeMS: -5},
		{Function: "f", JobTry: 1 << 40, EnqueueTimeMS: 1 << 62, Kwargs: arqcompat.NewDict("a", int64(1), "b", arqcompat.Tuple{})},
	}
	for _, row := range samples.For("pickle") {
		recs = append(recs,
			rec{Function: "f_" + row.Name, Args: []any{row.Value}, EnqueueTimeMS: 1700000000000},
			rec{Function: "f", Args: []any{int64(1), int64(2), int64(3), row.Value}, Kwargs: arqcompat.NewDict("x", row.Value), JobTry: 2})
	}
	for _, r := range recs {
		var try any
		if r.JobTry != 0 {
			try = r.JobTry
		}
		kw := r.Kwargs
		if kw == nil {
			kw = &arqcompat.Dict{}
		}
		want, err := s.Marshal(arqcompat.NewDict("t", try, "f", r.Function, "a", arqcompat.Tuple(r.Args), "k", kw, "et", r.EnqueueTimeMS))
		if err != nil {
			t.Fatalf("%s: %v", r.Function, err)
		}
		got, err := arqcompat.EncodeJob(s, r)
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s: EncodeJob wrote\n%q, %v\nthe dict encodes as\n%q", r.Function, got, err, want)
		}
		got, err = arqcompat.AppendJob([]byte("prefix"), s, r)
		if err != nil || string(got) != "prefix"+string(want) {
			t.Fatalf("%s: AppendJob wrote\n%q, %v\nwant prefix then\n%q", r.Function, got, err, want)
		}
	}

	deep := any(int64(1))
	for range 1000 {
		deep = []any{deep}
	}
	for _, r := range []rec{{Function: "\xff"}, {Function: "f", Args: []any{"\xff"}}, {Function: "f", Kwargs: arqcompat.NewDict("k", "\xfe")},
		{Function: "f", Args: []any{deep}}} {
		var ee *arqcompat.EncodeError
		if _, err := arqcompat.AppendJob(nil, s, r); !errors.As(err, &ee) || !strings.Contains(err.Error(), "unable to serialize job") {
			t.Errorf("AppendJob(%q): err %v, want an EncodeError naming the job", r.Function, err)
		}
	}
}
