package redisconn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goarq/goarq/redisconn"
)

func TestParseDSNLikeArq(t *testing.T) {
	cases := []struct {
		dsn              string
		host             string
		port, db         int
		user, pass, unix string
		ssl              bool
	}{
		{"redis://localhost", "localhost", 6379, 0, "", "", "", false},
		{"redis://h:1234/3", "h", 1234, 3, "", "", "", false},
		{"rediss://u:p%40ss@h:6380/1", "h", 6380, 1, "u", "p@ss", "", true},
		{"redis://:secret@h/2?db=5", "h", 6379, 5, "", "secret", "", false},
		{"unix:///tmp/redis.sock", "localhost", 6379, 0, "", "", "/tmp/redis.sock", false},
		{"unix:///tmp/redis.sock?db=4", "localhost", 6379, 4, "", "", "/tmp/redis.sock", false},
	}
	for _, c := range cases {
		s, err := redisconn.ParseDSN(c.dsn)
		if err != nil {
			t.Fatalf("%s: %v", c.dsn, err)
		}
		if s.Host != c.host || s.Port != c.port || s.Database != c.db || s.Username != c.user || s.Password != c.pass ||
			s.UnixSocketPath != c.unix || s.SSL != c.ssl {
			t.Errorf("%s: got %+v", c.dsn, s)
		}
	}
	for _, bad := range []string{"http://h", "redis://u:s3cret@h:port", "redis://u:s3cret@h/notadb", "redis://u:s3cret@h/?db=x"} {
		_, err := redisconn.ParseDSN(bad)
		if !errors.Is(err, redisconn.ErrInvalidDSN) {
			t.Errorf("%s: err %v, want ErrInvalidDSN", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error shows the password: %v", bad, err)
		}
	}
	s, _ := redisconn.ParseDSN("redis://u:s3cret@h:1/0")
	if strings.Contains(s.String(), "s3cret") {
		t.Errorf("String shows the password: %s", s)
	}
}

func TestConnectRetriesThenNamesTheAddressNotThePassword(t *testing.T) {
	s, _ := redisconn.ParseDSN("redis://user:s3cret@127.0.0.1:1/0")
	s.ConnRetries, s.ConnRetryDelay = 2, time.Millisecond
	start := time.Now()
	_, err := redisconn.Connect(context.Background(), s, nil)
	var ce *redisconn.ConnectionError
	if !errors.As(err, &ce) || ce.Tries != 3 {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("message: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}
