// Maintenance's heartbeat record (see maintenance.go).

package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"runtime/debug"
	"sort"
	"sync/atomic"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
)

// The worker's heartbeat record (arqcompat.WorkerInfo): refreshed every
// heartbeatEvery while the worker polls, expiring heartbeatTTL after the
// last refresh, deleted on a clean stop.
const (
	heartbeatEvery = 5 * time.Second
	heartbeatTTL   = 60 * time.Second
)

// heartbeat is maintenance's state of the heartbeat record.
type heartbeat struct {
	id       string
	started  time.Time
	last     time.Time    // the last write; only maintenance's tick touches it
	lastPoll atomic.Int64 // Unix ns, as precise as started: a poll in the millisecond of the start is not before it
}

// ID is the worker's id in its heartbeat record; it is set when Run starts.
func (w *Worker) ID() string { return w.maint.id() }

// id is the worker's id in its heartbeat record, set by start.
func (m *maintenance) id() string { return m.beat.id }

func newWorkerID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func goarqVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if bi.Main.Path == "github.com/goarq/goarq" {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/goarq/goarq" {
			return d.Version
		}
	}
	return "unknown"
}

func (m *maintenance) workerKey() string { return arqredis.WorkerKey(m.w.s.QueueName, m.beat.id) }

// info is the worker's heartbeat record now.
func (m *maintenance) info(now time.Time) arqcompat.WorkerInfo {
	w := m.w
	host, _ := os.Hostname()
	st := w.Stats()
	names := make([]string, 0, len(w.funcs))
	var limits map[string]int
	for n, f := range w.funcs {
		names = append(names, n)
		if f.MaxConcurrency > 0 {
			if limits == nil {
				limits = map[string]int{}
			}
			limits[n] = f.MaxConcurrency
		}
	}
	sort.Strings(names)
	return arqcompat.WorkerInfo{ID: m.beat.id, Host: host, PID: os.Getpid(), Version: goarqVersion(), Queue: w.s.QueueName,
		Functions: names, MaxConcurrency: limits, OnlyOwnFunctions: w.s.OnlyOwnFunctions, MaxJobs: w.s.MaxJobs,
		Running: st.Ongoing, Complete: st.Complete, Failed: st.Failed, Retried: st.Retried,
		Started: m.beat.started, LastPoll: time.Unix(0, m.beat.lastPoll.Load()), Updated: now}
}

// writeHeartbeat refreshes the heartbeat record when it is due.
func (m *maintenance) writeHeartbeat(ctx context.Context) error {
	now := time.Now()
	if now.Sub(m.beat.last) < heartbeatEvery {
		return nil
	}
	m.beat.last = now
	data, err := json.Marshal(m.info(now))
	if err != nil {
		return err
	}
	return m.w.store.WriteWorker(ctx, m.workerKey(), data, heartbeatTTL)
}
