package worker

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// writeReq is one job's finish transaction, waiting to be written.
type writeReq struct {
	build func(redis.Pipeliner)
	done  chan error
}

// maxWriteBatch bounds how many jobs' finish transactions share one
// MULTI/EXEC.
const maxWriteBatch = 256

// write queues a finish transaction and waits until it is written. Jobs
// finishing at the same time share one MULTI/EXEC round trip: the writes
// of each job stay atomic (the batch is one transaction), and no job's
// slot is released before its outcome is in Redis.
func (w *Worker) write(ctx context.Context, build func(redis.Pipeliner)) error {
	req := writeReq{build: build, done: make(chan error, 1)}
	w.writes <- req
	return <-req.done
}

// writer is the goroutine that flushes finish transactions. It ends when
// w.writes is closed, after every job has released its slot.
func (w *Worker) writer(ctx context.Context) {
	defer close(w.writerDone)
	batch := make([]writeReq, 0, maxWriteBatch)
	for req := range w.writes {
		batch = append(batch[:0], req)
	more:
		for len(batch) < maxWriteBatch {
			select {
			case r, ok := <-w.writes:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		_, err := w.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, r := range batch {
				r.build(p)
			}
			return nil
		})
		for _, r := range batch {
			r.done <- err
		}
	}
}
