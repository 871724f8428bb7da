package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/postgres"
	"github.com/goarq/goarq/history/sqlite"
)

// historyEnv names the history store when --history is not given.
const historyEnv = "GOARQ_HISTORY"

const defaultHistory = "goarq-history.db"

func historyFlag() cli.Flag {
	return &cli.StringFlag{Name: "history", Usage: "the history store: a SQLite file path (default $" + historyEnv +
		", else " + defaultHistory + ") or postgres://user:pass@host/db"}
}

// historyDSN is --history, else $GOARQ_HISTORY, else the default file.
func historyDSN(c *cli.Context) string {
	if v := c.String("history"); v != "" {
		return v
	}
	if v := os.Getenv(historyEnv); v != "" {
		return v
	}
	return defaultHistory
}

// openHistory opens the store a --history value names.
func openHistory(ctx context.Context, dsn string) (history.Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"))
}

// oneLine is err's message on one line: pgx writes one line per address
// it tried ("failed to connect to ...:\n\t127.0.0.1:5432 ...: dial error"),
// and the CLI's errors are one line each.
func oneLine(err error) string {
	var b strings.Builder
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if s := b.String(); s != "" && !strings.HasSuffix(s, ":") {
			b.WriteString(";")
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// redactDSN hides a password in a postgres:// DSN.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "***")
			return u.String()
		}
	}
	return dsn
}

// withHistory opens the store and runs fn. Only a command that writes
// into the store (the recorder, retry's sync of kept results) creates a
// SQLite store: one that only reads it (history, retry --no-sync) refuses
// a file that is not there, rather than reading a new, empty store and
// reporting nothing.
func withHistory(c *cli.Context, create bool, fn func(s history.Store) error) error {
	dsn := historyDSN(c)
	if !create && !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		path := strings.TrimPrefix(dsn, "sqlite:")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return fail(exitUsage, "no history store at %s: goarq recorder --history %s creates it; name an existing store with --history or $%s",
				path, path, historyEnv)
		}
	}
	s, err := openHistory(c.Context, dsn)
	if err != nil {
		return fail(exitUsage, "--history: %s", oneLine(err))
	}
	defer s.Close()
	return fn(s)
}

func filterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "function", Usage: "only this function"},
		&cli.StringFlag{Name: "exception", Usage: "only failures with this exception class (ValueError, mymodule.MyError)"},
		&cli.StringFlag{Name: "since", Usage: "finished at or after: a duration back (2h, 7d) or a time (RFC 3339)"},
		&cli.StringFlag{Name: "until", Usage: "finished before: a duration back or a time"},
		&cli.StringFlag{Name: "job-id", Usage: "only this job id"},
		&cli.StringFlag{Name: "text", Usage: "only calls whose arguments, as Python prints them, contain this text (exactly, case included)"},
	}
}

func filterFrom(c *cli.Context) (history.Filter, error) {
	now := time.Now()
	f := history.Filter{Function: c.String("function"), ExcClass: c.String("exception"),
		JobID: c.String("job-id"), Text: c.String("text")}
	var err error
	if f.Since, err = history.ParseWhen(c.String("since"), now); err != nil {
		return f, fail(exitUsage, "--since: %v", err)
	}
	if f.Until, err = history.ParseWhen(c.String("until"), now); err != nil {
		return f, fail(exitUsage, "--until: %v", err)
	}
	return f, nil
}

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "list recorded job results, newest first (see goarq recorder)",
		ArgsUsage: " ",
		Flags: append(filterFlags(), historyFlag(),
			&cli.BoolFlag{Name: "failed", Usage: "only failures"},
			&cli.BoolFlag{Name: "succeeded", Usage: "only successes"},
			&cli.IntFlag{Name: "limit", Value: 50, Usage: "records per page (at most 1000)"},
			&cli.StringFlag{Name: "before", Usage: "the next page: the cursor the previous page printed"}),
		Description: "Examples:\n   goarq history --failed --function send_email --since 2h\n" +
			"   goarq history --exception ValueError --text user_42 --json",
		Action: func(c *cli.Context) error {
			f, err := filterFrom(c)
			if err != nil {
				return err
			}
			if c.Bool("failed") && c.Bool("succeeded") {
				return fail(exitUsage, "--failed and --succeeded exclude each other")
			}
			if c.Bool("failed") || c.Bool("succeeded") {
				ok := c.Bool("succeeded")
				f.Success = &ok
			}
			f.Limit = c.Int("limit")
			if b := c.String("before"); b != "" {
				ms, id, ok := strings.Cut(b, ":")
				var e1, e2 error
				f.Before.FinishMS, e1 = strconv.ParseInt(ms, 10, 64)
				f.Before.ID, e2 = strconv.ParseInt(id, 10, 64)
				if !ok || e1 != nil || e2 != nil {
					return fail(exitUsage, "--before: want the FINISH_MS:ID cursor a page printed, got %q", b)
				}
			}
			return withHistory(c, false, func(s history.Store) error {
				p, err := s.Query(c.Context, f)
				if err != nil {
					return fail(exitNegative, "%v", err)
				}
				next := ""
				if !p.Next.IsZero() {
					next = fmt.Sprintf("%d:%d", p.Next.FinishMS, p.Next.ID)
				}
				if c.Bool("json") {
					recs := p.Records
					if recs == nil {
						recs = []history.Record{}
					}
					return printJSON(c, map[string]any{"records": recs, "next": next})
				}
				printRecords(c, p.Records)
				if next != "" {
					fmt.Fprintf(c.App.Writer, "more: --before %s\n", next)
				}
				return nil
			})
		},
	}
}

func printRecords(c *cli.Context, recs []history.Record) {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FINISHED\tJOB ID\tQUEUE\tFUNCTION\tTRY\tRUN\tOUTCOME\tCALL\tLINK")
	for _, r := range recs {
		outcome := "ok"
		switch {
		case r.Undecodable != "":
			outcome = "undecodable"
		case !r.Success && r.ExcClass != "":
			outcome = r.ExcClass
		case !r.Success:
			outcome = "failed"
		}
		link := ""
		if r.OriginJobID != "" {
			link = "retry of " + r.OriginJobID
		}
		if r.RetriedAs != "" {
			link = strings.TrimPrefix(link+"; retried as "+r.RetriedAs, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Finish().Format("2006-01-02 15:04:05.000"), r.JobID, r.Queue,
			r.Function, r.Try, r.Run(), outcome, clip(r.Function+"("+r.Args+")", 60), link)
	}
	_ = tw.Flush()
}
