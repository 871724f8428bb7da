package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func goarqNoRedis(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"goarq"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// contract check is usable in CI: 0 when the contracts agree, 1 with one
// line per difference, 2 when a file cannot be read.
func TestContractCheckExitCodes(t *testing.T) {
	a, b := "../../contract/testdata/a.json", "../../contract/testdata/b.json"
	if code, out, errOut := goarqNoRedis("contract", "check", a, a); code != 0 || out != "" {
		t.Errorf("same contract: exit %d, out %q, err %q", code, out, errOut)
	}
	code, out, _ := goarqNoRedis("contract", "check", a, b)
	if code != 1 || !strings.Contains(out, "function send_email: parameter to: renamed to recipient in B\n") ||
		strings.Count(out, "\n") != 10 {
		t.Errorf("differing contracts: exit %d, out:\n%s", code, out)
	}
	// flags after the arguments, as everywhere in goarq
	if code, out, _ := goarqNoRedis("contract", "check", a, b, "--json"); code != 1 || !strings.HasPrefix(out, `{"differences":["queue:`) {
		t.Errorf("--json: exit %d, out %s", code, out)
	}
	if code, _, errOut := goarqNoRedis("contract", "check", a, "missing.json"); code != 2 || !strings.Contains(errOut, "missing.json") {
		t.Errorf("missing file: exit %d, err %q", code, errOut)
	}
	if code, _, errOut := goarqNoRedis("contract", "check", a); code != 2 || !strings.Contains(errOut, "want two contract files") {
		t.Errorf("one file: exit %d, err %q", code, errOut)
	}
}

func TestGenWritesGoAndPython(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := goarqNoRedis("gen", "go", "--contract", "../../contract/testdata/a.json", "--package", "jobs", "--out", filepath.Join(dir, "jobs"))
	if code != 0 {
		t.Fatalf("gen go: exit %d: %s", code, errOut)
	}
	src, err := os.ReadFile(filepath.Join(dir, "jobs", "jobs.go"))
	if err != nil || !bytes.Contains(src, []byte("func EnqueueSendEmail(")) {
		t.Errorf("jobs.go: %v\n%s", err, src)
	}
	code, out, errOut := goarqNoRedis("gen", "python", "--contract", "../../contract/testdata/a.json")
	if code != 0 || !strings.Contains(out, "async def enqueue_send_email(") {
		t.Errorf("gen python: exit %d: %s\n%s", code, errOut, out)
	}
	if code, _, errOut := goarqNoRedis("gen", "go", "--contract", "../../contract/testdata/a.json", "--out", dir); code != 2 {
		t.Errorf("no --package: exit %d: %s", code, errOut)
	}
}
