package arqcompat_test

import (
	"fmt"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// Pickle a value for Python and read it back: what pickle.dumps/loads do.
func ExamplePickleSerializer() {
	pickle := arqcompat.PickleSerializer(arqcompat.Limits{})
	v := arqcompat.NewDict(
		"when", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		"point", arqcompat.Tuple{int64(1), 2.5},
		"tags", arqcompat.Set{"a"},
	)
	data, _ := pickle.Marshal(v) // pickle.loads(data) in Python gives the dict back
	back, _ := pickle.Unmarshal(data)
	fmt.Println(arqcompat.Repr(back))
	// Output: {'when': datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc), 'point': (1, 2.5), 'tags': {'a'}}
}

// Decoding is inert: a pickle that would run os.system in Python is just a name.
func ExamplePickleSerializer_inert() {
	// pickle.dumps of an object whose __reduce__ returns (os.system, ('rm -rf /',))
	evil := []byte("\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x8c\x06system\x93\x8c\x08rm -rf /\x85R.")
	v, err := arqcompat.PickleSerializer(arqcompat.Limits{}).Unmarshal(evil)
	fmt.Printf("%T %v %v\n", v, v.(*arqcompat.Object).Class, err)
	// Output: *arqcompat.Object posix.system <nil>
}

// Assign converts a decoded Python value into ordinary Go types.
func ExampleAssign() {
	v, _ := arqcompat.UnmarshalJSON([]byte(`{"name": "report", "sizes": [1, 2, 3], "ratio": 1}`))
	var out struct {
		Name  string  `json:"name"`
		Sizes []int   `json:"sizes"`
		Ratio float64 `json:"ratio"`
	}
	err := arqcompat.Assign(&out, v)
	fmt.Printf("%+v %v\n", out, err)
	// Output: {Name:report Sizes:[1 2 3] Ratio:1} <nil>
}

// A custom serializer, as arq's job_serializer/job_deserializer pair.
func ExampleNewSerializer() {
	// e.g. JSON with a prefix byte your Python side strips
	js := arqcompat.JSONSerializer(arqcompat.Limits{})
	s := arqcompat.NewSerializer("prefixed-json",
		func(v any) ([]byte, error) {
			b, err := js.Marshal(v)
			return append([]byte{'J'}, b...), err
		},
		func(b []byte) (any, error) { return js.Unmarshal(b[1:]) })
	data, _ := arqcompat.EncodeJob(s, arqcompat.JobRecord{Function: "add", Args: []any{1, 2}, EnqueueTimeMS: 1})
	fmt.Println(string(data))
	// Output: J{"t": null, "f": "add", "a": [1, 2], "k": {}, "et": 1}
}
