// Command goarq sees and steers arq queues from a shell, for queues fed by
// Python or Go, and runs the goarq demo.
//
//	goarq [--redis URL] [--queue NAME] [--serializer S] [--json] COMMAND [flags] [ARGS]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
)

// Exit codes, the same for every command.
const (
	exitOK        = 0
	exitNegative  = 1 // the job failed, was not aborted, is not found; the worker is unhealthy
	exitUsage     = 2 // a bad argument or flag
	exitDuplicate = 3 // enqueue: a job with this id exists
	exitRedis     = 4 // Redis cannot be reached or answered with an error
)

func main() {
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code and a one-line message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func fail(code int, format string, a ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, a...)}
}

// run builds and runs the app; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, intersperse(app, args))
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "goarq: "+ee.msg)
		}
		return ee.code
	}
	// urfave/cli's own errors: unknown flags, missing arguments
	fmt.Fprintln(stderr, "goarq: "+err.Error())
	return exitUsage
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                 "goarq",
		Usage:                "see and steer arq job queues (Python arq or goarq workers) from a shell",
		UsageText:            "goarq [global options] command [command options] [arguments...]",
		EnableBashCompletion: true,
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run() prints errors and picks the code
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "redis", Usage: "Redis URL, with arq's DSN rules (redis://, rediss://, unix://, /db or ?db=); " +
				"default: $ARQ_REDIS_URL, else $REDIS_URL, else redis://localhost:6379/0"},
			&cli.StringFlag{Name: "queue", Usage: "queue name", Value: arqcompat.DefaultQueueName},
			&cli.StringFlag{Name: "serializer", Usage: "pickle, json or msgpack (as the Python side's job_serializer)", Value: "pickle"},
			&cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON"},
			&cli.StringFlag{Name: "tls-ca", Usage: "rediss://: CA bundle to verify the server with (arq's ssl_ca_certs)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "rediss://: client certificate (arq's ssl_certfile)"},
			&cli.StringFlag{Name: "tls-key", Usage: "rediss://: client key (arq's ssl_keyfile)"},
			&cli.BoolFlag{Name: "tls-check-hostname", Usage: "rediss://: also check the server's name (arq's ssl_check_hostname)"},
			&cli.StringSliceFlag{Name: "sentinel", Usage: "find the master through these Sentinels (host:port, repeat or comma-separate; " +
				"arq's sentinel=True with a host list); --redis then gives only db, user and password"},
			&cli.StringFlag{Name: "sentinel-master", Usage: "the master's name in Sentinel (arq's sentinel_master)", Value: "mymaster"},
		},
		Commands: []*cli.Command{
			enqueueCommand(), statusCommand(), resultCommand(), infoCommand(), abortCommand(),
			jobsCommand(), resultsCommand(), statsCommand(), healthCommand(), demoCommand(),
			workersCommand(),
		},
	}
}

// connect dials Redis once, without arq's retries, so that a wrong URL
// fails fast with the address and no password.
func connect(c *cli.Context) (*client.Client, error) {
	ser, err := arqcompat.SerializerByName(c.String("serializer"))
	if err != nil {
		return nil, fail(exitUsage, "%v", err)
	}
	rs, err := settingsFrom(c)
	if err != nil {
		return nil, err
	}
	cl, err := client.Dial(c.Context, rs, client.Options{QueueName: c.String("queue"), Serializer: ser,
		Logger: quietLogger()})
	if err != nil {
		return nil, redisError(rs, err)
	}
	return cl, nil
}

func redisError(rs client.RedisSettings, err error) error {
	var ce *client.ConnectionError
	if errors.As(err, &ce) {
		msg := ce.Err.Error()
		if rs.Password != "" {
			msg = strings.ReplaceAll(msg, rs.Password, "***")
		}
		return fail(exitRedis, "cannot connect to Redis at %s: %s", ce.Addr, msg)
	}
	return fail(exitRedis, "redis at %s: %v", rs.Addr(), err)
}

// cmdRedisError wraps an error from a command that ran after connecting.
func cmdRedisError(c *cli.Context, err error) error {
	rs, _ := settingsFrom(c)
	var dec *arqcompat.DecodeError
	if errors.As(err, &dec) || errors.Is(err, arqcompat.ErrRecord) {
		return fail(exitNegative, "%v", err)
	}
	return redisError(rs, err)
}

func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func oneArg(c *cli.Context, name string) (string, error) {
	if c.NArg() != 1 {
		return "", fail(exitUsage, "%s: want exactly one %s, got %d arguments (see goarq %s --help)", c.Command.Name, name, c.NArg(), c.Command.Name)
	}
	return c.Args().First(), nil
}

// redisURL is --redis, else $ARQ_REDIS_URL, else $REDIS_URL (empty values
// skipped), else redis://localhost:6379/0. explicit says whether the user
// named a Redis at all.
func redisURL(c *cli.Context) (url string, explicit bool) {
	if v := c.String("redis"); v != "" {
		return v, true
	}
	for _, env := range []string{"ARQ_REDIS_URL", "REDIS_URL"} {
		if v := os.Getenv(env); v != "" {
			return v, true
		}
	}
	return "redis://localhost:6379/0", false
}

// intersperse lets a command's flags follow its arguments ("enqueue f 1
// --job-id x"), which urfave/cli v2 does not parse: it moves them ahead of
// the first argument. Words after "--" stay arguments.
func intersperse(app *cli.App, args []string) []string {
	isFlag := func(s string) bool {
		return strings.HasPrefix(s, "-") && len(s) > 1 && !(s[1] >= '0' && s[1] <= '9') && s[1] != '.'
	}
	// find the command
	i := 1
	for i < len(args) && isFlag(args[i]) {
		name := strings.TrimLeft(args[i], "-")
		if !strings.Contains(name, "=") && takesValue(app.Flags, name) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return args
	}
	head := append([]string{}, args[:i+1]...)
	var flags, positional []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j:]...)
			break
		}
		if isFlag(a) {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue(cmd.Flags, name) && j+1 < len(rest) {
				flags = append(flags, rest[j+1])
				j++
			}
			continue
		}
		positional = append(positional, a)
	}
	return append(append(head, flags...), positional...)
}

func takesValue(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}

// settingsFrom parses the Redis URL and applies the TLS flags, without
// arq's connection retries (a command fails fast).
func settingsFrom(c *cli.Context) (client.RedisSettings, error) {
	url, _ := redisURL(c)
	rs, err := client.ParseDSN(url)
	if err != nil {
		return rs, fail(exitUsage, "--redis: %v", err)
	}
	rs.ConnRetries = 0
	rs.SSLCACerts, rs.SSLCertfile, rs.SSLKeyfile = c.String("tls-ca"), c.String("tls-cert"), c.String("tls-key")
	rs.SSLCheckHostname = c.Bool("tls-check-hostname")
	if addrs := c.StringSlice("sentinel"); len(addrs) > 0 {
		rs.Sentinel, rs.SentinelAddrs, rs.SentinelMaster = true, addrs, c.String("sentinel-master")
	}
	return rs, nil
}
