package history_test

import (
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/history"
)

// BenchmarkFromResult is the recorder's decoding of one result.
func BenchmarkFromResult(b *testing.B) {
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	data, err := arqcompat.EncodeResult(ser, arqcompat.ResultRecord{
		JobRecord: arqcompat.JobRecord{Function: "add", Args: []any{int64(41), int64(1)}, JobTry: 1, EnqueueTimeMS: 1},
		Success:   true, Result: int64(42), StartMS: 2, FinishMS: 3, Queue: "arq:queue", JobID: "0123456789abcdef0123456789abcdef"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for b.Loop() {
		_ = history.FromResult(ser, "0123456789abcdef0123456789abcdef", data, now)
	}
}
