package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ExportOptions configure Export.
type ExportOptions struct {
	// Python is the interpreter, "python3" (from PATH) when empty: the
	// app's virtualenv's python, so that the app and arq import.
	Python string
	// Dir is the directory the app is imported from (as arq's CLI, the
	// working directory is put on sys.path); "" is the current one.
	Dir string
}

// ExportError is Export's error when the Python side fails: the app does
// not import, the settings path is wrong, or importing it tried to reach
// the network or start a process.
type ExportError struct {
	Settings string
	// Stderr is what the introspector wrote, trimmed.
	Stderr string
	Err    error
}

func (e *ExportError) Error() string {
	msg := e.Stderr
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("export %s: %s", e.Settings, msg)
}

func (e *ExportError) Unwrap() error { return e.Err }

// Export runs the introspector (Introspector) with the user's Python on the
// WorkerSettings at settings, a dotted path as arq's CLI takes it
// ("app.worker.WorkerSettings"), and returns its contract. The app is
// imported, never run: no arq Worker is built, and the introspector
// refuses every network connection and process start while it runs.
func Export(ctx context.Context, settings string, opts ExportOptions) (*Contract, error) {
	py := opts.Python
	if py == "" {
		py = "python3"
	}
	cmd := exec.CommandContext(ctx, py, "-", settings)
	cmd.Dir = opts.Dir
	cmd.Stdin = strings.NewReader(Introspector)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, &ExportError{Settings: settings, Err: fmt.Errorf("run %s: %w", py, err)}
		}
		return nil, &ExportError{Settings: settings, Stderr: lastLines(stderr.String(), 20), Err: err}
	}
	c, err := Read(&stdout)
	if err != nil {
		return nil, &ExportError{Settings: settings, Err: err}
	}
	return c, nil
}

// lastLines keeps the end of a traceback, where the error is.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
