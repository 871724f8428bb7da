// Package storetest is the behaviour every history.Store must show, run
// by the tests of history/sqlite and history/postgres.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/internal/sqlstore"
)

// T0 is the base time of the records Run adds.
var T0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func rec(i int, fn string, ok bool, exc string, at time.Time, runMS int64) history.Record {
	r := history.Record{JobID: fmt.Sprintf("job%03d", i), Queue: "arq:queue", Function: fn, Try: 1,
		EnqueueMS: at.UnixMilli() - runMS - 5, StartMS: at.UnixMilli() - runMS, FinishMS: at.UnixMilli(), Success: ok,
		Args: fmt.Sprintf("%d, 'user_%d'", i, i), ArgsJSON: `{"args":[],"kwargs":{}}`, Result: "None", Serializer: "pickle",
		Source: "redis", Raw: []byte{1, 2, 3}}
	if !ok {
		r.ExcClass, r.ExcMessage, r.Result = exc, "bad", exc+"('bad')"
	}
	return r
}

// textIndexer is a store whose text index is filled off the insert path
// (SQLite); Run checks searches both before and after it catches up.
type textIndexer interface {
	IndexText(ctx context.Context, limit int) (int64, error)
	TextIndexLag(ctx context.Context) (int64, error)
}

// Run checks open(t), a fresh empty store, against the Store contract.
func Run(t *testing.T, open func(t *testing.T) history.Store) {
	ctx := context.Background()
	t.Run("AddOnceByJobAndStart", func(t *testing.T) {
		s := open(t)
		r := rec(1, "f", true, "", T0, 10)
		n, err := s.Add(ctx, []history.Record{r, r})
		if err != nil || n != 1 {
			t.Fatalf("Add twice in a batch = %d, %v; want 1 added", n, err)
		}
		n, err = s.Add(ctx, []history.Record{r})
		if err != nil || n != 0 {
			t.Fatalf("Add again = %d, %v; want 0", n, err)
		}
		r2 := r
		r2.StartMS, r2.FinishMS = r.StartMS+1000, r.FinishMS+1000 // the id reused for a later run
		if n, err = s.Add(ctx, []history.Record{r2}); err != nil || n != 1 {
			t.Fatalf("Add of the same id with a later start = %d, %v; want 1", n, err)
		}
		r3 := rec(3, "f", true, "", T0.Add(2*time.Second), 10)
		if n, err = s.Add(ctx, []history.Record{r, r3}); err != nil || n != 1 { // one stored already, one new
			t.Fatalf("Add of a stored and a new record = %d, %v; want 1", n, err)
		}
		if days, err := s.Daily(ctx, T0.Add(-time.Hour)); err != nil || len(days) != 1 || days[0].Count != 3 {
			t.Fatalf("Daily = %+v, %v; want one day of 3 records", days, err)
		}
		p, err := s.Query(ctx, history.Filter{Until: T0.Add(2 * time.Second)})
		if err != nil || len(p.Records) != 2 {
			t.Fatalf("Query = %+v, %v", p, err)
		}
		got := p.Records[1]
		got.ID = 0
		if fmt.Sprint(got) != fmt.Sprint(r) {
			t.Fatalf("stored %+v\nread   %+v", r, got)
		}
	})
	t.Run("FiltersNewestFirstAndPages", func(t *testing.T) {
		s := open(t)
		var recs []history.Record
		for i := range 30 {
			fn, ok, exc := "send", true, ""
			if i%3 == 0 {
				ok, exc = false, "ValueError"
			}
			if i%5 == 0 {
				fn = "resize"
			}
			recs = append(recs, rec(i, fn, ok, exc, T0.Add(time.Duration(i)*time.Minute), 10))
		}
		if _, err := s.Add(ctx, recs); err != nil {
			t.Fatal(err)
		}
		no := false
		cases := []struct {
			f    history.Filter
			want int
		}{
			{history.Filter{}, 30},
			{history.Filter{Function: "resize"}, 6},
			{history.Filter{Success: &no}, 10},
			{history.Filter{ExcClass: "ValueError", Function: "resize"}, 2}, // 0, 15
			{history.Filter{Since: T0.Add(10 * time.Minute)}, 20},
			{history.Filter{Until: T0.Add(10 * time.Minute)}, 10},
			{history.Filter{JobID: "job007"}, 1},
			{history.Filter{Text: "user_2"}, 11}, // 2, 20-29
			{history.Filter{Text: "nobody"}, 0},
		}
		for _, c := range cases {
			c.f.Limit = 100
			p, err := s.Query(ctx, c.f)
			if err != nil || len(p.Records) != c.want {
				t.Errorf("Query(%+v) = %d records, %v; want %d", c.f, len(p.Records), err, c.want)
			}
		}
		// pages of 7, newest first, each record once
		var seen []string
		f := history.Filter{Limit: 7}
		for {
			p, err := s.Query(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				seen = append(seen, r.JobID)
			}
			if p.Next.IsZero() {
				break
			}
			f.Before = p.Next
		}
		if len(seen) != 30 || seen[0] != "job029" || seen[29] != "job000" {
			t.Fatalf("pages = %v", seen)
		}
	})
	t.Run("TextIsASubstringOfTheArgs", func(t *testing.T) {
		s := open(t)
		args := []string{
			"1, 'user_4242@example.com'",
			"2, 'user_42420@example.com'",
			"3, 'xuser_4242@example.org'",
			"4, 'User_4242@Example.com'",
			"5, 'café crème', n=3",
			`6, 'say "hi"', pct='50%_off'`,
			"7, 'a-b c'",
			"8, 'Ωmega', k=q7",
			"9, '#~', w=Ω",
		}
		var recs []history.Record
		for i, a := range args {
			r := rec(i, "f", true, "", T0.Add(time.Duration(i)*time.Minute), 1)
			r.Args = a
			recs = append(recs, r)
		}
		if _, err := s.Add(ctx, recs); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			text string
			want []int // record numbers, newest first
		}{
			{"'user_4242@", []int{1}},       // whole words
			{"user_4242@", []int{3, 1}},     // the start of a word too
			{"ser_4242", []int{4, 3, 2, 1}}, // inside words, and a prefix
			{"_4242@e", []int{3, 1}},        // a word's start at the end
			{"User_4242", []int{4}},         // case sensitive
			{"example.com", []int{2, 1}},    // ASCII separators
			{"é cr", []int{5}},              // non-ASCII letters
			{"café", []int{5}},              //
			{`"hi"`, []int{6}},              // a quote
			{"50%_", []int{6}},              // LIKE's wildcards are plain text
			{"%", []int{6}},                 //
			{"_off'", []int{6}},             //
			{"a-b c", []int{7}},             //
			{"-b", []int{7}},                //
			{"b c'", []int{7}},              //
			{"4242@example.com'", []int{1}}, //
			{"nobody", nil},
			{"'user_4243@", nil},
			// no whole word: letters or digits only, inside tokens
			{"4242", []int{4, 3, 2, 1}},
			{"42420", []int{2}},
			{"2420", []int{2}},
			{"xampl", []int{4, 3, 2, 1}},
			{"Exampl", []int{4}},
			{"org", []int{3}},
			{"afé", []int{5}},
			{"rèm", []int{5}},
			{"4243", nil},
			{"ab", nil}, // shorter than a trigram
			{"hi", []int{6}},
			// 1 or 2 characters, no whole word: rare, common, at the
			// arguments' end, absent
			{"é", []int{5}},
			{"è", []int{5}},
			{"é ", []int{5}},
			{"Ω", []int{9, 8}},
			{"#~", []int{9}},
			{"~'", []int{9}},
			{"q7", []int{8}},
			{"=q", []int{8}},
			{"7", []int{8, 7}},
			{"3", []int{5, 3}},
			{"a", []int{8, 7, 6, 5, 4, 3, 2, 1}},
			{"'", []int{9, 8, 7, 6, 5, 4, 3, 2, 1}},
			{"ré", nil},
			{"q8", nil},
			{"\x01", nil},
			{"7\x01", nil},
		}
		check := func(when string) {
			t.Helper()
			for _, c := range cases {
				p, err := s.Query(ctx, history.Filter{Text: c.text})
				if err != nil {
					t.Fatalf("%s: Query(Text %q): %v", when, c.text, err)
				}
				var got []int
				for _, r := range p.Records {
					var n int
					fmt.Sscanf(r.Args, "%d", &n)
					got = append(got, n)
				}
				if fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("%s: Query(Text %q) = %v; want %v", when, c.text, got, c.want)
				}
			}
		}
		check("just added")
		// a page at a time: the first is full from the newest records,
		// the second ends the listing
		var got []string
		f := history.Filter{Text: "ser_4242", Limit: 3}
		for range 3 {
			p, err := s.Query(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Records {
				got = append(got, r.JobID)
			}
			if p.Next.IsZero() {
				break
			}
			f.Before = p.Next
		}
		if fmt.Sprint(got) != "[job003 job002 job001 job000]" {
			t.Errorf("pages of Text %q = %v", f.Text, got)
		}
		if ix, ok := s.(textIndexer); ok {
			// the same once the text index has taken the rows in, and
			// with rows both in and not yet in it
			if _, err := ix.IndexText(ctx, 3); err != nil {
				t.Fatal(err)
			}
			check("partly indexed")
			for {
				n, err := ix.IndexText(ctx, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			if lag, err := ix.TextIndexLag(ctx); err != nil || lag != 0 {
				t.Fatalf("TextIndexLag = %d, %v after indexing", lag, err)
			}
			check("indexed")
			// the newest row pruned: SQLite hands its id out again, and
			// the new row it then names is still found
			old := rec(10, "f", true, "", T0.Add(-10*24*time.Hour), 1)
			old.Args = "9, 'user_4242@example.com'"
			if _, err := s.Add(ctx, []history.Record{old}); err != nil {
				t.Fatal(err)
			}
			if _, err := ix.IndexText(ctx, 1000); err != nil {
				t.Fatal(err)
			}
			if n, err := s.Prune(ctx, history.Retention{MaxAge: 24 * time.Hour}, T0); err != nil || n != 1 {
				t.Fatalf("Prune = %d, %v", n, err)
			}
			r := rec(20, "f", true, "", T0.Add(time.Hour), 1)
			r.Args = "8, 'user_4242@example.com'"
			if _, err := s.Add(ctx, []history.Record{r}); err != nil {
				t.Fatal(err)
			}
			p, err := s.Query(ctx, history.Filter{Text: "'user_4242@"})
			if err != nil || len(p.Records) != 2 || p.Records[0].JobID != "job020" || p.Records[1].JobID != "job000" {
				t.Fatalf("after a prune and an Add: %+v, %v", p.Records, err)
			}
		}
	})
	t.Run("DailyCountsAndRunQuantiles", func(t *testing.T) {
		s := open(t)
		var recs []history.Record
		for i := range 100 {
			ok := i >= 10
			recs = append(recs, rec(i, "f", ok, "ValueError", T0.Add(time.Duration(i)*time.Second), int64(i+1)*10))
		}
		recs = append(recs, rec(200, "f", true, "", T0.Add(-24*time.Hour), 5))
		if _, err := s.Add(ctx, recs); err != nil {
			t.Fatal(err)
		}
		days, err := s.Daily(ctx, T0.Add(-48*time.Hour))
		if err != nil || len(days) != 2 {
			t.Fatalf("Daily = %+v, %v", days, err)
		}
		d := days[1]
		if !d.Day.Equal(T0.Truncate(24*time.Hour)) || d.Count != 100 || d.Failed != 10 {
			t.Fatalf("day = %+v", d)
		}
		// true p50 500 ms, p95 950 ms; buckets are at most 19% above
		if d.RunP50 < 500*time.Millisecond || d.RunP50 > 595*time.Millisecond || d.RunP95 < 950*time.Millisecond || d.RunP95 > 1131*time.Millisecond {
			t.Fatalf("quantiles p50 %s p95 %s", d.RunP50, d.RunP95)
		}
	})
	t.Run("RetentionByAgeAndRows", func(t *testing.T) {
		s := open(t)
		var recs []history.Record
		for i := range 20 {
			recs = append(recs, rec(i, "f", true, "", T0.Add(time.Duration(i)*time.Hour), 1))
		}
		if _, err := s.Add(ctx, recs); err != nil {
			t.Fatal(err)
		}
		now := T0.Add(20 * time.Hour)
		n, err := s.Prune(ctx, history.Retention{MaxAge: 15 * time.Hour}, now) // keeps hours 5..19
		if err != nil || n != 5 {
			t.Fatalf("Prune by age = %d, %v; want 5", n, err)
		}
		n, err = s.Prune(ctx, history.Retention{MaxRows: 4}, now)
		if err != nil || n != 11 {
			t.Fatalf("Prune by rows = %d, %v; want 11", n, err)
		}
		p, _ := s.Query(ctx, history.Filter{})
		if len(p.Records) != 4 || p.Records[3].JobID != "job016" {
			t.Fatalf("kept %+v", p.Records)
		}
	})
	t.Run("RetryLinksBothWays", func(t *testing.T) {
		s := open(t)
		if _, err := s.Add(ctx, []history.Record{rec(1, "f", false, "ValueError", T0, 1)}); err != nil {
			t.Fatal(err)
		}
		p, _ := s.Query(ctx, history.Filter{})
		orig := p.Records[0]
		if err := s.LinkRetry(ctx, orig.ID, "new1"); err != nil {
			t.Fatal(err)
		}
		if err := s.LinkRetry(ctx, 999999, "new2"); !errors.Is(err, history.ErrNotFound) {
			t.Fatalf("LinkRetry of a missing record = %v", err)
		}
		nr := rec(2, "f", true, "", T0.Add(time.Minute), 1)
		nr.JobID = "new1"
		if _, err := s.Add(ctx, []history.Record{nr}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, orig.ID)
		if err != nil || got.RetriedAs != "new1" {
			t.Fatalf("origin = %+v, %v", got, err)
		}
		p, _ = s.Query(ctx, history.Filter{JobID: "new1"})
		if len(p.Records) != 1 || p.Records[0].OriginJobID != orig.JobID {
			t.Fatalf("retry = %+v", p.Records)
		}
		p, _ = s.Query(ctx, history.Filter{NotRetried: true, Success: new(bool)})
		if len(p.Records) != 0 {
			t.Fatalf("NotRetried still lists %+v", p.Records)
		}
		if err := s.UnlinkRetry(ctx, orig.ID, "new1"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, orig.ID); got.RetriedAs != "" {
			t.Fatalf("after unlink: %+v", got)
		}
		if _, err := s.Get(ctx, 999999); !errors.Is(err, history.ErrNotFound) {
			t.Fatalf("Get of a missing record = %v", err)
		}
	})
	t.Run("StageKeepsRawRowsInOrderUntilUnstaged", func(t *testing.T) {
		s := open(t)
		st, ok := s.(history.Stager)
		if !ok {
			t.Fatalf("%T is not a history.Stager", s)
		}
		if n, err := st.StagedCount(ctx); err != nil || n != 0 {
			t.Fatalf("StagedCount of a new store = %d, %v", n, err)
		}
		// more rows than one multi-row INSERT takes, and raw bytes of
		// every value (not text)
		var in []history.Staged
		for i := range 450 {
			in = append(in, history.Staged{JobID: fmt.Sprintf("s%03d", i), Data: []byte{0, byte(i), 0xff, '\''}, StagedMS: int64(1000 + i)})
		}
		if err := st.Stage(ctx, in[:1]); err != nil {
			t.Fatal(err)
		}
		if err := st.Stage(ctx, in[1:]); err != nil {
			t.Fatal(err)
		}
		if n, err := st.StagedCount(ctx); err != nil || n != 450 {
			t.Fatalf("StagedCount = %d, %v; want 450", n, err)
		}
		if n, _ := s.Count(ctx); n != 0 {
			t.Fatalf("staged rows counted as %d records", n)
		}
		got, err := st.StagedBatch(ctx, 300)
		if err != nil || len(got) != 300 {
			t.Fatalf("StagedBatch(300) = %d rows, %v", len(got), err)
		}
		for i, r := range got {
			if r.ID == 0 || r.JobID != in[i].JobID || string(r.Data) != string(in[i].Data) || r.StagedMS != in[i].StagedMS ||
				i > 0 && r.ID <= got[i-1].ID {
				t.Fatalf("staged row %d = %+v, want %+v after id %d", i, r, in[i], got[max(i-1, 0)].ID)
			}
		}
		ids := make([]int64, len(got))
		for i, r := range got {
			ids[i] = r.ID
		}
		if err := st.Unstage(ctx, ids); err != nil {
			t.Fatal(err)
		}
		rest, err := st.StagedBatch(ctx, 1000)
		if err != nil || len(rest) != 150 || rest[0].JobID != "s300" {
			t.Fatalf("after unstaging 300: %d rows, %v", len(rest), err)
		}
		if n, err := st.StagedCount(ctx); err != nil || n != 150 {
			t.Fatalf("StagedCount = %d, %v; want 150", n, err)
		}
	})
	// Staged rows are not records yet: a prune by age or by row count
	// (the recorder's, every minute, also while a burst is staged)
	// deletes records only, and leaves every staged row to be promoted.
	t.Run("PruneLeavesStagedRows", func(t *testing.T) {
		s := open(t)
		st := s.(history.Stager)
		var recs []history.Record
		for i := range 10 {
			recs = append(recs, rec(i, "f", true, "", T0.Add(time.Duration(i)*time.Hour), 1))
		}
		if _, err := s.Add(ctx, recs); err != nil {
			t.Fatal(err)
		}
		// staged long before the age bound, for jobs the records hold too
		var in []history.Staged
		for i := range 3 {
			in = append(in, history.Staged{JobID: fmt.Sprintf("job%03d", i), Data: []byte{byte(i)}, StagedMS: T0.Add(-time.Hour).UnixMilli()})
		}
		if err := st.Stage(ctx, in); err != nil {
			t.Fatal(err)
		}
		now := T0.Add(100 * time.Hour)
		n, err := s.Prune(ctx, history.Retention{MaxAge: 95 * time.Hour, MaxRows: 1}, now)
		if err != nil || n != 9 {
			t.Fatalf("Prune = %d, %v; want the 9 records older than the newest", n, err)
		}
		got, err := st.StagedBatch(ctx, 10)
		if err != nil || len(got) != 3 {
			t.Fatalf("after the prune: %d staged rows, %v; want all 3", len(got), err)
		}
		for i, r := range got {
			if r.JobID != in[i].JobID || string(r.Data) != string(in[i].Data) {
				t.Fatalf("staged row %d = %+v after the prune, want %+v", i, r, in[i])
			}
		}
	})
	t.Run("RecordedTellsStartTimesByJobID", func(t *testing.T) {
		s := open(t)
		if got, err := s.Recorded(ctx, []string{"job001"}); err != nil || len(got) != 0 {
			t.Fatalf("Recorded on an empty store = %v, %v", got, err)
		}
		// 2,500 records (more than one lookup's chunk), one id run twice,
		// and ids with quotes and non-ASCII (passed as data, not SQL)
		var recs []history.Record
		for i := range 2500 {
			recs = append(recs, rec(i, "f", true, "", T0.Add(time.Duration(i)*time.Millisecond), 1))
		}
		again := rec(7, "f", true, "", T0.Add(time.Hour), 1)
		odd := rec(1, "f", true, "", T0, 1)
		odd.JobID = `it's "ünïcode", \ [1]`
		recs = append(recs, again, odd)
		if n, err := s.Add(ctx, recs); err != nil || n != len(recs) {
			t.Fatalf("Add = %d, %v", n, err)
		}
		ask := []string{"job007", "job2499", "nope", odd.JobID, "job0"}
		for i := range 2500 {
			ask = append(ask, fmt.Sprintf("job%03d", i))
		}
		got, err := s.Recorded(ctx, ask)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2501 {
			t.Fatalf("Recorded found %d ids, want 2501", len(got))
		}
		st := got["job007"]
		slices.Sort(st)
		if want := []int64{recs[7].StartMS, again.StartMS}; !slices.Equal(st, want) {
			t.Fatalf("job007's starts = %v, want %v", st, want)
		}
		if st := got["job2499"]; len(st) != 1 || st[0] != recs[2499].StartMS {
			t.Fatalf("job2499's starts = %v, want [%d]", st, recs[2499].StartMS)
		}
		if st := got[odd.JobID]; len(st) != 1 || st[0] != odd.StartMS {
			t.Fatalf("%q's starts = %v", odd.JobID, st)
		}
		if _, ok := got["nope"]; ok {
			t.Fatal("an id never stored is reported")
		}
		if _, ok := got["job0"]; ok {
			t.Fatal("a prefix of a stored id is reported")
		}
	})
}

// Migration checks that a store opened on db, a history written by schema
// version from (1: before the failures' partial indexes and the text
// index; 3: before the trigram index, with the word index filled as that
// version's indexer left it; 4: before the trigram index's tail, with both
// indexes filled as that version's indexer left them), keeps its records and finds them with every
// filter. db is empty; it is closed before open is called.
func Migration(t *testing.T, db *sql.DB, d sqlstore.Dialect, from int, open func(t *testing.T) history.Store) {
	ctx := context.Background()
	if err := sqlstore.MigrateTo(ctx, db, d, from); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO records (job_id, start_ms, queue, function, try, enqueue_ms, finish_ms, success, args, args_json, result,
			exc_class, exc_message, raw, serializer, undecodable, source, recorded_ms) VALUES (?, 1, 'arq:queue', 'f', 1, 0, ?, ?, ?, '{}', '', ?, '', NULL, 'pickle', '', 'redis', 0)`
	if d.Numbered {
		for n := 1; strings.Contains(insert, "?"); n++ {
			insert = strings.Replace(insert, "?", "$"+strconv.Itoa(n), 1)
		}
	}
	for i, a := range []string{"1, 'user_4242@example.com'", "2, 'user_7@example.com'"} {
		if _, err := db.Exec(insert, fmt.Sprintf("job%d", i), 1000+i, i, a, map[int]string{0: "ValueError"}[i]); err != nil {
			t.Fatal(err)
		}
	}
	if from >= 3 && d.AsyncText {
		// the version 3 indexer took the rows in
		for _, q := range []string{`INSERT INTO records_fts (rowid, args) SELECT id, args FROM records`,
			`UPDATE text_index_state SET indexed_to = (SELECT MAX(id) FROM records)`} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	if from == 4 && d.AsyncText {
		// and the version 4 indexer into the trigram index, without
		// the tail of version 5
		if _, err := db.Exec(`INSERT INTO records_tri (rowid, args) SELECT id, args FROM records`); err != nil {
			t.Fatal(err)
		}
	}
	if from >= 5 && d.AsyncText {
		// and the version 5 indexer, with the tail
		if _, err := db.Exec(`INSERT INTO records_tri (rowid, args) SELECT id, args || char(1, 1) FROM records`); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := open(t)
	defer s.Close()
	no := false
	for _, c := range []struct {
		f    history.Filter
		want string
	}{
		{history.Filter{}, "[job1 job0]"},
		{history.Filter{Success: &no}, "[job0]"},
		{history.Filter{ExcClass: "ValueError"}, "[job0]"},
		{history.Filter{Text: "'user_4242@"}, "[job0]"},
		{history.Filter{Text: "user_7@"}, "[job1]"},
		{history.Filter{Text: "4242"}, "[job0]"},
		{history.Filter{Text: "xampl"}, "[job1 job0]"},
		{history.Filter{Text: "7@"}, "[job1]"},
		{history.Filter{Text: "m'"}, "[job1 job0]"},
	} {
		p, err := s.Query(ctx, c.f)
		var got []string
		for _, r := range p.Records {
			got = append(got, r.JobID)
		}
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("Query(%+v) = %v, %v; want %s", c.f, got, err, c.want)
		}
	}
	// the indexer takes the old rows in once records are added
	if _, err := s.Add(ctx, []history.Record{{JobID: "new", StartMS: 5, FinishMS: 6, Function: "f", Args: "3, 'user_4242@example.com'"}}); err != nil {
		t.Fatal(err)
	}
	ix, ok := s.(textIndexer)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if !ok {
			break
		}
		lag, err := ix.TextIndexLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the text index still lags %d rows", lag)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		text string
		want int
	}{{"'user_4242@", 2}, {"4242", 2}, {"7@", 1}, {"m'", 3}} {
		p, err := s.Query(ctx, history.Filter{Text: c.text})
		if err != nil || len(p.Records) != c.want {
			t.Fatalf("Text %q after indexing: %+v, %v; want %d records", c.text, p.Records, err, c.want)
		}
	}
	// version 6: the staging table
	if err := s.(history.Stager).Stage(ctx, []history.Staged{{JobID: "st", Data: []byte{1}, StagedMS: 1}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.(history.Stager).StagedCount(ctx); err != nil || n != 1 {
		t.Fatalf("StagedCount after the migration = %d, %v", n, err)
	}
	if d.AsyncText {
		// both indexes hold each row once
		if n := countMatches(t, s, "records_fts", `"4242"`); n != 2 {
			t.Fatalf("the word index holds %d rows with 4242 after the migration; want 2", n)
		}
		if n := countMatches(t, s, "records_tri", `"424" AND "242"`); n != 2 {
			t.Fatalf("the trigram index holds %d rows with 4242 after the migration; want 2", n)
		}
		// each row with the tail that version 5 adds after its last
		// characters
		if n := countMatches(t, s, "records_tri", "\"m'\x01\""); n != 3 {
			t.Fatalf("the trigram index holds %d rows ending in m' with the tail after the migration; want 3", n)
		}
	}
}

// countMatches counts the rows of the FTS5 table that match q, through the
// store's database handle.
func countMatches(t *testing.T, s history.Store, table, q string) int {
	t.Helper()
	db := s.(interface{ DB() *sql.DB }).DB()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM `+table+` WHERE `+table+` MATCH ?`, q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
