package history

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseWhen reads a --since/--until value: a duration back from now ("2h",
// "30m", "7d") or a time (RFC 3339, "2006-01-02 15:04:05" or "2006-01-02",
// the last two in UTC). Empty is the zero time.
func ParseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (2h, 30m, 7d) nor a time (2026-01-02T15:04:05Z, 2026-01-02)", s)
}

// ParseDuration is time.ParseDuration that also takes days ("30d") and
// refuses negative durations.
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("bad duration %q (want e.g. 30d, 12h)", s)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, err
}
