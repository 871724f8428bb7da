// Command valuesbench is the Go half of scripts/bench/values.py: it
// decodes an arq job record (pickle bytes written by CPython, read from a
// file) and binds its first argument into gomodels.BenchOrder, n times, and
// prints the CPU time per job (user + system, so the garbage collector's
// work on other cores counts) as one JSON object.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/interop/gomodels"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	file := flag.String("file", "", "the pickled job record")
	n := flag.Int("n", 20000, "decodes")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the measured loop to this file")
	flag.Parse()
	data, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	run := func(k int) {
		for i := 0; i < k; i++ {
			rec, err := arqcompat.DecodeJob(ser, data)
			if err != nil {
				panic(err)
			}
			var o gomodels.BenchOrder
			if err := arqcompat.Assign(&o, rec.Args[0]); err != nil {
				panic(err)
			}
			if len(o.Lines) != 10 || o.PlacedAt.Location().String() != "Europe/Paris" {
				panic("bad bind")
			}
		}
	}
	run(*n / 10) // warm up: zone cache, heap size
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	c0, w0 := cpu(), time.Now()
	run(*n)
	c1, w1 := cpu(), time.Now()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"n": *n, "bytes": len(data),
		"cpu_us_per_job":  float64(c1-c0) / float64(time.Microsecond) / float64(*n),
		"wall_us_per_job": float64(w1.Sub(w0)) / float64(time.Microsecond) / float64(*n),
	})
}
