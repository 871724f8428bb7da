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
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
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
	exitTimeout   = 5 // result, enqueue --wait: no result within the timeout
)

func main() {
	log.SetFlags(0)
	// go-redis's own lines (a failed dial) would repeat, on stderr, the one
	// clear line the command prints for a Redis error
	redis.SetLogger(quietRedisLogs{})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// quietRedisLogs is a go-redis logger that drops its lines.
type quietRedisLogs struct{}

func (quietRedisLogs) Printf(context.Context, string, ...any) {}

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

// buildVersion and buildCommit are set at link time by scripts/wheels.sh
// (-ldflags "-X main.buildVersion=... -X main.buildCommit=...").
var buildVersion, buildCommit string

// version is what --version prints: the version the build was stamped
// with, else the module version (go install ...@vX.Y.Z), else "devel" with
// the commit the toolchain recorded, if any.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	v := buildVersion
	if v == "" && ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	commit := buildCommit
	if commit == "" && ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value[:min(12, len(s.Value))]
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if commit != "" {
		v += " (commit " + commit + ")"
	}
	return v
}

// usageError makes urfave/cli's flag errors one line with a pointer to
// --help, instead of the error followed by the whole help page.
func usageError(c *cli.Context, err error, isSubcommand bool) error {
	help := "goarq --help"
	if isSubcommand && c.Command != nil && c.Command.Name != "" {
		help = "goarq " + c.Command.Name + " --help"
	}
	return fail(exitUsage, "%v (see %s)", err, help)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "goarq",
		Usage:                "see and steer arq job queues (Python arq or goarq workers) from a shell",
		UsageText:            "goarq [global options] command [command options] [arguments...]",
		Version:              version(),
		EnableBashCompletion: true,
		// a repeated flag's value passes whole: --kwarg 'cols=["a","b"]'
		// is one JSON value; flags documented as comma-separated
		// (--sentinel, --queues) split with commaList
		DisableSliceFlagSeparator: true,
		Writer:                    stdout,
		ErrWriter:                 stderr,
		ExitErrHandler:            func(*cli.Context, error) {}, // run() prints errors and picks the code
		OnUsageError:              usageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fail(exitUsage, "no command %q (see goarq --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
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
			dashboardCommand(), exporterCommand(), workersCommand(), doctorCommand(), aclCommand(),
			contractCommand(), genCommand(), recorderCommand(), historyCommand(), retryCommand(),
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = usageError
		cmd.Description += "\n\nGlobal options (--redis, --queue, --json, --serializer, ...) may also follow the command."
	}
	return app
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
	if strings.Contains(err.Error(), "NOPERM ") { // a Redis ACL refusal, wrapped or not
		return fail(exitRedis, "redis at %s: %v\n"+
			"this Redis user's ACL does not allow that command: `goarq doctor --acl-user USER --role ROLE` lists what a role lacks, "+
			"and `goarq acl --role ROLE` prints the rule it needs (stats, jobs, results and workers read as the dashboard-read-only role)",
			rs.Addr(), err)
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

// intersperse lets flags follow the command and its arguments, which
// urfave/cli v2 does not parse: "enqueue f 1 --job-id x --redis URL"
// becomes "--redis URL enqueue --job-id x -- f 1". A global flag after the
// command moves ahead of it; the command's flags move ahead of its
// arguments; "--" ends the flags, and the arguments follow one "--" so
// that one starting with "-" (a negative number) stays an argument and
// "--" itself is never one.
func intersperse(app *cli.App, args []string) []string {
	isFlag := func(s string) bool {
		return strings.HasPrefix(s, "-") && len(s) > 1 && s != "--" && !(s[1] >= '0' && s[1] <= '9') && s[1] != '.'
	}
	flagName := func(s string) (name string, inline bool) {
		name, _, inline = strings.Cut(strings.TrimLeft(s, "-"), "=")
		return name, inline
	}
	// find the command
	i := 1
	for i < len(args) && isFlag(args[i]) {
		if name, inline := flagName(args[i]); !inline && takesValue(app.Flags, name) {
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
	global := append([]string{}, args[:i]...)
	var flags, positional []string
	path, rest := args[i:i+1], args[i+1:]
	for len(rest) > 0 && subcommand(cmd, rest[0]) != nil { // goarq contract export ...
		cmd, path, rest = subcommand(cmd, rest[0]), args[i:len(path)+i+1], rest[1:]
	}
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j+1:]...)
			break
		}
		if !isFlag(a) {
			positional = append(positional, a)
			continue
		}
		name, inline := flagName(a)
		dst := &flags
		if !hasFlag(cmd.Flags, name) && hasFlag(app.Flags, name) {
			dst = &global
		}
		*dst = append(*dst, a)
		if !inline && (takesValue(cmd.Flags, name) || dst == &global && takesValue(app.Flags, name)) && j+1 < len(rest) {
			*dst = append(*dst, rest[j+1])
			j++
		}
	}
	out := append(append(global, path...), flags...)
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out
}

func hasFlag(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
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

// commaList is a repeatable flag whose values may also be comma-separated
// ("a,b" or "a" "b"), blanks dropped.
func commaList(c *cli.Context, name string) []string {
	var out []string
	for _, v := range c.StringSlice(name) {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// settingsFrom parses the Redis URL and applies the TLS flags, without
// arq's connection retries (a command fails fast).
func settingsFrom(c *cli.Context) (client.RedisSettings, error) {
	url, _ := redisURL(c)
	rs, err := client.ParseDSN(url)
	if err != nil {
		return rs, fail(exitUsage, "--redis: %v", err)
	}
	if rs.UnixSocketPath == "" && (rs.Port < 1 || rs.Port > 65535) {
		return rs, fail(exitUsage, "--redis: port %d out of range 1-65535", rs.Port)
	}
	rs.ConnRetries = 0
	rs.SSLCACerts, rs.SSLCertfile, rs.SSLKeyfile = c.String("tls-ca"), c.String("tls-cert"), c.String("tls-key")
	rs.SSLCheckHostname = c.Bool("tls-check-hostname")
	if addrs := commaList(c, "sentinel"); len(addrs) > 0 {
		rs.Sentinel, rs.SentinelAddrs, rs.SentinelMaster = true, addrs, c.String("sentinel-master")
	}
	return rs, nil
}
