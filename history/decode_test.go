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

// A result's record holds the call as Python prints it and as typed JSON,
// the result's repr, and a failure's exception class and message.
func TestFromResult(t *testing.T) {
	ser := arqcompat.PickleSerializer(arqcompat.Limits{})
	kw := arqcompat.NewDict()
	kw.Set("x", int64(2))
	for _, c := range []struct {
		rr                                  arqcompat.ResultRecord
		args, argsJSON, result, exc, excMsg string
	}{
		{arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f", Args: []any{int64(1), "a<b"}, Kwargs: kw}, Success: true, Result: int64(3)},
			"1, 'a<b', x=2", `{"args":[1,"a\u003cb"],"kwargs":{"x":2}}`, "3", "", ""},
		{arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f"}, Result: arqcompat.NewException("app.errors", "RateLimited", "slow down")},
			"", `{"args":[],"kwargs":{}}`, "RateLimited('slow down')", "app.errors.RateLimited", "slow down"},
	} {
		c.rr.JobTry, c.rr.StartMS, c.rr.FinishMS, c.rr.Queue, c.rr.JobID = 1, 2, 3, "arq:queue", "j"
		data, err := arqcompat.EncodeResult(ser, c.rr)
		if err != nil {
			t.Fatal(err)
		}
		r := history.FromResult(ser, "j", data, time.Now())
		if r.Args != c.args || r.ArgsJSON != c.argsJSON || r.Result != c.result || r.ExcClass != c.exc || r.ExcMessage != c.excMsg || r.Undecodable != "" {
			t.Errorf("FromResult = args %q json %s result %q exc %q %q (%s)", r.Args, r.ArgsJSON, r.Result, r.ExcClass, r.ExcMessage, r.Undecodable)
		}
	}
}
