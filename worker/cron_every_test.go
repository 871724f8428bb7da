package worker_test

import (
	"testing"
	"time"

	"github.com/goarq/goarq/worker"
)

// A nil and an empty field mean the same: for Second arq's default 0, for
// the others every value. Only EverySecond() runs a job every second.
func TestCronEmptyFieldIsNil(t *testing.T) {
	start := time.Date(2026, 3, 4, 10, 11, 12, 0, time.UTC)
	atZero := time.Date(2026, 3, 4, 10, 12, 0, 123_456_000, time.UTC)
	for name, cj := range map[string]worker.CronJob{
		"nil Second":   {},
		"empty Second": {Second: []int{}},
	} {
		if got := cj.NextRun(start); !got.Equal(atZero) {
			t.Errorf("%s: next run %s, want %s (second 0)", name, got, atZero)
		}
	}
	if got, want := (worker.CronJob{Second: worker.EverySecond()}).NextRun(start), start.Add(time.Second+123_456*time.Microsecond); !got.Equal(want) {
		t.Errorf("EverySecond: next run %s, want %s", got, want)
	}
	done := make(chan time.Time, 1)
	go func() {
		done <- (worker.CronJob{Month: []int{}, Day: []int{}, Weekday: []int{}, Hour: []int{}, Minute: []int{}}).NextRun(start)
	}()
	select {
	case got := <-done:
		if !got.Equal(atZero) {
			t.Errorf("empty fields: next run %s, want %s (every value)", got, atZero)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("NextRun with empty fields never returns")
	}
}
