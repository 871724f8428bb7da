package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/history"
)

// recorderMemLimit is the soft memory limit of goarq recorder's Go heap,
// unless $GOMEMLIMIT sets one (SQLite's page caches, 2×8 MiB, are outside it).
const recorderMemLimit = 40 << 20

// defaultMaxRate paces goarq recorder: during a burst it stages about
// 12,000 results a second (a share of the job ids) and leaves the rest in
// Redis until the burst ends, and the rest of the CPU and of Redis to
// workers on the same machine (README "History", "Scale").
const defaultMaxRate = 12_000

// defaultYieldAbove is the write rate (results a second) above which goarq
// recorder treats the writes as a burst: it stages their raw bytes in the
// store (cheap: no decode, no index) and promotes them when the burst
// ends; with --stage=false it yields to the workers instead: it stops
// tracking and reading until the burst ends (or --max-lag passes), then
// catches up with one SCAN pass.
const defaultYieldAbove = 10_000

func recorderFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "history-retention", Usage: "delete records finished longer ago than this (30d, 12h; default: keep)"},
		&cli.Int64Flag{Name: "history-max-rows", Usage: "keep at most this many records, the newest (default: no bound)"},
		&cli.DurationFlag{Name: "scan-interval", Value: time.Minute, Usage: "how often the SCAN backstop walks the kept results"},
		&cli.Float64Flag{Name: "max-rate", Value: defaultMaxRate, Usage: "store at most this many results per second while less than --max-lag behind, " +
			"so that workers on the same machine keep the CPU during a burst (the results wait in Redis); a burst faster than this is staged " +
			"through a share of the job ids (their first hex digit) sized to it, the rest read after the burst; 0: no pacing"},
		&cli.DurationFlag{Name: "max-lag", Value: time.Minute, Usage: "past this lag the recorder stores at full speed; keep it well under keep_result"},
		&cli.Float64Flag{Name: "yield-above", Value: defaultYieldAbove, Usage: "while workers write more results a second than this (a burst), stage them raw " +
			"and promote them into records when the rate falls (or, with --stage=false, stop tracking and reading and catch up with one SCAN pass " +
			"when the rate falls or --max-lag passes); 0: treat no rate as a burst"},
		&cli.BoolFlag{Name: "stage", Value: true, Usage: "during a burst, keep reading and stage the raw results (durable, not visible to queries " +
			"until promoted); false: yield to the burst instead (the results wait in Redis)"},
	}
}

func recorderOptions(c *cli.Context, log *slog.Logger) (history.RecorderOptions, error) {
	o := history.RecorderOptions{Serializer: nil, ScanInterval: c.Duration("scan-interval"), Logger: log,
		Retention: history.Retention{MaxRows: c.Int64("history-max-rows")}, MaxRate: c.Float64("max-rate"), MaxLag: c.Duration("max-lag"),
		YieldAbove: c.Float64("yield-above"), NoStage: !c.Bool("stage")}
	if o.MaxRate < 0 || o.MaxLag < 0 || o.YieldAbove < 0 {
		return o, fail(exitUsage, "--max-rate, --max-lag and --yield-above must not be negative")
	}
	if v := c.String("history-retention"); v != "" {
		d, err := history.ParseDuration(v)
		if err != nil {
			return o, fail(exitUsage, "--history-retention: %v", err)
		}
		o.Retention.MaxAge = d
	}
	if o.Retention.MaxRows < 0 {
		return o, fail(exitUsage, "--history-max-rows: must not be negative")
	}
	return o, nil
}

func recorderCommand() *cli.Command {
	return &cli.Command{
		Name:  "recorder",
		Usage: "record every job result any worker writes (Python or Go) into a durable history",
		Flags: append(recorderFlags(), historyFlag()),
		Description: "Runs until interrupted. Results are seen as they are written (client tracking on arq:result:),\n" +
			"   with a SCAN pass as backstop, and recorded once each (job id + start time).\n\nExample:\n" +
			"   goarq recorder --history /var/lib/goarq/history.db --history-retention 30d",
		Action: func(c *cli.Context) error {
			log := slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
			o, err := recorderOptions(c, log)
			if err != nil {
				return err
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				// batches, the pending ids and SQLite's page cache are most
				// of the heap; a soft limit keeps garbage from doubling it
				debug.SetMemoryLimit(recorderMemLimit)
			}
			return withClient(c, func(cl *client.Client) error {
				o.Serializer = cl.Serializer()
				return withHistory(c, true, func(s history.Store) error {
					rec := history.NewRecorder(cl, s, o)
					fmt.Fprintf(c.App.Writer, "goarq recorder: recording results into %s\n", redactDSN(historyDSN(c)))
					if err := rec.Run(c.Context); err != nil {
						return cmdRedisError(c, err)
					}
					st := rec.Stats()
					fmt.Fprintf(c.App.Writer, "goarq recorder: stopped after recording %d results with %d Redis commands (%d SCAN passes)\n",
						st.Recorded, st.Commands, st.Scans)
					return nil
				})
			})
		},
	}
}

// dashHistory is the recorder goarq dashboard --history runs beside the
// dashboard, and its store.
type dashHistory struct {
	c      *cli.Context
	store  history.Store
	cancel context.CancelFunc
	done   chan struct{}
}

// startHistory opens the store of goarq dashboard --history (nil without
// the flag); stop ends the recorder and closes the store.
func startHistory(c *cli.Context) (*dashHistory, func(), error) {
	if c.String("history") == "" {
		return nil, func() {}, nil
	}
	s, err := openHistory(c.Context, c.String("history"))
	if err != nil {
		return nil, nil, fail(exitUsage, "--history: %s", oneLine(err))
	}
	h := &dashHistory{c: c, store: s}
	return h, func() {
		if h.cancel != nil {
			h.cancel()
			<-h.done
		}
		s.Close()
	}, nil
}

// record starts the recorder on the dashboard's client.
func (h *dashHistory) record(cl *client.Client) {
	log := slog.New(slog.NewTextHandler(h.c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// goarq recorder's defaults: paced, and staging a burst
	rec := history.NewRecorder(cl, h.store, history.RecorderOptions{Serializer: cl.Serializer(), Logger: log,
		MaxRate: defaultMaxRate, MaxLag: time.Minute, YieldAbove: defaultYieldAbove})
	ctx, cancel := context.WithCancel(h.c.Context)
	h.cancel = cancel
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		if err := rec.Run(ctx); err != nil {
			log.Error("history recorder stopped", "error", err)
		}
	}()
}

func (h *dashHistory) storeOrNil() history.Store {
	if h == nil {
		return nil
	}
	return h.store
}
