package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/history"
)

func recorderFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "history-retention", Usage: "delete records finished longer ago than this (30d, 12h; default: keep)"},
		&cli.Int64Flag{Name: "history-max-rows", Usage: "keep at most this many records, the newest (default: no bound)"},
		&cli.DurationFlag{Name: "scan-interval", Value: time.Minute, Usage: "how often the SCAN backstop walks the kept results"},
	}
}

func recorderOptions(c *cli.Context, log *slog.Logger) (history.RecorderOptions, error) {
	o := history.RecorderOptions{Serializer: nil, ScanInterval: c.Duration("scan-interval"), Logger: log,
		Retention: history.Retention{MaxRows: c.Int64("history-max-rows")}}
	if v := c.String("history-retention"); v != "" {
		d, err := parseDays(v)
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
			return withClient(c, func(cl *client.Client) error {
				o.Serializer = cl.Serializer()
				return withHistory(c, func(s history.Store) error {
					rec := history.NewRecorder(cl.Redis(), s, o)
					fmt.Fprintf(c.App.Writer, "goarq recorder: recording results into %s\n", redactDSN(historyDSN(c)))
					if err := rec.Run(c.Context); err != nil {
						return cmdRedisError(c, err)
					}
					st := rec.Stats()
					fmt.Fprintf(c.App.Writer, "goarq recorder: stopped after recording %d results\n", st.Recorded)
					return nil
				})
			})
		},
	}
}
