package arqcompat_test

import (
	"testing"

	"github.com/goarq/goarq/arqcompat"
)

// The fuzz targets' seed corpora under testdata/fuzz are written by CPython
// (scripts/gen_testdata.py). Each target checks that decoding untrusted bytes
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

func FuzzUnpickle(f *testing.F) {
	f.Add([]byte("\x80\x04K\x01."))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, arqcompat.PickleSerializer(fuzzLimits), data)
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
