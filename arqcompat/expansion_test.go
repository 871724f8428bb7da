package arqcompat_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// A pickle's memo lets a few bytes reference one value many times, and the
// decoder builds a shared value again for each reference. These tests hold
// the inputs that made FuzzDecodeJob's worker run out of memory (killed by
// the kernel, so Go's fuzzer wrote no failing input) or run for minutes.

// pkStr is a BINUNICODE opcode pushing a str of n bytes.
func pkStr(n int) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	return "X" + string(b[:]) + strings.Repeat("a", n)
}

// pkLong is a LONG4 opcode pushing a positive int of n bytes.
func pkLong(n int) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	return "\x8b" + string(b[:]) + strings.Repeat("\x11", n-1) + "\x01"
}

// pkTree is pickle opcodes leaving on the stack nested pairs (t, t) of
// depth k over the value leaf pushes: 2**k references to it, memoized at
// each level, in about 6*k bytes.
func pkTree(leaf string, k int) string {
	var s strings.Builder
	s.WriteString(leaf + "q\x000") // memo 0, then POP
	for i := 1; i <= k; i++ {
		fmt.Fprintf(&s, "h%ch%c\x86q%c0", byte(i-1), byte(i-1), byte(i))
	}
	fmt.Fprintf(&s, "h%c", byte(k))
	return s.String()
}

// allocated runs f and reports the bytes it allocated and the time it took.
func allocated(f func()) (uint64, time.Duration) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, took
}

func TestSharedReferencesCannotBlowUpDecoding(t *testing.T) {
	fuzzish := arqcompat.Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxItems: 100_000}
	cases := []struct {
		name   string
		pickle string
		before string // what the input cost before it was bounded
	}{
		{"dict key: a tuple of 32768 references to a 100 KB str",
			"\x80\x04}" + pkTree(pkStr(100_000), 15) + "Ns.", "a 3.3 GB hash key: the fuzz worker killed"},
		{"set member: a tuple of 32768 references to a 100 KB str",
			"\x80\x04" + pkTree(pkStr(100_000), 15) + "0(h\x0f\x91.", "a 3.3 GB hash key"},
		{"set member: a tuple of 32768 references to a 10 KB int",
			"\x80\x04" + pkTree(pkLong(10_000), 15) + "0(h\x0f\x91.", "96 s and 9 GB: decimal conversion of every reference"},
		{"_codecs.encode of a 100 KB str referenced 16384 times",
			"\x80\x04" + pkTree("c_codecs\nencode\n"+pkStr(100_000)+"X\x06\x00\x00\x00latin1\x86R", 14) + ".", "1.6 GB of bytes copies"},
		{"bytearray of a 100 KB str referenced 16384 times",
			"\x80\x04" + pkTree("cbuiltins\nbytearray\n"+pkStr(100_000)+"\x85R", 14) + ".", "1.6 GB of bytearray copies"},
	}
	for _, c := range cases {
		for _, lim := range []arqcompat.Limits{fuzzish, {}} {
			t.Run(fmt.Sprintf("%s/MaxItems=%d", c.name, lim.MaxItems), func(t *testing.T) {
				var jobErr, resultErr error
				bytes, took := allocated(func() {
					p := arqcompat.PickleSerializer(lim)
					_, jobErr = arqcompat.DecodeJob(p, []byte(c.pickle))
					_, resultErr = arqcompat.DecodeResult(p, []byte(c.pickle))
				})
				for _, err := range []error{jobErr, resultErr} {
					if !errors.Is(err, arqcompat.ErrLimit) {
						t.Errorf("err %v, want ErrLimit", err)
					}
				}
				// the bound is MaxBytes + 16*MaxItems of keys and copies:
				// 128 MiB by default, decoded twice here
				if bytes > 640<<20 || took > 10*time.Second {
					t.Errorf("decoding a %d-byte payload twice allocated %d MB in %s (before the bound: %s)",
						len(c.pickle), bytes>>20, took, c.before)
				}
			})
		}
	}
}

// A datetime's state str is 10 characters: a long one referenced many
// times is kept as an object's argument, never copied for each reference.
func TestLongDatetimeStateIsNotCopiedPerReference(t *testing.T) {
	data := []byte("\x80\x04" + pkTree("cdatetime\ndatetime\n"+pkStr(100_000)+"\x85R", 14) + ".")
	var v any
	var err error
	bytes, _ := allocated(func() { v, err = arqcompat.Unpickle(data) })
	if err != nil {
		t.Fatal(err)
	}
	if bytes > 100<<20 {
		t.Errorf("decoding allocated %d MB, want well under 16384 copies of 100 KB", bytes>>20)
	}
	for v != nil {
		switch x := v.(type) {
		case arqcompat.Tuple:
			v = x[0]
		case *arqcompat.Object:
			if x.Class != (arqcompat.Global{Module: "datetime", Name: "datetime"}) {
				t.Fatalf("leaf is %s", arqcompat.Repr(x))
			}
			v = nil
		default:
			t.Fatalf("leaf is %T", v)
		}
	}
}

// Payloads with the shapes of real ones stay far within the bound.
func TestExpansionBoundKeepsOrdinaryPayloads(t *testing.T) {
	lim := arqcompat.Limits{MaxBytes: 1 << 20, MaxDepth: 64, MaxItems: 100_000}
	var ints, keys strings.Builder
	ints.WriteString("\x80\x04\x8f(")
	keys.WriteString("\x80\x04}(")
	for i := 0; i < 30_000; i++ {
		fmt.Fprintf(&ints, "J%s", string(binary.LittleEndian.AppendUint32(nil, uint32(i))))
	}
	for i := 0; i < 10_000; i++ {
		fmt.Fprintf(&keys, "J%sX\x03\x00\x00\x00abc\x86N", string(binary.LittleEndian.AppendUint32(nil, uint32(i))))
	}
	ints.WriteString("\x90.")
	keys.WriteString("u.")
	// one 100 KB str as the key of a dict and in a tuple key, shared by memo
	shared := "\x80\x04}" + pkStr(100_000) + "q\x00Ns" + "h\x00h\x00\x86Ns."
	for name, data := range map[string]string{"30,000 ints in a set": ints.String(),
		"10,000 tuple keys": keys.String(), "a str as a key and twice in a tuple key": shared} {
		v, err := arqcompat.UnpickleLimits([]byte(data), lim)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		switch x := v.(type) {
		case arqcompat.Set:
			if len(x) != 30_000 {
				t.Errorf("%s: %d members", name, len(x))
			}
		case *arqcompat.Dict:
			if want := map[string]int{"10,000 tuple keys": 10_000, "a str as a key and twice in a tuple key": 2}[name]; x.Len() != want {
				t.Errorf("%s: %d keys, want %d", name, x.Len(), want)
			}
		}
	}
}

// Ints beyond 64 bits hash in linear time (hex, not decimal), and equal
// numbers stay equal keys whatever their Go type.
func TestHugeIntKeysHashInLinearTime(t *testing.T) {
	data := []byte("\x80\x04(" + pkLong(1_000_000) + "\x91.")
	var v any
	var err error
	_, took := allocated(func() { v, err = arqcompat.UnpickleLimits(data, arqcompat.Limits{MaxBytes: 2 << 20}) })
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := v.(arqcompat.FrozenSet); !ok || len(s) != 1 {
		t.Fatalf("got %T", v)
	}
	if took > time.Second { // decimal conversion took 2.4 s
		t.Errorf("a frozenset of one 8,000,000-bit int took %s", took)
	}

	two70 := new(big.Int).Lsh(big.NewInt(1), 70)
	minInt := new(big.Int).SetInt64(math.MinInt64)
	for _, same := range [][]any{
		{two70, math.Ldexp(1, 70)},
		{new(big.Int).Neg(two70), -math.Ldexp(1, 70)},
		{minInt, float64(math.MinInt64), int64(math.MinInt64)},
		{big.NewInt(1), 1.0, true, int64(1)},
	} {
		d := &arqcompat.Dict{}
		if err := d.Set(same[0], "x"); err != nil {
			t.Fatal(err)
		}
		for _, k := range same[1:] {
			if got, ok := d.Get(k); !ok || got != "x" {
				t.Errorf("key %v (%T) is not key %v (%T)", k, k, same[0], same[0])
			}
		}
	}
	h1, _ := arqcompat.HashKey(two70)
	h2, _ := arqcompat.HashKey(new(big.Int).Add(two70, big.NewInt(1)))
	if h1 == h2 {
		t.Errorf("2**70 and 2**70+1 hash alike: %q", h1)
	}
}
