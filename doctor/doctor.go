// Package doctor checks a Redis deployment for what loses, delays or
// strands arq jobs, and says what to fix: the checks of `goarq doctor`.
//
// Every check only reads; doctor writes nothing to Redis. The Redis
// commands are in internal/arqredis (doctor.go and acl.go there).
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/arqredis"
)

// Severity grades a finding. Only Problem makes a Report fail.
type Severity string

// The severities, mildest first.
const (
	OK      Severity = "ok"
	Info    Severity = "info"
	Warning Severity = "warning"
	Problem Severity = "problem"
)

// Finding is the outcome of one check (on one queue, for per-queue checks).
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Queue    string   `json:"queue,omitempty"`
	Message  string   `json:"message"`
	// Fix says what to do about a warning or a problem.
	Fix string `json:"fix,omitempty"`
	// JobIDs are the jobs concerned (up to MaxIDs of them).
	JobIDs []string `json:"job_ids,omitempty"`
}

// The checks' names, as Finding.Check.
const (
	CheckVersion     = "version"
	CheckEviction    = "eviction"
	CheckPersistence = "persistence"
	CheckTracking    = "push-wakeup"
	CheckACL         = "acl"
	CheckClock       = "clock"
	CheckSerializer  = "serializer"
	CheckInProgress  = "stuck-in-progress"
	CheckRetryKeys   = "orphan-retry-keys"
	CheckOwnFuncs    = "unserved-functions"
	CheckOldestReady = "oldest-ready"
	CheckWorkers     = "workers"
)

// MaxIDs bounds the job ids a finding lists.
const MaxIDs = 10

// Report is every finding of one run.
type Report struct {
	Findings []Finding `json:"findings"`
}

// Problems counts the findings of severity Problem.
func (r *Report) Problems() int { return r.count(Problem) }

// Warnings counts the findings of severity Warning.
func (r *Report) Warnings() int { return r.count(Warning) }

func (r *Report) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Find returns the findings of check (on queue, unless queue is "").
func (r *Report) Find(check, queue string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Check == check && (queue == "" || f.Queue == queue) {
			out = append(out, f)
		}
	}
	return out
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }

// Options configure a run. The zero value checks arq's default queue with
// pickle and arq's defaults.
type Options struct {
	// Queues to check; default arq:queue.
	Queues []string
	// Serializer the deployment uses (arq's job_serializer); default pickle.
	Serializer arqcompat.Serializer
	// JobTimeout is the workers' job timeout (arq's job_timeout, 300 s by
	// default): an in-progress key of a job due longer ago than this, with
	// no live worker on its queue, is stuck.
	JobTimeout time.Duration
	// Sample bounds the records read per queue for the serializer and
	// function checks, and the results read; default 200.
	Sample int
	// MaxReadyAge is how long the oldest ready job may have waited before
	// it is a problem; default 5 minutes.
	MaxReadyAge time.Duration
	// MaxClockSkew is the clock skew from which on it is a problem;
	// default 1 s (a tenth of it is a warning).
	MaxClockSkew time.Duration
	// ACLUser is the user whose ACL is checked against the roles; default
	// the connection's own user.
	ACLUser string
	// Roles this user must be able to play: a missing permission of one of
	// them is a problem (of another role, information).
	Roles []string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger gets nothing in normal operation; default discards.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if len(o.Queues) == 0 {
		o.Queues = []string{arqcompat.DefaultQueueName}
	}
	if o.Serializer == nil {
		o.Serializer = arqcompat.PickleSerializer(arqcompat.Limits{})
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = 300 * time.Second
	}
	if o.Sample <= 0 {
		o.Sample = 200
	}
	if o.MaxReadyAge <= 0 {
		o.MaxReadyAge = 5 * time.Minute
	}
	if o.MaxClockSkew <= 0 {
		o.MaxClockSkew = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// ErrUnknownRole is returned for a role Options.Roles names that goarq does
// not know.
var ErrUnknownRole = errors.New("unknown role")

// Run runs every check through c's connection (c's queue and serializer
// are not used: Options name them). An error means Redis could not be read
// at all (the first PING failed) or the options are wrong; a check that
// cannot run becomes a finding of its own.
func Run(ctx context.Context, c *client.Client, o Options) (*Report, error) {
	o.defaults()
	for _, r := range o.Roles {
		if !slices.Contains(arqredis.Roles(), arqredis.Role(r)) {
			return nil, fmt.Errorf("%w %q", ErrUnknownRole, r)
		}
	}
	rdb := arqredis.New(c.Redis(), o.Logger)
	if err := rdb.Ping(ctx); err != nil {
		return nil, err
	}
	d := &run{rdb: rdb, o: o, rep: &Report{}}
	d.server(ctx)
	d.tracking(ctx)
	d.acl(ctx)
	d.clock(ctx)
	d.queues(ctx)
	return d.rep, nil
}

type run struct {
	rdb *arqredis.RDB
	o   Options
	rep *Report
}

func (d *run) fail(check, queue string, err error) {
	d.rep.add(Finding{Check: check, Severity: Warning, Queue: queue, Message: "could not check: " + err.Error()})
}

// server: version, eviction policy, persistence.
func (d *run) server(ctx context.Context) {
	f, err := d.rdb.ServerFacts(ctx)
	if err != nil {
		d.fail(CheckVersion, "", err)
		return
	}
	switch major := parseVersion(f.Version); {
	case f.Version == "":
		d.rep.add(Finding{Check: CheckVersion, Severity: Warning, Message: "the server does not report redis_version (an embedded Redis or a proxy?)",
			Fix: "run goarq against Redis 7.0 or later"})
	case major < 6:
		d.rep.add(Finding{Check: CheckVersion, Severity: Warning, Message: "Redis " + f.Version + ": no client tracking (push wake-up polls instead) and no ACL users",
			Fix: "upgrade to Redis 7.0 or later"})
	case major < 7:
		d.rep.add(Finding{Check: CheckVersion, Severity: Info, Message: "Redis " + f.Version + ": `goarq acl`'s rules (read-only key patterns) and ACL DRYRUN need Redis 7.0"})
	default:
		d.rep.add(Finding{Check: CheckVersion, Severity: OK, Message: "Redis " + f.Version})
	}

	switch f.MaxmemoryPolicy {
	case "noeviction":
		d.rep.add(Finding{Check: CheckEviction, Severity: OK, Message: "maxmemory-policy is noeviction: a full Redis refuses writes instead of dropping jobs"})
	case "":
		d.rep.add(Finding{Check: CheckEviction, Severity: Warning, Message: "the server does not report its maxmemory-policy",
			Fix: "make sure it is noeviction"})
	default:
		d.rep.add(Finding{Check: CheckEviction, Severity: Problem,
			Message: fmt.Sprintf("maxmemory-policy is %s: when Redis reaches maxmemory it evicts keys, and an evicted job, queue or in-progress key is a lost or doubled job "+
				"(every arq job key has a TTL, so volatile-* policies evict them too)", f.MaxmemoryPolicy),
			Fix: "CONFIG SET maxmemory-policy noeviction, and set it in redis.conf (or your provider's parameter group)"})
	}

	switch {
	case f.AOF:
		d.rep.add(Finding{Check: CheckPersistence, Severity: OK, Message: "append-only file on"})
	case f.RDBSaveErr != nil:
		d.rep.add(Finding{Check: CheckPersistence, Severity: Warning,
			Message: "append-only file off, and whether RDB snapshots are on is unknown: CONFIG GET save refused (" + f.RDBSaveErr.Error() + ")",
			Fix:     "check that AOF or RDB snapshots are on (appendonly yes, or a save schedule)"})
	case f.RDBSave == "":
		d.rep.add(Finding{Check: CheckPersistence, Severity: Problem,
			Message: "persistence is off (appendonly no, save \"\"): every queued job and kept result is lost when Redis restarts",
			Fix:     "CONFIG SET appendonly yes (and in redis.conf), or at least a save schedule such as save 60 1000"})
	default:
		d.rep.add(Finding{Check: CheckPersistence, Severity: Warning,
			Message: fmt.Sprintf("RDB snapshots only (save %q, append-only file off): jobs enqueued since the last snapshot are lost if Redis crashes", f.RDBSave),
			Fix:     "CONFIG SET appendonly yes for at most a second of loss"})
	}
}

func parseVersion(v string) (major int) {
	major, _ = strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return major
}

// tracking arms a push wake-up Watcher on the first queue, as a worker does.
func (d *run) tracking(ctx context.Context) {
	q := d.o.Queues[0]
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	w, err := d.rdb.Watch(tctx, arqredis.WatchOptions{Prefix: q, Logger: d.o.Logger, OnInvalidate: func([]string) {}})
	if err != nil {
		f := Finding{Check: CheckTracking, Severity: Warning, Queue: q,
			Message: "push wake-up unavailable to this user, workers will poll (every poll_delay, 0.5 s by default): " + err.Error()}
		msg := err.Error()
		switch {
		case strings.Contains(msg, "NOPERM"):
			f.Fix = "grant the worker's user +client|id +client|tracking +subscribe &__redis__:invalidate and read access to the queue key (goarq acl --role worker)"
		case strings.Contains(msg, "unknown") || strings.Contains(msg, "not supported"):
			f.Fix = "use Redis 6.0 or later, reached directly (proxies such as twemproxy or Envoy refuse CLIENT TRACKING)"
		case errors.Is(err, context.DeadlineExceeded):
			f.Message = "push wake-up could not be armed within 5 s"
		}
		d.rep.add(f)
		return
	}
	armed := w.Armed()
	_ = w.Close()
	if !armed {
		d.rep.add(Finding{Check: CheckTracking, Severity: Warning, Queue: q, Message: "push wake-up could not connect its own connection; workers will poll until it can"})
		return
	}
	d.rep.add(Finding{Check: CheckTracking, Severity: OK, Queue: q, Message: "client tracking works for this user: idle workers wake on each enqueue"})
}

func (d *run) acl(ctx context.Context) {
	var allowed []string
	defer func() {
		if len(allowed) > 0 {
			user := d.o.ACLUser
			if user == "" {
				user = "this user"
			}
			d.rep.add(Finding{Check: CheckACL, Severity: OK, Message: fmt.Sprintf("%s may act as %s", user, strings.Join(allowed, ", "))})
		}
	}()
	for _, role := range arqredis.Roles() {
		denied, err := d.rdb.ACLDryRun(ctx, d.o.ACLUser, role, d.o.Queues[0])
		if err != nil {
			sev := Info
			if len(d.o.Roles) > 0 {
				sev = Warning
			}
			d.rep.add(Finding{Check: CheckACL, Severity: sev, Message: "cannot check the ACL: " + err.Error() + " (ACL DRYRUN needs Redis 7.0 and +acl|dryrun)",
				Fix: "run doctor as an admin user with --acl-user NAME to check another user"})
			return
		}
		user := d.o.ACLUser
		if user == "" {
			user = "this user"
		}
		if len(denied) == 0 {
			allowed = append(allowed, string(role))
			continue
		}
		sev := Info
		if slices.Contains(d.o.Roles, string(role)) {
			sev = Problem
		}
		var what []string
		for _, dn := range denied {
			what = append(what, fmt.Sprintf("%s (%s: %s)", dn.Command, dn.Where, dn.Reason))
		}
		d.rep.add(Finding{Check: CheckACL, Severity: sev,
			Message: fmt.Sprintf("%s may not act as %s: %d command(s) refused: %s", user, role, len(denied), strings.Join(what, "; ")),
			Fix:     fmt.Sprintf("goarq acl --role %s --queue %s prints the rule the role needs", role, d.o.Queues[0])})
	}
}

func (d *run) clock(ctx context.Context) {
	server, sent, received, err := d.rdb.ServerTime(ctx, d.o.Now)
	if err != nil {
		d.fail(CheckClock, "", err)
		return
	}
	rtt := received.Sub(sent)
	mid := sent.Add(rtt / 2)
	skew := server.Sub(mid) // > 0: Redis ahead of this host
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	margin := abs - rtt/2 // the skew no reading error explains
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	msg := fmt.Sprintf("Redis's TIME is %s %s this host's clock (±%s)", abs.Round(time.Microsecond), dir, (rtt / 2).Round(time.Microsecond))
	const effect = "; arq's scores are the producer's clock, so a producer whose clock is ahead of the workers' defers its jobs by the difference and one behind runs deferred jobs early"
	fix := "run NTP (chrony, systemd-timesyncd) on this host and on the Redis host"
	switch {
	case margin > d.o.MaxClockSkew:
		d.rep.add(Finding{Check: CheckClock, Severity: Problem, Message: msg + effect, Fix: fix})
	case margin > d.o.MaxClockSkew/10:
		d.rep.add(Finding{Check: CheckClock, Severity: Warning, Message: msg + effect, Fix: fix})
	default:
		d.rep.add(Finding{Check: CheckClock, Severity: OK, Message: msg})
	}
}

// queues: workers, serializer, stuck in-progress keys, orphan retry keys,
// unserved functions and the oldest ready job.
func (d *run) queues(ctx context.Context) {
	now := d.o.Now()
	nowMS := now.UnixMilli()
	live := map[string]bool{}
	workers := map[string][]workerRecord{}
	for _, q := range d.o.Queues {
		ws, health, err := d.liveWorkers(ctx, q)
		if err != nil {
			d.fail(CheckWorkers, q, err)
			continue
		}
		workers[q] = ws
		live[q] = len(ws) > 0 || health
		switch {
		case len(ws) > 0:
			d.rep.add(Finding{Check: CheckWorkers, Severity: OK, Queue: q, Message: fmt.Sprintf("%d live goarq worker(s)%s", len(ws), map[bool]string{true: ", and a fresh health-check line", false: ""}[health])})
		case health:
			d.rep.add(Finding{Check: CheckWorkers, Severity: OK, Queue: q, Message: "a fresh health-check line (a Python arq worker, or a goarq worker without a heartbeat record)"})
		default:
			d.rep.add(Finding{Check: CheckWorkers, Severity: Info, Queue: q, Message: "no live worker: no goarq heartbeat record and no health-check line"})
		}
	}

	running := map[string]bool{}
	keys, err := d.rdb.ScanJobKeys(ctx, d.o.Sample)
	for _, id := range keys.InProgress {
		running[id] = true
	}
	if err != nil {
		d.fail(CheckInProgress, "", err)
	} else {
		d.stuck(ctx, keys.InProgress, live, now)
		d.orphans(ctx, keys.Retry)
		d.results(ctx, keys.Results)
	}

	for _, q := range d.o.Queues {
		d.queueRecords(ctx, q, workers[q], nowMS)
		d.oldest(ctx, q, live[q], running, now)
	}
}

type workerRecord struct {
	Functions        []string `json:"functions"`
	OnlyOwnFunctions bool     `json:"only_own_functions"`
}

func (d *run) liveWorkers(ctx context.Context, q string) ([]workerRecord, bool, error) {
	recs, err := d.rdb.Workers(ctx, q)
	if err != nil {
		return nil, false, err
	}
	var ws []workerRecord
	for _, r := range recs {
		var w workerRecord
		if err := json.Unmarshal(r, &w); err == nil {
			ws = append(ws, w)
		}
	}
	_, health, err := d.rdb.ReadHealth(ctx, q+arqcompat.HealthCheckSuffix)
	return ws, health, err
}

func (d *run) stuck(ctx context.Context, ids []string, live map[string]bool, now time.Time) {
	if len(ids) == 0 {
		for _, q := range d.o.Queues {
			d.rep.add(Finding{Check: CheckInProgress, Severity: OK, Queue: q, Message: "no stuck in-progress key"})
		}
		return
	}
	states, err := d.rdb.InProgressStates(ctx, ids, d.o.Queues)
	if err != nil {
		d.fail(CheckInProgress, "", err)
		return
	}
	for qi, q := range d.o.Queues {
		var stuck, forever []string
		var longestTTL time.Duration
		for i, st := range states {
			if !st.Queued[qi] || st.TTL == -2 {
				continue
			}
			if st.TTL == -1 {
				forever = append(forever, ids[i])
				continue
			}
			due := time.UnixMilli(st.Scores[qi])
			if !live[q] && now.Sub(due) > d.o.JobTimeout {
				stuck = append(stuck, ids[i])
				longestTTL = max(longestTTL, st.TTL)
			}
		}
		if len(forever) > 0 {
			d.rep.add(Finding{Check: CheckInProgress, Severity: Problem, Queue: q, JobIDs: firstN(forever),
				Message: fmt.Sprintf("%d job(s) hold an in-progress key without a TTL: no worker will ever claim them again", len(forever)),
				Fix:     "if no worker runs them, DEL arq:in-progress:<id> so that a worker picks them up"})
		}
		if len(stuck) > 0 {
			d.rep.add(Finding{Check: CheckInProgress, Severity: Problem, Queue: q, JobIDs: firstN(stuck),
				Message: fmt.Sprintf("%d job(s) are marked in progress, were due more than the job timeout (%s) ago, and no worker is alive on the queue "+
					"(no goarq heartbeat, no health-check line): their worker died, and they wait up to %s more until the key expires (python-arq/arq#343)",
					len(stuck), d.o.JobTimeout, longestTTL.Round(time.Second)),
				Fix: "start a worker on the queue; to rerun them at once, DEL arq:in-progress:<id> (only if no worker runs them)"})
		}
		if len(forever) == 0 && len(stuck) == 0 {
			d.rep.add(Finding{Check: CheckInProgress, Severity: OK, Queue: q, Message: "no stuck in-progress key"})
		}
	}
}

func (d *run) orphans(ctx context.Context, ids []string) {
	orphans, err := d.rdb.OrphanRetries(ctx, ids)
	if err != nil {
		d.fail(CheckRetryKeys, "", err)
		return
	}
	if len(orphans) == 0 {
		d.rep.add(Finding{Check: CheckRetryKeys, Severity: OK, Message: "no orphan retry key"})
		return
	}
	d.rep.add(Finding{Check: CheckRetryKeys, Severity: Warning, JobIDs: firstN(orphans),
		Message: fmt.Sprintf("%d retry counter(s) arq:retry:<id> have no job and no in-progress key: a new job reusing such an id starts at a later try (and may exceed max_tries at once); they expire within a day", len(orphans)),
		Fix:     "DEL arq:retry:<id> for each id listed"})
}

// undecodable says which serializer data looks like, if another one reads it.
func (d *run) guess(data []byte, decode func(arqcompat.Serializer, []byte) error) string {
	for _, name := range []string{"pickle", "json", "msgpack"} {
		if name == d.o.Serializer.Name() {
			continue
		}
		s, err := arqcompat.SerializerByName(name)
		if err == nil && decode(s, data) == nil {
			return name
		}
	}
	return ""
}

func (d *run) serializerFinding(queue, what string, bad []string, guesses map[string]int, sampled int) {
	if len(bad) == 0 {
		if sampled > 0 {
			d.rep.add(Finding{Check: CheckSerializer, Severity: OK, Queue: queue, Message: fmt.Sprintf("%d sampled %s read with %s", sampled, what, d.o.Serializer.Name())})
		}
		return
	}
	var gs []string
	for g, n := range guesses {
		gs = append(gs, fmt.Sprintf("%d look like %s", n, g))
	}
	sort.Strings(gs)
	msg := fmt.Sprintf("%d of %d sampled %s cannot be read with the configured serializer %s", len(bad), sampled, what, d.o.Serializer.Name())
	if len(gs) > 0 {
		msg += " (" + strings.Join(gs, ", ") + ")"
	}
	d.rep.add(Finding{Check: CheckSerializer, Severity: Problem, Queue: queue, JobIDs: firstN(bad), Message: msg,
		Fix: "give every producer and worker of the queue the same job_serializer (doctor: --serializer); a worker fails each job it cannot read"})
}

func (d *run) results(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	recs, err := d.rdb.Results(ctx, ids)
	if err != nil {
		d.fail(CheckSerializer, "", err)
		return
	}
	decode := func(s arqcompat.Serializer, b []byte) error { _, err := arqcompat.DecodeResult(s, b); return err }
	var bad []string
	guesses := map[string]int{}
	n := 0
	for _, r := range recs {
		if r.Data == nil {
			continue
		}
		n++
		if decode(d.o.Serializer, r.Data) != nil {
			bad = append(bad, r.JobID)
			if g := d.guess(r.Data, decode); g != "" {
				guesses[g]++
			}
		}
	}
	d.serializerFinding("", "results", bad, guesses, n)
}

// queueRecords samples the queue's records: the serializer check, and the
// functions no live worker has when every live goarq worker is
// OnlyOwnFunctions.
func (d *run) queueRecords(ctx context.Context, q string, workers []workerRecord, nowMS int64) {
	entries, err := d.rdb.ScanQueue(ctx, q, "-inf", "+inf", 0, d.o.Sample)
	if err != nil {
		d.fail(CheckSerializer, q, err)
		return
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	recs, err := d.rdb.JobRecords(ctx, ids)
	if err != nil {
		d.fail(CheckSerializer, q, err)
		return
	}
	decode := func(s arqcompat.Serializer, b []byte) error { _, err := arqcompat.DecodeJob(s, b); return err }
	var bad []string
	guesses := map[string]int{}
	n := 0
	unserved := map[string][]string{} // function -> ready ids
	own := len(workers) > 0
	has := map[string]bool{}
	for _, w := range workers {
		own = own && w.OnlyOwnFunctions
		for _, f := range w.Functions {
			has[f] = true
		}
	}
	for i, data := range recs {
		if data == nil {
			continue
		}
		n++
		j, err := arqcompat.DecodeJob(d.o.Serializer, data)
		if err != nil {
			bad = append(bad, ids[i])
			if g := d.guess(data, decode); g != "" {
				guesses[g]++
			}
			continue
		}
		if own && entries[i].Score <= nowMS && !has[j.Function] {
			unserved[j.Function] = append(unserved[j.Function], ids[i])
		}
	}
	d.serializerFinding(q, "jobs", bad, guesses, n)
	if !own {
		return
	}
	if len(unserved) == 0 {
		d.rep.add(Finding{Check: CheckOwnFuncs, Severity: OK, Queue: q, Message: "every sampled ready job has a live worker with its function"})
		return
	}
	var funcs, jobIDs []string
	for f, ids := range unserved {
		funcs = append(funcs, fmt.Sprintf("%s (%d)", f, len(ids)))
		jobIDs = append(jobIDs, ids...)
	}
	sort.Strings(funcs)
	sort.Strings(jobIDs)
	d.rep.add(Finding{Check: CheckOwnFuncs, Severity: Problem, Queue: q, JobIDs: firstN(jobIDs),
		Message: "ready jobs of functions no live goarq worker has, and every live goarq worker runs with OnlyOwnFunctions, so they wait until a worker with the function starts: " +
			strings.Join(funcs, ", ") + " (a Python arq worker on the queue, which doctor cannot see, would run them)",
		Fix: "start a worker that registers these functions, or abort the jobs"})
}

// headScan bounds the ready entries the oldest-ready check reads to find
// one that is not running.
const headScan = 100

func (d *run) oldest(ctx context.Context, q string, live bool, running map[string]bool, now time.Time) {
	h, err := d.rdb.QueueHead(ctx, q, now.UnixMilli(), headScan, nil)
	if err != nil {
		d.fail(CheckOldestReady, q, err)
		return
	}
	var id string
	var score float64
	for _, z := range h.Head {
		if m, _ := z.Member.(string); !running[m] {
			id, score = m, z.Score
			break
		}
	}
	if id == "" {
		msg := fmt.Sprintf("no ready job waits (%d deferred)", h.Total-h.Ready)
		if len(h.Head) > 0 {
			msg = fmt.Sprintf("no ready job waits: the first %d ready are running (%d deferred)", len(h.Head), h.Total-h.Ready)
		}
		d.rep.add(Finding{Check: CheckOldestReady, Severity: OK, Queue: q, Message: msg})
		return
	}
	age := now.Sub(time.UnixMilli(int64(score)))
	round := time.Millisecond
	if age > time.Minute {
		round = time.Second
	}
	msg := fmt.Sprintf("the oldest ready job that is not running has waited %s", age.Round(round))
	if age <= d.o.MaxReadyAge {
		d.rep.add(Finding{Check: CheckOldestReady, Severity: OK, Queue: q, Message: msg})
		return
	}
	fix := "add workers or raise max_jobs; look for a function that blocks"
	if !live {
		fix = "start a worker on the queue: none is alive"
	}
	d.rep.add(Finding{Check: CheckOldestReady, Severity: Problem, Queue: q, JobIDs: []string{id},
		Message: msg + fmt.Sprintf(", more than %s", d.o.MaxReadyAge), Fix: fix})
}

func firstN(ids []string) []string {
	if len(ids) > MaxIDs {
		return ids[:MaxIDs]
	}
	return ids
}
