package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/sqlite"
	"github.com/goarq/goarq/internal/redistest"
)

func goarqRun(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"goarq"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// goarq history reads the store alone (no Redis): filters, newest first,
// pages by cursor, --json; bad flags are usage errors.
func TestHistoryCommand(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	var recs []history.Record
	for i := range 5 {
		r := history.Record{JobID: fmt.Sprintf("j%d", i), Queue: "arq:queue", Function: "send", Try: 1, StartMS: now - 1000 + int64(i),
			FinishMS: now - 900 + int64(i), Success: i%2 == 0, Args: fmt.Sprintf("'user_%d'", i), Result: "None", Serializer: "pickle", Source: "redis"}
		if !r.Success {
			r.ExcClass, r.ExcMessage = "ValueError", "bad"
		}
		recs = append(recs, r)
	}
	if _, err := s.Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
	s.Close()

	code, out, errs := goarqRun("history", "--history", path, "--failed", "--exception", "ValueError", "--since", "1h")
	if code != 0 || !strings.Contains(out, "j3") || !strings.Contains(out, "j1") || strings.Contains(out, "j2") ||
		strings.Index(out, "j3") > strings.Index(out, "j1") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = goarqRun("--json", "history", "--history", path, "--limit", "2")
	var page struct {
		Records []history.Record `json:"records"`
		Next    string           `json:"next"`
	}
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Records) != 2 || page.Next == "" || page.Records[0].JobID != "j4" {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	code, out, _ = goarqRun("--json", "history", "--history", path, "--limit", "2", "--before", page.Next)
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Records) != 2 || page.Records[0].JobID != "j2" {
		t.Fatalf("page 2: exit %d, %v: %s", code, err, out)
	}
	for _, bad := range [][]string{
		{"history", "--history", path, "--since", "someday"},
		{"history", "--history", path, "--before", "x"},
		{"history", "--history", path, "--failed", "--succeeded"},
		{"retry", "--history", path},
		{"recorder", "--history", path, "--history-retention", "-3d"},
		{"recorder", "--history", path, "--max-rate", "-1"},
		{"recorder", "--history", path, "--max-lag", "-1m"},
		{"recorder", "--history", path, "--yield-above", "-5"},
	} {
		if code, _, errs := goarqRun(bad...); code != exitUsage || errs == "" {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", bad, code, errs)
		}
	}
}

// A command that only reads history refuses a SQLite store that is not
// there, and creates nothing: a mistyped path or a missing $GOARQ_HISTORY
// is not an empty history.
func TestHistoryRefusesAMissingStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nothere.db")
	code, out, errs := goarqRun("history", "--history", path)
	if code != exitUsage || !strings.Contains(errs, "no history store at "+path) {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the command created %s (%v)", path, err)
	}
}

// A PostgreSQL store that cannot be reached is one line of error (pgx
// writes one line per address it tried), without the password.
func TestHistoryUnreachablePostgresIsOneLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	code, out, errs := goarqRun("history", "--history", "postgres://goarq:s3cret@"+addr+"/nope")
	if code != exitUsage || !strings.Contains(errs, addr) || strings.Count(strings.TrimSpace(errs), "\n") != 0 || strings.Contains(errs, "s3cret") {
		t.Fatalf("exit %d, want %d and one line naming %s without the password:\n%s%s", code, exitUsage, addr, out, errs)
	}
}

// goarq retry over filters that match no failure says so, and does not
// suggest --yes (it printed "would enqueue 0 jobs again:" and "add --yes
// to enqueue").
func TestRetryWithNothingToRetrySaysSo(t *testing.T) {
	srv := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "h.db")
	for _, args := range [][]string{{}, {"--yes"}} {
		code, out, errs := goarqRun(append([]string{"retry", "--redis", srv.String(), "--history", path, "--failed", "--function", "nosuch"}, args...)...)
		if code != 0 || !strings.Contains(out, "no final failure matches: nothing ") || strings.Contains(out, "--yes") || strings.Contains(out, "0 jobs") {
			t.Errorf("retry %v: exit %d\n%s%s", args, code, out, errs)
		}
	}
}

// A command refused by the Redis user's ACL says so and names the two
// commands that tell what the user needs.
func TestACLRefusalSaysWhatToRun(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t, nil)
	if err := admin.Do(context.Background(), "ACL", "SETUSER", "narrow", "on", ">pw", "+@all", "-scan", "~*").Err(); err != nil {
		t.Fatal(err)
	}
	code, out, errs := goarqRun("--redis", "redis://narrow:pw@"+srv.Addr+"/0", "stats")
	if code != exitRedis || !strings.Contains(errs, "NOPERM") || !strings.Contains(errs, "goarq acl --role") ||
		!strings.Contains(errs, "goarq doctor --acl-user") || strings.Contains(errs, "pw@") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

// goarq retry counts in words a person reads: one failure is "1 job".
func TestRetryOfOneFailureSaysOneJob(t *testing.T) {
	srv := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "h.db")
	now := time.Now().UnixMilli()
	data, err := arqcompat.EncodeResult(arqcompat.PickleSerializer(arqcompat.Limits{}), arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "send_email", Args: []any{"a@example.com"}, JobTry: 1, EnqueueTimeMS: now - 10},
		Success:   false, Result: arqcompat.NewException("builtins", "ValueError", "bad"), StartMS: now - 5, FinishMS: now,
		Queue: "arq:queue", JobID: "j1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Client(t, nil).Set(context.Background(), arqcompat.ResultKey("j1"), data, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{{nil, "would enqueue 1 job again:"}, {[]string{"--yes"}, "enqueued 1 job again:"}} {
		code, out, errs := goarqRun(append([]string{"retry", "--redis", srv.String(), "--history", path, "--failed"}, c.args...)...)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("retry %v: exit %d, want %q\n%s%s", c.args, code, c.want, out, errs)
		}
	}
}
