package arqcompat

import (
	"math"
	"time"
)

// Key names and constants, as in arq 0.28's arq/constants.py.
const (
	DefaultQueueName    = "arq:queue"
	JobKeyPrefix        = "arq:job:"
	InProgressKeyPrefix = "arq:in-progress:"
	ResultKeyPrefix     = "arq:result:"
	RetryKeyPrefix      = "arq:retry:"
	AbortJobsSS         = "arq:abort"
	HealthCheckSuffix   = ":health-check"
)

// JobKey is the key holding the serialized job definition.
func JobKey(jobID string) string { return JobKeyPrefix + jobID }

// InProgressKey is the key a worker holds while it runs the job.
func InProgressKey(jobID string) string { return InProgressKeyPrefix + jobID }

// ResultKey is the key holding the serialized job result.
func ResultKey(jobID string) string { return ResultKeyPrefix + jobID }

// RetryKey is the key counting the tries of a job.
func RetryKey(jobID string) string { return RetryKeyPrefix + jobID }

// HealthCheckKey is the default health-check key of a queue.
func HealthCheckKey(queue string) string { return queue + HealthCheckSuffix }

// TimestampMS returns t as Unix milliseconds, rounded as arq's timestamp_ms
// (int(round(time() * 1000))).
func TimestampMS(t time.Time) int64 {
	us := t.UnixMicro()
	ms := us / 1000
	rem := us % 1000
	if rem < 0 {
		rem += 1000
		ms--
	}
	if rem > 500 || (rem == 500 && ms%2 != 0) { // round half to even, like Python's round()
		ms++
	}
	return ms
}

// MSToTime converts Unix milliseconds to a UTC time.Time, as arq's
// ms_to_datetime does without a timezone configured.
func MSToTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// DurationMS converts a duration to whole milliseconds, rounding as arq's to_ms.
func DurationMS(d time.Duration) int64 {
	return int64(math.RoundToEven(float64(d) / float64(time.Millisecond)))
}
