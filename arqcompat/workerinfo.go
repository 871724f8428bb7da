package arqcompat

import "time"

// WorkerInfo is the heartbeat record a goarq worker keeps in Redis while it
// runs (key goarq:worker:<queue>:<id>, refreshed every few seconds and
// expiring a minute after the worker stops refreshing it; deleted on a clean
// stop). Python arq workers keep none: their sign of life is the queue's
// health-check line.
type WorkerInfo struct {
	ID      string `json:"id"`
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Version string `json:"version"` // goarq's module version ("(devel)" in a source build)
	Queue   string `json:"queue"`
	// Functions are the registered functions and cron jobs, sorted.
	Functions []string `json:"functions"`
	// MaxConcurrency holds the functions' per-function limits.
	MaxConcurrency   map[string]int `json:"max_concurrency,omitempty"`
	OnlyOwnFunctions bool           `json:"only_own_functions"`
	MaxJobs          int            `json:"max_jobs"`
	Running          int            `json:"running"`
	Complete         int            `json:"complete"`
	Failed           int            `json:"failed"`
	Retried          int            `json:"retried"`
	Started          time.Time      `json:"started"`
	LastPoll         time.Time      `json:"last_poll"`
	Updated          time.Time      `json:"updated"`
}
