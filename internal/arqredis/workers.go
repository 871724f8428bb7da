package arqredis

import (
	"context"
	"strings"
	"time"
)

// WorkerKeyPrefix starts the keys of goarq's worker records, in goarq's
// own namespace next to arq's keys: goarq:worker:<queue>:<worker id>.
const WorkerKeyPrefix = "goarq:worker:"

// WorkerKey is the key of a worker's record.
func WorkerKey(queue, workerID string) string { return WorkerKeyPrefix + queue + ":" + workerID }

// WriteWorker writes a worker's record: SET key record PX ttl.
func (r *RDB) WriteWorker(ctx context.Context, key string, record []byte, ttl time.Duration) error {
	return r.c.Set(ctx, key, record, ttl).Err()
}

// DeleteWorker removes a worker's record, as a worker does on a clean stop.
func (r *RDB) DeleteWorker(ctx context.Context, key string) error {
	return r.c.Del(ctx, key).Err()
}

// Workers reads the records of the live workers of queue: SCAN for
// goarq:worker:<queue>:*, then MGET. A record that expired between the two
// is left out.
func (r *RDB) Workers(ctx context.Context, queue string) ([][]byte, error) {
	prefix := WorkerKeyPrefix + queue + ":"
	var keys []string
	iter := r.c.Scan(ctx, 0, globEscape(prefix)+"*", readBatch).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		// a queue named "a" must not list the workers of queue "a:b"
		if !strings.Contains(strings.TrimPrefix(k, prefix), ":") {
			keys = append(keys, k)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	vals, err := r.mget(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := vals[:0]
	for _, v := range vals {
		if v != nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// globEscape escapes the characters SCAN MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
