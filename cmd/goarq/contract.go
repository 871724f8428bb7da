package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/contract"
)

// subcommand returns cmd's subcommand called name, or nil.
func subcommand(cmd *cli.Command, name string) *cli.Command {
	for _, s := range cmd.Subcommands {
		if s.HasName(name) {
			return s
		}
	}
	return nil
}

// contractCommand groups export and check: the typed contract between the
// Python and the Go side of a queue.
func contractCommand() *cli.Command {
	return &cli.Command{
		Name:  "contract",
		Usage: "export an arq app's job functions as a typed contract, or check two contracts against each other",
		Description: "A contract describes a worker's job functions (parameters, types, defaults, results) and the\n" +
			"models they use, in a versioned JSON schema (go doc github.com/goarq/goarq/contract).\n\n" +
			"Example:\n   goarq contract export --settings app.worker.WorkerSettings --python .venv/bin/python --out contract.json\n" +
			"   goarq contract check contract.json /tmp/now.json",
		Subcommands: []*cli.Command{
			{
				Name:  "export",
				Usage: "write the contract of a Python arq app's WorkerSettings (imports the app, connects to nothing)",
				Description: "Runs goarq's introspection program with the app's Python: it imports the settings,\n" +
					"reads every function's and cron job's signature and the pydantic models, dataclasses,\n" +
					"enums and NamedTuples they use, and writes the contract as JSON. While it runs, it\n" +
					"refuses network connections and process starts.\n\n" +
					"Example:\n   goarq contract export --settings app.worker.WorkerSettings --python .venv/bin/python --out contract.json",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "settings", Required: true, Usage: "the WorkerSettings, as arq's CLI takes it (app.worker.WorkerSettings)"},
					&cli.StringFlag{Name: "python", Value: "python3", Usage: "the Python to import the app with (the app's virtualenv)"},
					&cli.StringFlag{Name: "out", Usage: "write the contract to this file instead of stdout"},
				},
				OnUsageError: usageError,
				Action: func(c *cli.Context) error {
					ct, err := contract.Export(c.Context, c.String("settings"), contract.ExportOptions{Python: c.String("python")})
					if err != nil {
						return fail(exitNegative, "contract %v", err)
					}
					return writeOut(c, c.String("out"), ct.Write)
				},
			},
			{
				Name:      "check",
				Usage:     "compare two contracts; exit 1 with one line per difference when they disagree",
				ArgsUsage: "A.json B.json",
				Description: "A is the reference (the committed contract, or the side that enqueues), B the side\n" +
					"that runs the jobs or a fresh export. Prints one line per difference: a function one\n" +
					"side lacks, a parameter renamed, removed, retyped or added without a default, a model\n" +
					"field or enum member that no longer matches. Exit codes: 0 the contracts agree, 1 they\n" +
					"differ, 2 a file cannot be read.\n\n" +
					"Example (CI):\n   goarq contract export --settings app.worker.WorkerSettings --out /tmp/now.json\n" +
					"   goarq contract check contract.json /tmp/now.json",
				OnUsageError: usageError,
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return fail(exitUsage, "contract check: want two contract files, got %d arguments (see goarq contract check --help)", c.NArg())
					}
					a, err := contract.ReadFile(c.Args().Get(0))
					if err != nil {
						return fail(exitUsage, "%v", err)
					}
					b, err := contract.ReadFile(c.Args().Get(1))
					if err != nil {
						return fail(exitUsage, "%v", err)
					}
					diffs := contract.Check(a, b)
					if c.Bool("json") {
						lines := make([]string, len(diffs))
						for i, d := range diffs {
							lines[i] = d.String()
						}
						if err := printJSON(c, map[string]any{"differences": lines}); err != nil {
							return err
						}
					} else {
						for _, d := range diffs {
							fmt.Fprintln(c.App.Writer, d.String())
						}
					}
					if len(diffs) > 0 {
						return fail(exitNegative, "")
					}
					return nil
				},
			},
		},
	}
}

// genCommand generates typed code from a contract.
func genCommand() *cli.Command {
	return &cli.Command{
		Name:  "gen",
		Usage: "generate typed enqueue code from a contract: Go for Python jobs, Python for Go jobs",
		Description: "Example:\n   goarq gen go --contract contract.json --package jobs --out internal/jobs\n" +
			"   goarq gen python --contract go-contract.json --out app/go_jobs.py",
		Subcommands: []*cli.Command{
			{
				Name:  "go",
				Usage: "write a Go package with a typed Enqueue function per job, typed results and the models as Go types",
				Description: "Example:\n   goarq gen go --contract contract.json --package jobs --out internal/jobs\n\n" +
					"Writes DIR/<package>.go, gofmt-ed, and the same bytes for the same contract.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "contract", Required: true, Usage: "the contract file"},
					&cli.StringFlag{Name: "package", Required: true, Usage: "the Go package name"},
					&cli.StringFlag{Name: "out", Required: true, Usage: "the directory to write the package into"},
				},
				OnUsageError: usageError,
				Action: func(c *cli.Context) error {
					ct, err := contract.ReadFile(c.String("contract"))
					if err != nil {
						return fail(exitUsage, "%v", err)
					}
					src, err := contract.GenerateGo(ct, contract.GoOptions{Package: c.String("package"), ContractName: filepath.Base(c.String("contract"))})
					if err != nil {
						return fail(exitNegative, "gen go: %v", err)
					}
					if err := os.MkdirAll(c.String("out"), 0o755); err != nil {
						return fail(exitNegative, "gen go: %v", err)
					}
					path := filepath.Join(c.String("out"), c.String("package")+".go")
					return writeOut(c, path, func(w io.Writer) error { _, err := w.Write(src); return err })
				},
			},
			{
				Name:        "python",
				Usage:       "write a typed Python module with an enqueue_<job> coroutine per job (passes mypy --strict)",
				Description: "Example:\n   goarq gen python --contract go-contract.json --out app/go_jobs.py",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "contract", Required: true, Usage: "the contract file"},
					&cli.StringFlag{Name: "out", Usage: "the module's file; stdout when not given"},
				},
				OnUsageError: usageError,
				Action: func(c *cli.Context) error {
					ct, err := contract.ReadFile(c.String("contract"))
					if err != nil {
						return fail(exitUsage, "%v", err)
					}
					src, err := contract.GeneratePython(ct, contract.PythonOptions{ContractName: filepath.Base(c.String("contract"))})
					if err != nil {
						return fail(exitNegative, "gen python: %v", err)
					}
					return writeOut(c, c.String("out"), func(w io.Writer) error { _, err := w.Write(src); return err })
				},
			},
		},
	}
}

// writeOut writes to path (created or truncated), or to the app's stdout
// when path is "".
func writeOut(c *cli.Context, path string, write func(io.Writer) error) error {
	if path == "" {
		return write(c.App.Writer)
	}
	f, err := os.Create(path)
	if err != nil {
		return fail(exitNegative, "%v", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fail(exitNegative, "write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		return fail(exitNegative, "write %s: %v", path, err)
	}
	return nil
}
