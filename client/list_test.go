package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
)

func setResult(t *testing.T, mr *miniredis.Miniredis, ser arqcompat.Serializer, r arqcompat.ResultRecord) {
	t.Helper()
	data, err := arqcompat.EncodeResult(ser, r)
	if err != nil {
		t.Fatal(err)
	}
	mr.Set(arqcompat.ResultKey(r.JobID), string(data))
}

func TestListJobsMarksUnreadableAndExpiredJobs(t *testing.T) {
	ctx := context.Background()
	c, mr, _ := newClient(t, client.Options{}, nil)
	for _, id := range []string{"a", "b"} {
		if _, err := c.EnqueueRequest(ctx, client.Request{Function: "f_" + id, Options: client.EnqueueOptions{JobID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	// a JSON-encoded record read with pickle, and a queue entry whose job key is gone
	js, _ := arqcompat.EncodeJob(arqcompat.JSONSerializer(arqcompat.Limits{}), arqcompat.JobRecord{Function: "j", Kwargs: &arqcompat.Dict{}})
	mr.Set(arqcompat.JobKey("json"), string(js))
	mr.ZAdd(arqcompat.DefaultQueueName, 1, "json")
	mr.ZAdd(arqcompat.DefaultQueueName, 2, "gone")

	if _, err := c.QueuedJobs(ctx, ""); err == nil {
		t.Error("QueuedJobs: no error for a gone job key (arq's queued_jobs raises)")
	}
	jobs, err := c.ListJobs(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 4 {
		t.Fatalf("%d jobs, want 4: %+v", len(jobs), jobs)
	}
	byID := map[string]client.JobDef{}
	for _, j := range jobs {
		byID[j.JobID] = j
	}
	if j := byID["a"]; j.Err != nil || j.Function != "f_a" || j.Score == nil {
		t.Errorf("readable job: %+v", j)
	}
	var re *client.RecordError
	if j := byID["json"]; !errors.As(j.Err, &re) || re.LooksLike != "json" ||
		!strings.Contains(j.Err.Error(), "pickle: ") || !strings.Contains(j.Err.Error(), "look json-encoded, not pickle") {
		t.Errorf("json record: %v", j.Err)
	}
	if j := byID["gone"]; !errors.Is(j.Err, client.ErrJobExpired) || j.Score == nil || *j.Score != 2 {
		t.Errorf("gone job: %+v", j)
	}
	jobs, _ = c.ListJobs(ctx, client.ListOptions{Function: "f_b"})
	if len(jobs) != 3 || jobs[2].JobID != "b" { // the unreadable two are kept: their function is unknown
		t.Errorf("--function: %+v", jobs)
	}
	if jobs, _ = c.ListJobs(ctx, client.ListOptions{Limit: 1}); len(jobs) != 1 {
		t.Errorf("limit: %+v", jobs)
	}
}

func TestListResultsFiltersSortsAndKeepsUnreadable(t *testing.T) {
	ctx := context.Background()
	c, mr, _ := newClient(t, client.Options{}, nil)
	ser := c.Serializer()
	base := time.Now().UnixMilli()
	for i, r := range []struct {
		id, fn, queue string
		ok            bool
	}{{"r1", "f", "arq:queue", true}, {"r2", "g", "arq:queue", false}, {"r3", "f", "other", true}, {"r4", "f", "arq:queue", false}} {
		setResult(t, mr, ser, arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: r.fn, Kwargs: &arqcompat.Dict{}},
			Success: r.ok, JobID: r.id, Queue: r.queue, StartMS: base, FinishMS: base + int64(i)*1000})
	}
	mr.Set(arqcompat.ResultKey("bad"), "\x80\x04\x95garbage")

	if _, err := c.AllJobResults(ctx); err == nil {
		t.Error("AllJobResults: no error for an unreadable result")
	}
	ids := func(rs []*client.JobResult) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.JobID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		opts client.ListOptions
		want string
	}{
		{client.ListOptions{}, "r4,r2,r1,bad"},
		{client.ListOptions{Queue: "other"}, "r3,bad"},
		{client.ListOptions{AllQueues: true}, "r4,r3,r2,r1,bad"},
		{client.ListOptions{Function: "f"}, "r4,r1,bad"},
		{client.ListOptions{FailedOnly: true}, "r4,r2,bad"},
		{client.ListOptions{Limit: 2}, "r4,r2"},
	} {
		rs, err := c.ListResults(ctx, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(rs); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.opts, got, tc.want)
		}
	}
	rs, _ := c.ListResults(ctx, client.ListOptions{Queue: "other"})
	var de *arqcompat.DecodeError
	if bad := rs[len(rs)-1]; !errors.As(bad.Err, &de) || !strings.HasPrefix(bad.Err.Error(), "pickle: ") {
		t.Errorf("unreadable: %v", bad.Err)
	}
	if rs[0].QueueName != "other" {
		t.Errorf("queue name %q", rs[0].QueueName)
	}

	st, err := c.QueueStats(ctx, "")
	if err != nil {
		t.Fatalf("QueueStats fails on one bad result: %v", err)
	}
	if st.ResultsOK != 1 || st.ResultsFailed != 2 || st.ResultsUnreadable != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSniffedSerializerInRecordErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		ser, wrote string
	}{{"json", "pickle"}, {"pickle", "msgpack"}, {"msgpack", "json"}, {"json", "msgpack"}} {
		read, _ := arqcompat.SerializerByName(tc.ser)
		wrote, _ := arqcompat.SerializerByName(tc.wrote)
		c, mr, _ := newClient(t, client.Options{Serializer: read}, nil)
		setResult(t, mr, wrote, arqcompat.ResultRecord{JobRecord: arqcompat.JobRecord{Function: "f", Kwargs: &arqcompat.Dict{}}, JobID: "x"})
		rs, err := c.ListResults(ctx, client.ListOptions{})
		if err != nil || len(rs) != 1 {
			t.Fatalf("%v %v", rs, err)
		}
		want := "look " + tc.wrote + "-encoded, not " + tc.ser
		if rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), want) {
			t.Errorf("%s read as %s: %v, want %q", tc.wrote, tc.ser, rs[0].Err, want)
		}
	}
}
