package arqredis

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/goarq/goarq/arqcompat"
)

// The least-privilege table: every command this package sends, with the
// keys and channels it touches, and the roles that send it. It lives next
// to the commands so that it cannot drift: acl_test.go fails when a
// command sent in this package is in no role, and the interop suite
// (interop/test_acl.py) runs each role end to end as a Redis user made
// with exactly its rule.

// Role is a kind of goarq process that talks to Redis.
type Role string

// The roles `goarq acl --role` knows.
const (
	RoleWorker            Role = "worker"              // worker.Worker: claims, runs, finishes, retries; push wake-up
	RoleProducer          Role = "producer"            // client.Client: enqueue, status, result (with push wake-up), abort
	RoleDashboard         Role = "dashboard"           // goarq dashboard: reads plus abort, re-enqueue, delete result
	RoleDashboardReadOnly Role = "dashboard-read-only" // goarq dashboard --read-only
	RoleExporter          Role = "exporter"            // goarq exporter and arqprom's queue collector
)

var roles = []Role{RoleWorker, RoleProducer, RoleDashboard, RoleDashboardReadOnly, RoleExporter}

// Roles lists the roles in the order they are documented.
func Roles() []Role { return slices.Clone(roles) }

// Key patterns of the table; {queue} stands for a queue's name.
const (
	aclQueue    = "{queue}"
	aclHealth   = "{queue}" + arqcompat.HealthCheckSuffix
	aclJob      = arqcompat.JobKeyPrefix + "*"
	aclResult   = arqcompat.ResultKeyPrefix + "*"
	aclProgress = arqcompat.InProgressKeyPrefix + "*"
	aclRetry    = arqcompat.RetryKeyPrefix + "*"
	aclAbort    = arqcompat.AbortJobsSS
	aclWorkers  = WorkerKeyPrefix + "{queue}:*"
)

var (
	rolesAll     = roles
	rolesWorker  = []Role{RoleWorker}
	rolesWrite   = []Role{RoleWorker, RoleProducer, RoleDashboard}                          // the enqueue script and its fallbacks
	rolesReaders = []Role{RoleProducer, RoleDashboard, RoleDashboardReadOnly, RoleExporter} // the inspector's and client's reads
	rolesInspect = []Role{RoleDashboard, RoleDashboardReadOnly, RoleExporter}
	rolesTrack   = []Role{RoleWorker, RoleProducer}
)

// aclUse is one command as goarq sends it. In argv, an argument starting
// with "@" is a key (a pattern of the table) and one starting with "&" a
// Pub/Sub channel; the rest are sample arguments, so that ACL DRYRUN can
// check the use as it stands.
type aclUse struct {
	roles []Role
	argv  []string
	write bool // writes its keys (else reads them)
	where string
}

// aclUses is the table. Commands inside Lua scripts are listed too: Redis
// checks each redis.call against the caller's ACL, keys included.
var aclUses = []aclUse{
	// connection set-up by go-redis: HELLO 3 (it falls back to RESP2 when
	// refused, but the refusal is logged in ACL LOG), SELECT for a db
	// other than 0; PING (health checks, the Watcher). go-redis's CLIENT
	// SETINFO is left out: Redis 7.0 has no such subcommand, so a rule
	// naming it would not load there; on 7.2+ its refusal is ignored by
	// go-redis (and logged in ACL LOG).
	{rolesAll, []string{"HELLO", "3"}, false, "go-redis connection set-up"},
	{rolesAll, []string{"SELECT", "0"}, false, "go-redis connection set-up (db other than 0)"},
	{rolesAll, []string{"PING"}, false, "RDB.Ping, Watcher"},

	// push wake-up: Watcher (worker: the queue; producer: Job.Result's
	// waits on arq:result:)
	{rolesTrack, []string{"CLIENT", "ID"}, false, "RDB.Watch"},
	{rolesWorker, []string{"CLIENT", "TRACKING", "ON", "REDIRECT", "1", "BCAST", "PREFIX", "@" + aclQueue}, false, "RDB.Watch (worker)"},
	{[]Role{RoleProducer}, []string{"CLIENT", "TRACKING", "ON", "REDIRECT", "1", "BCAST", "PREFIX", "@" + aclResult}, false, "RDB.Watch (client's result waits)"},
	{rolesTrack, []string{"SUBSCRIBE", "&" + invalidateChannel}, false, "RDB.Watch"},

	// scripts: EVALSHA, EVAL on NOSCRIPT, SCRIPT LOAD after a NOSCRIPT in a pipeline
	{rolesWorker, []string{"EVALSHA", "0000000000000000000000000000000000000000", "2", "@" + aclQueue, "@" + aclAbort}, true, "RDB.Claim, RDB.ClaimOwn"},
	{rolesWorker, []string{"EVAL", "return 0", "2", "@" + aclQueue, "@" + aclAbort}, true, "RDB.Claim, RDB.ClaimOwn"},
	{rolesWrite, []string{"EVALSHA", "0000000000000000000000000000000000000000", "3", "@" + aclJob, "@" + aclResult, "@" + aclQueue}, true, "RDB.EnqueueOne, RDB.Enqueue"},
	{rolesWrite, []string{"EVAL", "return 0", "3", "@" + aclJob, "@" + aclResult, "@" + aclQueue}, true, "RDB.EnqueueOne, RDB.Enqueue"},
	{rolesWrite, []string{"SCRIPT", "LOAD", "return 0"}, false, "RDB.LoadScripts"},

	// inside the claim scripts
	{rolesWorker, []string{"ZRANGEBYSCORE", "@" + aclQueue, "-inf", "0", "LIMIT", "0", "1"}, false, "claim scripts, RDB.NextDue, RDB.ScanQueue"},
	{rolesWorker, []string{"EXISTS", "@" + aclProgress}, false, "claim scripts"},
	{rolesWorker, []string{"ZSCORE", "@" + aclQueue, "id"}, false, "claim scripts"},
	{rolesWorker, []string{"GET", "@" + aclJob}, false, "claim scripts"},
	{rolesWorker, []string{"PSETEX", "@" + aclProgress, "1000", "1"}, true, "claim scripts"},
	{rolesWorker, []string{"INCR", "@" + aclRetry}, true, "claim scripts"},
	{rolesWorker, []string{"EXPIRE", "@" + aclRetry, "88400"}, true, "claim scripts"},
	{rolesWorker, []string{"ZREM", "@" + aclAbort, "id"}, true, "claim scripts, RDB.ForgetAborts, finishes"},
	{rolesWorker, []string{"ZCARD", "@" + aclQueue}, false, "claim scripts, RDB.QueueSize"},

	// inside the enqueue script, and arq's WATCH/MULTI enqueue
	{rolesWrite, []string{"EXISTS", "@" + aclJob, "@" + aclResult}, false, "enqueue script, RDB.EnqueueWatchMulti"},
	{rolesWrite, []string{"GET", "@" + aclJob}, false, "enqueue script"},
	{rolesWrite, []string{"PSETEX", "@" + aclJob, "1000", "x"}, true, "enqueue script, RDB.EnqueueWatchMulti"},
	{rolesWrite, []string{"ZADD", "@" + aclQueue, "1", "id"}, true, "enqueue script, RDB.EnqueueWatchMulti, RDB.RequestAbort"},
	{rolesWrite, []string{"WATCH", "@" + aclJob}, false, "RDB.EnqueueWatchMulti"},
	{rolesWrite, []string{"UNWATCH"}, false, "RDB.EnqueueWatchMulti"},
	{rolesWrite, []string{"MULTI"}, false, "every MULTI/EXEC (finishes, RDB.JobState, RDB.PollResult, RDB.RequestAbort, RDB.AbortRequests)"},
	{rolesWrite, []string{"EXEC"}, false, "every MULTI/EXEC"},

	// the worker's other commands
	{rolesWorker, []string{"ZRANGE", "@" + aclQueue, "0", "0", "WITHSCORES"}, false, "RDB.Head"},
	{rolesWorker, []string{"MGET", "@" + aclJob}, false, "RDB.Head, RDB.JobRecords"},
	{rolesWorker, []string{"ZCOUNT", "@" + aclQueue, "-inf", "0"}, false, "RDB.CountUpTo"},
	{rolesWorker, []string{"SET", "@" + aclResult, "x", "PX", "1000"}, true, "finishes (result)"},
	{rolesWorker, []string{"SET", "@" + aclProgress, "1", "PX", "1000"}, true, "finish script (cron keep-progress)"},
	{rolesWorker, []string{"MGET", "@" + aclProgress}, false, "finish script (the claims' tokens)"},
	{rolesWorker, []string{"ZINCRBY", "@" + aclQueue, "1", "id"}, true, "finish script (retry)"},
	{rolesWorker, []string{"DEL", "@" + aclJob, "@" + aclRetry, "@" + aclProgress}, true, "finishes"},
	{rolesWorker, []string{"ZREM", "@" + aclQueue, "id"}, true, "finishes"},
	{rolesWorker, []string{"SETEX", "@" + aclRetry, "88400", "1"}, true, "RDB.SetRetry"},
	{rolesWorker, []string{"ZRANGE", "@" + aclAbort, "0", "-1"}, false, "RDB.AbortRequests"},
	{rolesWorker, []string{"ZREMRANGEBYSCORE", "@" + aclAbort, "0", "+inf"}, true, "RDB.AbortRequests"},
	{rolesWorker, []string{"PSETEX", "@" + aclHealth, "1000", "x"}, true, "RDB.WriteHealth"},
	{rolesWorker, []string{"DEL", "@" + aclHealth}, true, "RDB.DeleteHealth"},
	{rolesWorker, []string{"SET", "@" + aclWorkers, "x", "PX", "1000"}, true, "RDB.WriteWorker"},
	{rolesWorker, []string{"DEL", "@" + aclWorkers}, true, "RDB.DeleteWorker"},
	{rolesWorker, []string{"INFO", "server"}, false, "RDB.ServerInfo"},
	{[]Role{RoleWorker, RoleDashboard, RoleDashboardReadOnly, RoleExporter}, []string{"INFO", "memory"}, false,
		"RDB.ServerInfo, RDB.EvictionPolicy (the worker's warning, the eviction gauge of the exporter and the dashboard's /metrics)"},
	{rolesWorker, []string{"DBSIZE"}, false, "RDB.ServerInfo"},

	// the client's reads of one job: Job.status, result, info, result_info
	{rolesReaders, []string{"EXISTS", "@" + aclResult}, false, "RDB.JobState, RDB.JobKeys"},
	{rolesReaders, []string{"EXISTS", "@" + aclProgress}, false, "RDB.JobState, RDB.QueuePage, RDB.JobKeys"},
	{rolesReaders, []string{"ZSCORE", "@" + aclQueue, "id"}, false, "RDB.JobState, RDB.PollResult, RDB.Score, RDB.QueueHead"},
	{rolesReaders, []string{"GET", "@" + aclResult}, false, "RDB.PollResult, RDB.GetResult, RDB.JobKeys"},
	{rolesReaders, []string{"GET", "@" + aclJob}, false, "RDB.GetJob, RDB.QueuePage, RDB.JobKeys"},
	// abort (Job.abort, the dashboard's action)
	{[]Role{RoleProducer, RoleDashboard}, []string{"ZREM", "@" + aclQueue, "id"}, true, "RDB.RequestAbort"},
	{[]Role{RoleProducer, RoleDashboard}, []string{"ZADD", "@" + aclAbort, "1", "id"}, true, "RDB.RequestAbort"},

	// listings and the inspector (dashboard, exporter, goarq jobs/results/workers)
	{rolesInspect, []string{"SCAN", "0", "MATCH", "arq:[ir]*", "COUNT", "10"}, false, "RDB.KeyCensus, RDB.Workers"},
	{rolesInspect, []string{"ZCOUNT", "@" + aclQueue, "-inf", "0"}, false, "RDB.QueueHead"},
	{rolesInspect, []string{"ZCARD", "@" + aclQueue}, false, "RDB.QueueHead"},
	{rolesInspect, []string{"ZRANGE", "@" + aclQueue, "0", "0", "WITHSCORES"}, false, "RDB.QueueHead, RDB.QueuePage"},
	{rolesInspect, []string{"ZRANGE", "@" + aclAbort, "0", "0", "WITHSCORES"}, false, "RDB.OldestAbortRequest"},
	{rolesInspect, []string{"ZSCORE", "@" + aclAbort, "id"}, false, "RDB.JobKeys"},
	{rolesInspect, []string{"GET", "@" + aclRetry}, false, "RDB.JobKeys"},
	{rolesInspect, []string{"GET", "@" + aclHealth}, false, "RDB.ReadHealth"},
	{rolesInspect, []string{"MGET", "@" + aclResult}, false, "RDB.Results"},
	{rolesInspect, []string{"MGET", "@" + aclWorkers}, false, "RDB.Workers"},
	{[]Role{RoleDashboard}, []string{"DEL", "@" + aclResult}, true, "RDB.DeleteResult"},
}

// subcommandOf lists the container commands whose rules name a subcommand
// (+client|id rather than +client).
var subcommandOf = map[string]bool{"CLIENT": true, "SCRIPT": true, "ACL": true, "CONFIG": true, "OBJECT": true, "MEMORY": true}

// aclCommandName is the ACL name of argv's command: "zadd", "client|id".
func aclCommandName(argv []string) string {
	name := strings.ToLower(argv[0])
	if subcommandOf[argv[0]] && len(argv) > 1 {
		name += "|" + strings.ToLower(argv[1])
	}
	return name
}

// ACLRule is what a role needs on the given queues.
type ACLRule struct {
	Role     Role
	Commands []string // ACL command names, sorted: "zadd", "client|id"
	// Keys are key patterns with their access: "~p" read and write,
	// "%R~p" read only.
	Keys     []string
	Channels []string // "&channel"
}

// String is the rule's body: -@all, the commands, resetkeys, the key
// patterns, resetchannels and the channels, each quoted as redis-cli
// reads it where needed.
func (r ACLRule) String() string {
	parts := []string{"-@all"}
	for _, c := range r.Commands {
		parts = append(parts, "+"+c)
	}
	parts = append(parts, "resetkeys")
	for _, k := range r.Keys {
		parts = append(parts, cliQuote(k))
	}
	parts = append(parts, "resetchannels")
	for _, c := range r.Channels {
		parts = append(parts, cliQuote(c))
	}
	return strings.Join(parts, " ")
}

// SetUser is the whole ACL SETUSER command for user with password, as one
// line redis-cli reads from its input: reset first, so the user has
// exactly this rule.
func (r ACLRule) SetUser(user, password string) string {
	return fmt.Sprintf("ACL SETUSER %s reset on %s %s", cliQuote(user), cliQuote(">"+password), r)
}

// cliQuote quotes s the way redis-cli (and Redis's inline commands) split
// a line, when it holds a space, a quote, a backslash or a byte outside
// printable ASCII.
func cliQuote(s string) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '\\'
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= ' ' && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// RoleRule builds the rule of role for queues (at least one).
func RoleRule(role Role, queues []string) (ACLRule, error) {
	if !slices.Contains(roles, role) {
		return ACLRule{}, fmt.Errorf("unknown role %q (want one of %s)", role, roleList())
	}
	if len(queues) == 0 {
		return ACLRule{}, fmt.Errorf("no queue given")
	}
	for _, q := range queues {
		if q == "" || strings.ContainsFunc(q, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
			return ACLRule{}, fmt.Errorf("queue %q: a Redis ACL key pattern cannot hold a space or a control character", q)
		}
	}
	rule := ACLRule{Role: role}
	cmds := map[string]bool{}
	write := map[string]bool{}
	var order []string
	chans := map[string]bool{}
	for _, u := range aclUses {
		if !slices.Contains(u.roles, role) {
			continue
		}
		cmds[aclCommandName(u.argv)] = true
		for _, a := range u.argv[1:] {
			switch {
			case strings.HasPrefix(a, "@"):
				for _, q := range queues {
					p := strings.ReplaceAll(a[1:], "{queue}", globEscape(q))
					if _, seen := write[p]; !seen {
						order = append(order, p)
						write[p] = false
					}
					write[p] = write[p] || u.write
				}
			case strings.HasPrefix(a, "&"):
				chans[a] = true
			}
		}
	}
	for c := range cmds {
		rule.Commands = append(rule.Commands, c)
	}
	slices.Sort(rule.Commands)
	for _, p := range order {
		if write[p] {
			rule.Keys = append(rule.Keys, "~"+p)
		} else {
			rule.Keys = append(rule.Keys, "%R~"+p)
		}
	}
	for c := range chans {
		rule.Channels = append(rule.Channels, c)
	}
	slices.Sort(rule.Channels)
	return rule, nil
}

func roleList() string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// ACLDenial is one use of a role that a user's ACL refuses.
type ACLDenial struct {
	Command string // the command as sent, with sample arguments
	Where   string // what in goarq sends it
	Reason  string // Redis's answer
}

// ACLDryRun checks with ACL DRYRUN (Redis 7.0+) whether user may run every
// command role sends on queue. It returns the refused ones; an error when
// ACL DRYRUN itself cannot run (an older server, or a user without
// +acl|dryrun). user "" is the connection's own user (ACL WHOAMI).
func (r *RDB) ACLDryRun(ctx context.Context, user string, role Role, queue string) ([]ACLDenial, error) {
	if user == "" {
		u, err := r.c.Do(ctx, "ACL", "WHOAMI").Text()
		if err != nil {
			return nil, fmt.Errorf("ACL WHOAMI: %w", err)
		}
		user = u
	}
	var out []ACLDenial
	for _, u := range aclUses {
		if !slices.Contains(u.roles, role) {
			continue
		}
		argv := make([]any, 0, len(u.argv)+3)
		argv = append(argv, "ACL", "DRYRUN", user)
		shown := make([]string, 0, len(u.argv))
		for _, a := range u.argv {
			switch {
			case strings.HasPrefix(a, "@"):
				a = strings.ReplaceAll(strings.ReplaceAll(a[1:], "{queue}", queue), "*", "goarq-doctor-probe")
			case strings.HasPrefix(a, "&"):
				a = a[1:]
			}
			argv = append(argv, a)
			shown = append(shown, a)
		}
		res, err := r.c.Do(ctx, argv...).Text()
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "DRYRUN") || strings.HasPrefix(msg, "NOPERM") || !strings.HasPrefix(msg, "ERR") {
				return nil, fmt.Errorf("ACL DRYRUN: %w", err)
			}
			// a command this server does not have (ERR Command not found):
			// goarq does not send it there either
			continue
		}
		if res != "OK" {
			out = append(out, ACLDenial{Command: strings.Join(shown, " "), Where: u.where, Reason: res})
		}
	}
	return out, nil
}
