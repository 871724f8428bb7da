// Command lossyproxy is an interop fixture: a TCP proxy in front of Redis
// that lets chosen commands run and drops their replies. On a client
// connection whose requests carry the trigger (a command name sent as a
// RESP bulk string, "exec" by default), every --every'th time, it forwards
// the request to Redis, waits --settle for Redis to run it, then closes
// both connections without passing on anything Redis answered: the
// client sees a lost connection for a command that ran. That is the fault
// a finish must survive without applying twice.
//
// It prints one JSON line {"port": N} once listening, and on SIGTERM or
// SIGINT a last line {"dropped": N, "connections": N}. It listens on
// 127.0.0.1 only.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	upstream := flag.String("upstream", "127.0.0.1:6379", "Redis address")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	trigger := flag.String("trigger", "exec", "command whose reply is dropped (case-insensitive)")
	every := flag.Int("every", 3, "drop the reply of every N-th request carrying the trigger")
	maxDrops := flag.Int("max-drops", 1000, "drop at most this many replies")
	settle := flag.Duration("settle", 50*time.Millisecond, "how long Redis gets to run the request before the connections close")
	flag.Parse()
	if *every < 1 {
		log.Fatal("--every must be at least 1")
	}
	p := &proxy{upstream: *upstream, needle: bulk(*trigger), every: int64(*every), maxDrops: int64(*maxDrops), settle: *settle}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(map[string]int{"port": ln.Addr().(*net.TCPAddr).Port})
	var wg sync.WaitGroup
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				log.Print(err)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serve(ctx, c)
		}()
	}
	wg.Wait()
	_ = out.Encode(map[string]int64{"dropped": p.dropped.Load(), "connections": p.conns.Load()})
}

// bulk is a command name as a client sends it in RESP: $len CRLF name CRLF,
// lower case (go-redis sends lower-case names; matching is case-insensitive).
func bulk(name string) []byte {
	return bytes.ToLower([]byte(fmt.Sprintf("$%d\r\n%s\r\n", len(name), name)))
}

type proxy struct {
	upstream string
	needle   []byte
	every    int64
	maxDrops int64
	settle   time.Duration

	seen, dropped, conns atomic.Int64
}

// serve proxies one client connection until either side closes, or until
// it drops a reply.
func (p *proxy) serve(ctx context.Context, client net.Conn) {
	defer client.Close()
	p.conns.Add(1)
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { // a shutdown ends both copies
		<-ctx.Done()
		_ = client.Close()
		_ = up.Close()
	}()
	var dropping atomic.Bool
	done := make(chan struct{})
	go func() { // replies: passed on until a drop begins
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := up.Read(buf)
			if dropping.Load() {
				return
			}
			if n > 0 {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = client.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	var tail []byte // the end of the last read, for a trigger split across reads
	for {
		n, err := client.Read(buf)
		if n > 0 {
			chunk := append(tail, buf[:n]...)
			hit := bytes.Contains(bytes.ToLower(chunk), p.needle) && p.seen.Add(1)%p.every == 0 && p.dropped.Load() < p.maxDrops
			if hit {
				dropping.Store(true)
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				return
			}
			if hit {
				p.dropped.Add(1)
				time.Sleep(p.settle) // Redis runs the request; its reply goes nowhere
				return
			}
			tail = append(tail[:0], chunk[max(0, len(chunk)-len(p.needle)+1):]...)
		}
		if err != nil { // the client left (EOF, reset or shutdown)
			_ = up.Close()
			<-done
			return
		}
	}
}
