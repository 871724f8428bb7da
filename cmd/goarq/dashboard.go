package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/arqprom"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/dashboard"
	"github.com/goarq/goarq/inspect"
)

// memLimit is the soft memory limit of the dashboard and the exporter,
// unless $GOMEMLIMIT sets one.
const memLimit = 64 << 20

// authEnv holds user:password for --basic-auth when the flag is not given.
const authEnv = "GOARQ_DASHBOARD_AUTH"

func webFlags(defaultAddr string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: defaultAddr, Usage: "listen on this address (loopback by default)"},
		&cli.StringSliceFlag{Name: "queues", Usage: "queues to show (repeat or comma-separate; default: --queue)"},
		&cli.StringFlag{Name: "basic-auth", Usage: "require HTTP basic auth user:password (default: $" + authEnv + ")"},
		&cli.BoolFlag{Name: "insecure-no-auth", Usage: "allow a non-loopback --addr without --basic-auth"},
		&cli.DurationFlag{Name: "cache-ttl", Value: 5 * time.Second, Usage: "refresh the index of kept results at most this often (0: on every request)"},
	}
}

func dashboardCommand() *cli.Command {
	return &cli.Command{
		Name:  "dashboard",
		Usage: "serve a web dashboard of the queues (and their metrics at /metrics)",
		Flags: append(webFlags("127.0.0.1:8080"),
			&cli.BoolFlag{Name: "read-only", Usage: "no actions (abort, re-enqueue, delete result)"},
			&cli.BoolFlag{Name: "no-metrics", Usage: "do not serve /metrics"},
			&cli.DurationFlag{Name: "refresh", Value: 10 * time.Second, Usage: "the overview, jobs and results pages reload this often (0: never; a page's ?refresh=SECONDS overrides it)"},
			&cli.StringFlag{Name: "history", Usage: "record results into this history store (SQLite path or postgres://…) and serve its History page"}),
		Description: "Example:\n   GOARQ_DASHBOARD_AUTH=admin:secret goarq dashboard --addr 0.0.0.0:8080 --queues arq:queue,emails",
		Action: func(c *cli.Context) error {
			hist, stop, err := startHistory(c)
			if err != nil {
				return err
			}
			defer stop()
			return serveWeb(c, "dashboard", func(in *inspect.Inspector, queues []string, user, pass string) (http.Handler, error) {
				if hist != nil {
					hist.record(in.Client())
				}
				o := dashboard.Options{Inspector: in, Queues: queues, ReadOnly: c.Bool("read-only"),
					User: user, Password: pass, Refresh: refreshOption(c.Duration("refresh")), Logger: quietLogger(),
					History: hist.storeOrNil()}
				if !c.Bool("no-metrics") {
					var err error
					if o.Metrics, err = arqprom.Handler(in, queues...); err != nil {
						return nil, err
					}
				}
				return dashboard.New(o)
			})
		},
	}
}

func exporterCommand() *cli.Command {
	return &cli.Command{
		Name:        "exporter",
		Usage:       "serve the queues' Prometheus metrics at /metrics",
		Flags:       webFlags("127.0.0.1:9187"),
		Description: "Example:\n   goarq exporter --addr 127.0.0.1:9187 --queues arq:queue",
		Action: func(c *cli.Context) error {
			return serveWeb(c, "exporter", func(in *inspect.Inspector, queues []string, user, pass string) (http.Handler, error) {
				m, err := arqprom.Handler(in, queues...)
				if err != nil {
					return nil, err
				}
				mux := http.NewServeMux()
				mux.Handle("GET /metrics", m)
				return basicAuth(mux, user, pass), nil
			})
		},
	}
}

// refreshOption maps --refresh 0 (never) to dashboard.Options' negative.
func refreshOption(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// basicAuth wraps h with the dashboard's auth check when user is set.
func basicAuth(h http.Handler, user, pass string) http.Handler {
	if user == "" {
		return h
	}
	return dashboard.BasicAuth(h, user, pass)
}

func serveWeb(c *cli.Context, what string, build func(in *inspect.Inspector, queues []string, user, pass string) (http.Handler, error)) error {
	addr := c.String("addr")
	auth := c.String("basic-auth")
	if auth == "" {
		auth = os.Getenv(authEnv)
	}
	var user, pass string
	if auth != "" {
		var ok bool
		if user, pass, ok = strings.Cut(auth, ":"); !ok || user == "" {
			return fail(exitUsage, "--basic-auth: want user:password")
		}
	}
	loop, err := isLoopback(addr)
	if err != nil {
		return fail(exitUsage, "--addr: %v", err)
	}
	if !loop && user == "" && !c.Bool("insecure-no-auth") {
		return fail(exitUsage, "--addr %s is not a loopback address: give --basic-auth user:password (or $%s), or --insecure-no-auth", addr, authEnv)
	}
	queues := commaList(c, "queues")
	if len(queues) == 0 {
		queues = []string{c.String("queue")}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// the results index is most of the live heap; a soft limit keeps
		// the garbage of its refreshes from doubling the process's size
		debug.SetMemoryLimit(memLimit)
	}
	return withClient(c, func(cl *client.Client) error {
		ttl := c.Duration("cache-ttl")
		if ttl <= 0 {
			ttl = -1
		}
		in := inspect.New(cl, inspect.Options{CacheTTL: ttl})
		if err := in.Ping(c.Context); err != nil {
			return cmdRedisError(c, err)
		}
		h, err := build(in, queues, user, pass)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
		fmt.Fprintf(c.App.Writer, "goarq %s listening on http://%s\n", what, ln.Addr())
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return fail(exitRedis, "%v", err)
		case <-c.Context.Done():
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fail(exitRedis, "%v", err)
		}
		return nil
	})
}

// isLoopback reports whether addr (host:port) binds loopback only: an
// empty host binds every interface.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}
