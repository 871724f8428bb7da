package worker

import (
	"strings"
	"testing"

	"github.com/goarq/goarq/arqcompat"
)

// The → log line shows arguments as arq's args_to_string: kwargs sorted by
// name, 80 characters at most.
func TestArgsStringIsArqs(t *testing.T) {
	got := argsString([]any{int64(1), "x"}, arqcompat.NewDict("b", int64(2), "a", arqcompat.Tuple{int64(3)}))
	if want := "1, 'x', a=(3,), b=2"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	long := argsString([]any{strings.Repeat("y", 200)}, nil)
	if r := []rune(long); len(r) != 80 || !strings.HasSuffix(long, "…") {
		t.Errorf("not truncated to 80: %q", long)
	}
}
