package doctor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/doctor"
	"github.com/goarq/goarq/internal/redistest"
)

func clockFinding(t *testing.T, offset time.Duration) doctor.Finding {
	t.Helper()
	srv := redistest.Start(t, "--appendonly", "yes")
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	rep, err := doctor.Run(context.Background(), client.New(c, client.Options{}), doctor.Options{Now: func() time.Time { return time.Now().Add(offset) }})
	if err != nil {
		t.Fatal(err)
	}
	fs := rep.Find(doctor.CheckClock, "")
	if len(fs) != 1 {
		t.Fatalf("clock findings: %+v", rep.Findings)
	}
	return fs[0]
}

// A host whose clock is 3 s behind Redis's TIME is a problem; the real
// clock of this host, which shares Redis's, is fine.
func TestClockSkewAgainstRedisTIME(t *testing.T) {
	if f := clockFinding(t, -3*time.Second); f.Severity != doctor.Problem || !strings.Contains(f.Message, "ahead of this host") || f.Fix == "" {
		t.Errorf("3 s behind: %+v", f)
	}
	if f := clockFinding(t, 300*time.Millisecond); f.Severity != doctor.Warning || !strings.Contains(f.Message, "behind this host") {
		t.Errorf("300 ms ahead: %+v", f)
	}
	if f := clockFinding(t, 0); f.Severity != doctor.OK {
		t.Errorf("same clock: %+v", f)
	}
}

// A deployment with persistence and noeviction, and nothing queued, has no
// problem.
func TestHealthyDeploymentHasNoProblem(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes")
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	rep, err := doctor.Run(context.Background(), client.New(c, client.Options{}), doctor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problems() != 0 || rep.Warnings() != 0 {
		t.Errorf("findings: %+v", rep.Findings)
	}
}

func TestUnknownRoleIsRefused(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	if _, err := doctor.Run(context.Background(), client.New(c, client.Options{}), doctor.Options{Roles: []string{"admin"}}); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("err = %v", err)
	}
}
