package worker

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// NewArqLogHandler returns a slog.Handler that prints records as arq's
// default logging does, "HH:MM:SS: message", dropping the structured
// attributes (use any other slog handler to keep them).
func NewArqLogHandler(out io.Writer, level slog.Leveler) slog.Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &arqHandler{out: out, level: level, mu: &sync.Mutex{}}
}

type arqHandler struct {
	out   io.Writer
	level slog.Leveler
	mu    *sync.Mutex
}

func (h *arqHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *arqHandler) Handle(_ context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	line := t.Format("15:04:05") + ": " + r.Message + "\n"
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.out, line)
	return err
}

func (h *arqHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *arqHandler) WithGroup(string) slog.Handler      { return h }
