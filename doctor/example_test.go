package doctor_test

import (
	"context"
	"fmt"
	"log"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/doctor"
)

// Check a deployment from Go, as `goarq doctor` does, and fail on a
// problem.
func ExampleRun() {
	ctx := context.Background()
	c, err := client.DialURL(ctx, "redis://localhost:6379/0", client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	rep, err := doctor.Run(ctx, c, doctor.Options{Queues: []string{"arq:queue", "emails"}})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity == doctor.Problem {
			fmt.Printf("%s: %s\n  fix: %s\n", f.Check, f.Message, f.Fix)
		}
	}
	if rep.Problems() > 0 {
		log.Fatalf("%d problem(s)", rep.Problems())
	}
}

// The least-privilege rule of a metrics exporter: read-only key patterns
// and only the commands the exporter sends.
func ExampleRoleRule() {
	rule, err := doctor.RoleRule("exporter", []string{"arq:queue"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rule.SetUser("metrics", "s3cret"))
	// Output:
	// ACL SETUSER metrics reset on >s3cret -@all +exists +get +hello +info +mget +ping +scan +select +zcard +zcount +zrange +zscore resetkeys %R~arq:result:* %R~arq:in-progress:* %R~arq:queue %R~arq:job:* %R~arq:abort %R~arq:retry:* %R~arq:queue:health-check %R~goarq:worker:arq:queue:* resetchannels
}
