package arqcompat_test

import (
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/interop/gomodels"
)

// benchRecord is the job record of scripts/bench/values.py, written by
// scripts/gen_testdata.py: arq's serialize_job of process_order(order),
// order being interop.appmodels.bench_order() (a pydantic v2 model of 20
// fields, 10 nested models, an IntEnum, a StrEnum, a ZoneInfo datetime).
func benchRecord(tb testing.TB) []byte {
	data, err := os.ReadFile("testdata/python/bench_order.job.pkl")
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func decodeBindBench(ser arqcompat.Serializer, data []byte) (gomodels.BenchOrder, error) {
	var o gomodels.BenchOrder
	rec, err := arqcompat.DecodeJob(ser, data)
	if err != nil {
		return o, err
	}
	err = arqcompat.Assign(&o, rec.Args[0])
	return o, err
}

// The bench record binds to the same struct Go builds for it.
func TestBenchRecordBinds(t *testing.T) {
	o, err := decodeBindBench(arqcompat.PickleSerializer(arqcompat.Limits{}), benchRecord(t))
	if err != nil {
		t.Fatal(err)
	}
	want := gomodels.Bench()
	if !o.PlacedAt.Equal(want.PlacedAt) || o.PlacedAt.Location().String() != "Europe/Paris" {
		t.Errorf("placed_at = %v, want %v", o.PlacedAt, want.PlacedAt)
	}
	o.PlacedAt = want.PlacedAt
	if len(o.Lines) != 10 {
		t.Fatalf("lines = %d, want 10", len(o.Lines))
	}
	for i := range o.Lines {
		if o.Lines[i] != want.Lines[i] {
			t.Errorf("lines[%d] = %+v, want %+v", i, o.Lines[i], want.Lines[i])
		}
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("bound %+v, want %+v", o, want)
	}
}

// BenchmarkDecodeBindBenchOrder is the Go half of the values row of
// scripts/bench.sh: decode the job record and bind its argument.
func BenchmarkDecodeBindBenchOrder(b *testing.B) {
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	data := benchRecord(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decodeBindBench(ser, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBenchOrder is the decode alone.
func BenchmarkDecodeBenchOrder(b *testing.B) {
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	data := benchRecord(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := arqcompat.DecodeJob(ser, data); err != nil {
			b.Fatal(err)
		}
	}
}

// Decoding reuses its scratch space and cuts containers from chunks: a value
// decoded earlier stays as it was while other payloads decode after it and
// alongside it.
func TestDecodedValuesOutliveLaterDecodes(t *testing.T) {
	files, _ := filepath.Glob("testdata/python/*.p4.pkl")
	files = append(files, "testdata/python/bench_order.job.pkl")
	var payloads [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, data)
	}
	decode := func(p []byte) (any, string) {
		v, err := arqcompat.Unpickle(p)
		if err != nil {
			return err, err.Error()
		}
		return v, arqcompat.Repr(v) // read at once, before the next decode
	}
	first := make([]any, len(payloads))
	snapshot := make([]string, len(payloads))
	for i, p := range payloads {
		first[i], snapshot[i] = decode(p)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				for i, p := range payloads {
					if _, got := decode(p); got != snapshot[i] {
						t.Errorf("%s decodes to %s, then %s", files[i], snapshot[i], got)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for i, v := range first {
		if got := arqcompat.Repr(v); got != snapshot[i] {
			t.Errorf("%s: the value decoded first changed from %s to %s", files[i], snapshot[i], got)
		}
	}
}

// BenchmarkDecodeSmallJob is the decode of a small record
// (serialize_job('echo', (1, 'a'), {'k': 2.5})), what a drain decodes.
func BenchmarkDecodeSmallJob(b *testing.B) {
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	data, err := os.ReadFile("testdata/python/record.job.pkl")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := arqcompat.DecodeJob(ser, data); err != nil {
			b.Fatal(err)
		}
	}
}
