package arqcompat

import (
	"reflect"
	"runtime"
	"testing"
)

// A boxed value is an ordinary interface: it asserts, compares, reflects
// and survives a collection as the value it was made from, and the chunks
// it comes from never hand out one place twice.
func TestBoxedValuesAreOrdinaryInterfaces(t *testing.T) {
	var b boxes
	var got, want []any
	for i := 0; i < 3*chunkLen; i++ {
		s := string(rune('a'+i%26)) + "-" + string(rune('A'+i%26))
		got = append(got, b.str(s, 1<<20), b.float(float64(i)+0.5, 1<<20), b.int(int64(1000+i), 1<<20),
			b.tuple(Tuple{int64(i), s}, 1<<20), b.set(Set{s}, 1<<20), b.list([]any{s, int64(i)}, 1<<20))
		want = append(want, s, float64(i)+0.5, int64(1000+i), Tuple{int64(i), s}, Set{s}, []any{s, int64(i)})
	}
	runtime.GC()
	for i := range got {
		if reflect.TypeOf(got[i]) != reflect.TypeOf(want[i]) || !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("box %d = %#v, want %#v", i, got[i], want[i])
		}
	}
	if s, ok := got[0].(string); !ok || s != "a-A" || got[0] != any("a-A") {
		t.Errorf("boxed str %#v does not assert or compare as a str", got[0])
	}
	if _, ok := b.int(7, 1).(int64); !ok {
		t.Error("a small int is not an int64")
	}
	one := boxes{}
	if one.str("x", 0) != "x" || len(one.strs.free) != 0 {
		t.Error("a chunk of limit 0 holds one value")
	}
}
