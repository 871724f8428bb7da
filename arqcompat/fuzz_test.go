package arqcompat_test

import (
	"bytes"
	"math"
	"math/big"
	"testing"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/pickle"

	"github.com/goarq/goarq/arqcompat"
)

// The fuzz targets' seed corpora under testdata/fuzz are written by CPython
// (scripts/gen_testdata.py), except FuzzDecodeJob's shared_refs_* seeds:
// small memo trees of the shape expansion_test.go bounds. Each target checks that decoding untrusted bytes
// never panics, stays within the limits, and that whatever decodes
// re-encodes to something that decodes to the same value.
var fuzzLimits = arqcompat.Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxItems: 100_000}

func fuzzRoundTrip(t *testing.T, s arqcompat.Serializer, data []byte) {
	v, err := s.Unmarshal(data)
	if err != nil {
		return
	}
	again, err := s.Marshal(v)
	if err != nil {
		return // e.g. a dict key the encoder refuses; decoding is what is fuzzed
	}
	back, err := s.Unmarshal(again)
	if err != nil {
		t.Fatalf("re-encoded value does not decode: %v\nvalue: %s", err, arqcompat.Repr(v))
	}
	if !arqcompat.Equal(v, back) {
		t.Fatalf("round trip changed the value:\n%s\n%s", arqcompat.Repr(v), arqcompat.Repr(back))
	}
}

// gopickleScalar decodes with gopickle, the maintained Go unpickler, and
// returns its result when that is a scalar (the containers it builds are
// its own types).
func gopickleScalar(data []byte) (v any, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if len(data) > 4096 {
		return nil, false // gopickle allocates declared lengths up front
	}
	u := pickle.NewUnpickler(bytes.NewReader(data))
	r, err := u.Load()
	if err != nil {
		return nil, false
	}
	switch x := r.(type) {
	case int:
		return int64(x), true
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
		return x, true
	case bool, float64, nil:
		return x, true
	case string:
		if utf8.ValidString(x) {
			return x, true
		}
	}
	return nil, false
}

func FuzzUnpickle(f *testing.F) {
	f.Add([]byte("\x80\x04K\x01."))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, arqcompat.PickleSerializer(fuzzLimits), data)
		// differential: where gopickle reads a scalar, goarq reads the same.
		// gopickle allocates declared lengths before reading them, so it only
		// sees input goarq accepted (whose lengths are checked).
		got, err := arqcompat.UnpickleLimits(data, fuzzLimits)
		if err != nil {
			return
		}
		if want, ok := gopickleScalar(data); ok {
			if !arqcompat.Equal(got, want) {
				if f, isF := want.(float64); !isF || !math.IsNaN(f) {
					t.Fatalf("goarq read %s, gopickle %v", arqcompat.Repr(got), want)
				}
			}
		}
	})
}

func FuzzUnmarshalJSON(f *testing.F) {
	f.Add([]byte(`{"a": [1, 2.0, "x"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, arqcompat.JSONSerializer(fuzzLimits), data)
	})
}

func FuzzUnmarshalMsgpack(f *testing.F) {
	f.Add([]byte("\x81\xa1a\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, arqcompat.MsgpackSerializer(fuzzLimits), data)
	})
}

func FuzzDecodeJob(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p := arqcompat.PickleSerializer(fuzzLimits)
		_, _ = arqcompat.DecodeJob(p, data)
		_, _ = arqcompat.DecodeResult(p, data)
	})
}
