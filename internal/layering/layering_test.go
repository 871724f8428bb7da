// Package layering checks the import graph the README's layout promises:
// the wire package is pure, the worker does not depend on the client, and
// importing worker or client pulls in none of the optional integrations.
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages pkg imports, directly or not (go list -deps).
func deps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	m := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		m[p] = true
	}
	return m
}

func TestImportGraph(t *testing.T) {
	const mod = "github.com/goarq/goarq/"
	forbidden := map[string][]string{
		// the wire: no Redis, no integrations
		mod + "arqcompat": {"github.com/redis/go-redis", mod + "internal/arqredis", mod + "client", mod + "worker"},
		// the worker makes its own connection (redisconn) and enqueues cron
		// jobs through internal/arqredis
		mod + "worker": {mod + "client", mod + "inspect"},
		mod + "client": {mod + "worker"},
	}
	optional := []string{"github.com/prometheus/", "go.opentelemetry.io/", "github.com/jackc/pgx", "modernc.org/sqlite",
		mod + "arqprom", mod + "otelarq", mod + "dashboard", mod + "history"}
	for _, p := range []string{mod + "worker", mod + "client", mod + "inspect", mod + "redisconn"} {
		forbidden[p] = append(forbidden[p], optional...)
	}
	for pkg, bad := range forbidden {
		got := deps(t, pkg)
		for dep := range got {
			for _, b := range bad {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}
