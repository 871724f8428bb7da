// Package readme checks that the Go code in README.md compiles as written.
package readme

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// prelude wraps a README snippet: the imports it may use and the
// declarations it assumes exist (resize, the user's own function).
const prelude = `package snippet

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/inspect"
	"github.com/goarq/goarq/worker"
)

var (
	_ = context.Background
	_ = errors.Is
	_ = fmt.Sprint
	_ = log.Fatal
	_ = time.Second
	_ = arqcompat.Repr
	_ = client.New
	_ = inspect.New
	_ = worker.New
)

// resize is the user's own function in the worker snippet.
func resize(ctx context.Context, path string, width int) (string, error) { return path, nil }

func snippet() {
	ctx := context.Background()
	_ = ctx
`

// goBlocks returns the ```go blocks of markdown, with their line numbers.
func goBlocks(markdown string) (blocks []string, lines []int) {
	var cur []string
	in, start := false, 0
	for i, l := range strings.Split(markdown, "\n") {
		switch {
		case !in && strings.TrimSpace(l) == "```go":
			in, start, cur = true, i+2, nil
		case in && strings.TrimSpace(l) == "```":
			in = false
			blocks, lines = append(blocks, strings.Join(cur, "\n")), append(lines, start)
		case in:
			cur = append(cur, l)
		}
	}
	return blocks, lines
}

// inlineAssign matches an inline code span of the README that is a Go
// assignment from goarq's API, such as `job, ok := worker.JobFromContext(ctx)`.
var inlineAssign = regexp.MustCompile("`((?:\\w+, )*\\w+) := ((?:worker|client|inspect|arqcompat)\\.[^`]+)`")

// inlineStatements turns each such span into a statement that keeps its
// number of assigned values and declares nothing: `_, _ = worker.JobFromContext(ctx)`.
func inlineStatements(markdown string) []string {
	var out []string
	for _, m := range inlineAssign.FindAllStringSubmatch(markdown, -1) {
		n := strings.Count(m[1], ",") + 1
		out = append(out, strings.Repeat("_, ", n-1)+"_ = "+m[2])
	}
	return out
}

func TestGoBlocksAreFound(t *testing.T) {
	if got := inlineStatements("a `job, ok := worker.JobFromContext(ctx)` and `x := 1` and `c := client.New(nil, client.Options{})`"); len(got) != 2 ||
		got[0] != "_, _ = worker.JobFromContext(ctx)" || got[1] != "_ = client.New(nil, client.Options{})" {
		t.Errorf("inline: %q", got)
	}
	b, l := goBlocks("x\n```go\na := 1\n```\n```sh\nls\n```\n```go\nb()\nc()\n```\n")
	if len(b) != 2 || b[0] != "a := 1" || b[1] != "b()\nc()" || l[0] != 3 || l[1] != 9 {
		t.Errorf("%q %v", b, l)
	}
}

// TestReadmeGoSnippetsCompile type-checks every ```go block of README.md
// (wrapped in a function, see prelude) with go build, as a package of this
// module laid over the tree with -overlay, so that nothing is written
// into the checkout.
func TestReadmeGoSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, lines := goBlocks(string(md))
	if len(blocks) < 2 {
		t.Fatalf("README.md has %d go blocks; expected the worker and the client snippets", len(blocks))
	}
	if inline := inlineStatements(string(md)); len(inline) > 0 {
		blocks, lines = append(blocks, strings.Join(inline, "\n")), append(lines, 0)
	}
	tmp := t.TempDir()
	overlay := map[string]map[string]string{"Replace": {}}
	var pkgs []string
	for i, b := range blocks {
		dir := fmt.Sprintf("internal/readme/snippet_line%d", lines[i])
		src := filepath.Join(tmp, fmt.Sprintf("snippet%d.go", i))
		// //line makes errors point at README.md's own lines
		code := prelude + b + "\n}\n"
		if lines[i] > 0 {
			code = prelude + fmt.Sprintf("//line README.md:%d\n", lines[i]) + b + "\n}\n"
		}
		if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay["Replace"][filepath.Join(root, dir, "main.go")] = src
		pkgs = append(pkgs, "./"+dir)
	}
	ov, _ := json.Marshal(overlay)
	ovPath := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
		t.Fatal(err)
	}
	// "go" resolves to the toolchain running this test: go test puts
	// its own GOROOT/bin first on the PATH of the test binary.
	// not main packages: go build compiles them without linking
	cmd := exec.Command("go", append([]string{"build", "-overlay", ovPath}, pkgs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("README.md's Go snippets do not compile: %v\n%s", err, out)
	}
}

// A worker that stops cleanly returns nil from Run: a snippet must not
// hand that to log.Fatal, which would exit 1 on a clean stop.
func TestReadmeWorkerExitsZeroOnCleanStop(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, lines := goBlocks(string(md))
	fatalRun := regexp.MustCompile(`log\.Fatal[a-z]*\([^()]*\.Run\(`)
	for i, b := range blocks {
		if fatalRun.MatchString(b) {
			t.Errorf("README.md:%d: log.Fatal(w.Run(...)) exits 1 after a clean stop; check err != nil first", lines[i])
		}
	}
	if !strings.Contains(string(md), "worker.JobFromContext(ctx)`") || len(inlineStatements(string(md))) == 0 {
		t.Error("README.md no longer shows worker.JobFromContext with its two results")
	}
}
