package arqredis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
)

// The reads of `goarq doctor` (package doctor), and the eviction-policy
// read the worker's start warning and the exporter's gauge share. All are
// reads; doctor writes nothing.

// EvictionPolicy is the server's maxmemory-policy, from INFO memory
// (readable by a user without CONFIG). An embedded or proxied server that
// does not report it gives "".
func (r *RDB) EvictionPolicy(ctx context.Context) (string, error) {
	info, err := r.c.Info(ctx, "memory").Result()
	if err != nil {
		return "", err
	}
	p := infoField(info, "maxmemory_policy")
	if p == "?" {
		return "", nil
	}
	return p, nil
}

// ServerFacts are the server settings doctor checks.
type ServerFacts struct {
	Version         string // redis_version; "" when INFO does not say
	MaxmemoryPolicy string // "" when INFO does not say
	Maxmemory       int64
	AOF             bool // aof_enabled
	// RDBSave is CONFIG GET save ("" when RDB snapshots are off);
	// RDBSaveErr is set when CONFIG GET was refused (an ACL, a managed
	// Redis), and then RDBSave is unknown.
	RDBSave    string
	RDBSaveErr error
	// RDBLastSave is rdb_last_save_time.
	RDBLastSave time.Time
}

// ServerFacts reads INFO server, memory and persistence in one pipeline,
// then CONFIG GET save.
func (r *RDB) ServerFacts(ctx context.Context) (ServerFacts, error) {
	var server, mem, pers *redis.StringCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		server = p.Info(ctx, "server")
		mem = p.Info(ctx, "memory")
		pers = p.Info(ctx, "persistence")
		return nil
	})
	if err != nil {
		return ServerFacts{}, err
	}
	field := func(info, name string) string {
		if v := infoField(info, name); v != "?" {
			return v
		}
		return ""
	}
	f := ServerFacts{
		Version:         field(server.Val(), "redis_version"),
		MaxmemoryPolicy: field(mem.Val(), "maxmemory_policy"),
		AOF:             field(pers.Val(), "aof_enabled") == "1",
	}
	f.Maxmemory, _ = strconv.ParseInt(field(mem.Val(), "maxmemory"), 10, 64)
	if s, err := strconv.ParseInt(field(pers.Val(), "rdb_last_save_time"), 10, 64); err == nil && s > 0 {
		f.RDBLastSave = time.Unix(s, 0)
	}
	kv, err := r.c.ConfigGet(ctx, "save").Result()
	switch {
	case err != nil:
		f.RDBSaveErr = err
	case len(kv) == 0:
		f.RDBSaveErr = errors.New("CONFIG GET save returned nothing")
	default:
		f.RDBSave = strings.TrimSpace(kv["save"])
	}
	return f, nil
}

// ServerTime is Redis's TIME, with the instants of clock (the local
// clock, time.Now) just before the command was sent and just after its
// reply arrived.
func (r *RDB) ServerTime(ctx context.Context, clock func() time.Time) (server, sent, received time.Time, err error) {
	sent = clock()
	server, err = r.c.Time(ctx).Result()
	received = clock()
	return server, sent, received, err
}

// JobKeyIDs are the ids of a SCAN walk over arq's per-job keys.
type JobKeyIDs struct {
	InProgress, Retry []string
	// Results holds up to the limit given to ScanJobKeys.
	Results []string
}

// ScanJobKeys walks the keyspace once with SCAN MATCH arq:[ir]* (as
// KeyCensus) and keeps every in-progress and retry id, and up to
// resultLimit result ids.
func (r *RDB) ScanJobKeys(ctx context.Context, resultLimit int) (JobKeyIDs, error) {
	var ids JobKeyIDs
	err := r.scanJobKeys(ctx, func(prefix, id string) {
		switch prefix {
		case arqcompat.InProgressKeyPrefix:
			ids.InProgress = append(ids.InProgress, id)
		case arqcompat.RetryKeyPrefix:
			ids.Retry = append(ids.Retry, id)
		case arqcompat.ResultKeyPrefix:
			if len(ids.Results) < resultLimit {
				ids.Results = append(ids.Results, id)
			}
		}
	})
	return ids, err
}

// InProgressState is what doctor reads about one in-progress key.
type InProgressState struct {
	// TTL is the key's PTTL: -1 for none, -2 when the key is gone.
	TTL time.Duration
	// Scores holds the id's score in each queue asked about; Queued[i]
	// is false when it is not in queues[i].
	Scores []int64
	Queued []bool
	// HasJob reports whether arq:job:<id> exists.
	HasJob bool
}

// InProgressStates reads, in one pipeline per readBatch ids, PTTL
// arq:in-progress:<id>, EXISTS arq:job:<id> and ZSCORE <queue> <id> for
// each of queues.
func (r *RDB) InProgressStates(ctx context.Context, ids, queues []string) ([]InProgressState, error) {
	out := make([]InProgressState, len(ids))
	for start := 0; start < len(ids); start += readBatch {
		chunk := ids[start:min(start+readBatch, len(ids))]
		ttls := make([]*redis.DurationCmd, len(chunk))
		jobs := make([]*redis.IntCmd, len(chunk))
		scores := make([][]*redis.FloatCmd, len(chunk))
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range chunk {
				ttls[i] = p.PTTL(ctx, arqcompat.InProgressKey(id))
				jobs[i] = p.Exists(ctx, arqcompat.JobKey(id))
				scores[i] = make([]*redis.FloatCmd, len(queues))
				for j, q := range queues {
					scores[i][j] = p.ZScore(ctx, q, id)
				}
			}
			return nil
		})
		if err != nil && !IsNil(err) {
			return nil, err
		}
		for i := range chunk {
			st := &out[start+i]
			st.TTL = ttls[i].Val() // go-redis keeps PTTL's -1 and -2 as they are
			st.HasJob = jobs[i].Val() > 0
			st.Scores = make([]int64, len(queues))
			st.Queued = make([]bool, len(queues))
			for j := range queues {
				if s, err := scores[i][j].Result(); err == nil {
					st.Scores[j], st.Queued[j] = int64(s), true
				}
			}
		}
	}
	return out, nil
}

// OrphanRetries returns those of ids whose retry counter has neither a job
// record nor an in-progress key beside it: EXISTS arq:job:<id>
// arq:in-progress:<id>, pipelined. A worker deletes the counter when the
// job ends; one left behind makes a later job with the same id start at a
// later try.
func (r *RDB) OrphanRetries(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	for start := 0; start < len(ids); start += readBatch {
		chunk := ids[start:min(start+readBatch, len(ids))]
		cmds := make([]*redis.IntCmd, len(chunk))
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range chunk {
				cmds[i] = p.Exists(ctx, arqcompat.JobKey(id), arqcompat.InProgressKey(id))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i, c := range cmds {
			if c.Val() == 0 {
				out = append(out, chunk[i])
			}
		}
	}
	return out, nil
}
