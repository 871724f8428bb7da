// Package procstat reads what the benchmark scripts measure about a
// process or a Redis server: CPU time, peak RSS. Linux only (/proc).
package procstat

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// PeakRSS is a process's peak resident set size (VmHWM), in bytes.
func PeakRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// CPUSeconds is the user+system CPU time of a process so far.
func CPUSeconds(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	sy, _ := strconv.ParseFloat(f[12], 64)
	return (u + sy) / 100 // clock ticks (USER_HZ 100)
}

// RedisCPU is the server's used_cpu_user + used_cpu_sys, in seconds.
func RedisCPU(ctx context.Context, rdb redis.UniversalClient) float64 {
	info, _ := rdb.Info(ctx, "cpu").Result()
	total := 0.0
	for _, l := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(l, ":")
		if k == "used_cpu_user" || k == "used_cpu_sys" {
			x, _ := strconv.ParseFloat(v, 64)
			total += x
		}
	}
	return total
}
