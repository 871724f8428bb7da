// Package redisconn holds arq's Settings and the connection goarq's
// client, worker and tools make from them: arq's DSN rules, TLS options,
// Sentinel, and create_pool's retries. The client and the worker both
// import it (package client keeps its old names as aliases), so the
// worker does not depend on the client.
package redisconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/internal/arqredis"
)

// Settings mirrors arq.connections.Settings. The zero value is not
// useful; start from DefaultSettings or ParseDSN.
type Settings struct {
	Host           string
	Port           int
	UnixSocketPath string
	Database       int
	Username       string
	Password       string

	SSL              bool
	SSLKeyfile       string
	SSLCertfile      string
	SSLCertReqs      string // "required" (default), "optional" or "none"
	SSLCACerts       string // a CA bundle file
	SSLCAData        string // PEM text
	SSLCheckHostname bool   // arq's default is False: the chain is verified, the name is not

	ConnTimeout    time.Duration // arq: conn_timeout, 1 s
	ConnRetries    int           // arq: conn_retries, 5
	ConnRetryDelay time.Duration // arq: conn_retry_delay, 1 s
	MaxConnections int           // 0: go-redis's default pool size

	// Sentinel: when true, SentinelAddrs lists the sentinels ("host:port")
	// and SentinelMaster names the master (default "mymaster").
	Sentinel       bool
	SentinelAddrs  []string
	SentinelMaster string
}

// DefaultSettings are arq's Settings() defaults.
func DefaultSettings() Settings {
	return Settings{
		Host: "localhost", Port: 6379, SSLCertReqs: "required",
		ConnTimeout: time.Second, ConnRetries: 5, ConnRetryDelay: time.Second,
		SentinelMaster: "mymaster",
	}
}

// ErrInvalidDSN is matched by errors.Is for every DSN that cannot be parsed.
var ErrInvalidDSN = errors.New("invalid Redis DSN")

// ParseDSN reads a Redis URL with arq's Settings.from_dsn rules:
// redis://, rediss:// (TLS) or unix:// schemes; the database from ?db= or
// else the path (/2); username and password from the authority. The error
// never repeats the password.
func ParseDSN(dsn string) (Settings, error) {
	s := DefaultSettings()
	u, err := url.Parse(dsn)
	if err != nil {
		return s, fmt.Errorf("%w: %s", ErrInvalidDSN, redactedParseError(dsn))
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return s, fmt.Errorf("%w: scheme %q, want redis, rediss or unix", ErrInvalidDSN, u.Scheme)
	}
	s.SSL = u.Scheme == "rediss"
	if h := u.Hostname(); h != "" {
		s.Host = h
	}
	if p := u.Port(); p != "" {
		if s.Port, err = strconv.Atoi(p); err != nil {
			return s, fmt.Errorf("%w: port %q", ErrInvalidDSN, p)
		}
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	if db := u.Query().Get("db"); db != "" {
		if s.Database, err = strconv.Atoi(db); err != nil {
			return s, fmt.Errorf("%w: db %q", ErrInvalidDSN, db)
		}
	} else if u.Scheme != "unix" {
		if p := strings.TrimLeft(u.Path, "/"); p != "" {
			if s.Database, err = strconv.Atoi(p); err != nil {
				return s, fmt.Errorf("%w: database %q", ErrInvalidDSN, p)
			}
		}
	}
	if u.Scheme == "unix" {
		s.UnixSocketPath = u.Path
	}
	return s, nil
}

func redactedParseError(dsn string) string {
	// url.Parse errors quote the whole URL; say what is wrong without it.
	if i := strings.Index(dsn, "://"); i >= 0 {
		return "malformed URL with scheme " + strconv.Quote(dsn[:i])
	}
	return "malformed URL"
}

// Addr is "host:port", or the socket path, or the sentinel list.
func (s Settings) Addr() string {
	switch {
	case s.UnixSocketPath != "":
		return s.UnixSocketPath
	case s.Sentinel:
		return "sentinel " + s.SentinelMaster + "@" + strings.Join(s.SentinelAddrs, ",")
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// String describes the settings with the password masked.
func (s Settings) String() string {
	scheme := "redis"
	if s.SSL {
		scheme = "rediss"
	}
	user := ""
	if s.Username != "" || s.Password != "" {
		user = s.Username
		if s.Password != "" {
			user += ":***"
		}
		user += "@"
	}
	return fmt.Sprintf("%s://%s%s/%d", scheme, user, s.Addr(), s.Database)
}

// LogValue keeps passwords out of structured logs.
func (s Settings) LogValue() slog.Value { return slog.StringValue(s.String()) }

func (s Settings) tlsConfig() (*tls.Config, error) {
	if !s.SSL {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.Host}
	if s.SSLCertfile != "" {
		cert, err := tls.LoadX509KeyPair(s.SSLCertfile, s.SSLKeyfile)
		if err != nil {
			return nil, fmt.Errorf("loading TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	var pool *x509.CertPool
	if s.SSLCACerts != "" || s.SSLCAData != "" {
		pool = x509.NewCertPool()
		if s.SSLCACerts != "" {
			pem, err := os.ReadFile(s.SSLCACerts)
			if err != nil {
				return nil, fmt.Errorf("reading TLS CA file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("no certificate found in TLS CA file %s", s.SSLCACerts)
			}
		}
		if s.SSLCAData != "" && !pool.AppendCertsFromPEM([]byte(s.SSLCAData)) {
			return nil, errors.New("no certificate found in TLS CA data")
		}
		cfg.RootCAs = pool
	}
	switch s.SSLCertReqs {
	case "none":
		cfg.InsecureSkipVerify = true
	case "", "required", "optional":
		if !s.SSLCheckHostname {
			// verify the chain against the roots, not the name (arq's default)
			cfg.InsecureSkipVerify = true
			optional := s.SSLCertReqs == "optional"
			cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					if optional {
						return nil
					}
					return errors.New("tls: server sent no certificate")
				}
				opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
				for _, c := range cs.PeerCertificates[1:] {
					opts.Intermediates.AddCert(c)
				}
				_, err := cs.PeerCertificates[0].Verify(opts)
				return err
			}
		}
	default:
		return nil, fmt.Errorf("ssl_cert_reqs %q: want required, optional or none", s.SSLCertReqs)
	}
	return cfg, nil
}

// NewClient builds a go-redis client for the settings without
// connecting: a plain client, or a failover client for Sentinel.
func NewClient(s Settings) (redis.UniversalClient, error) {
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	timeout := s.ConnTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	if s.Sentinel {
		if len(s.SentinelAddrs) == 0 {
			return nil, errors.New("sentinel is set but no sentinel addresses are given")
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: s.SentinelMaster, SentinelAddrs: s.SentinelAddrs,
			Username: s.Username, Password: s.Password, DB: s.Database,
			TLSConfig: tlsCfg, DialTimeout: timeout, PoolSize: s.MaxConnections, DialerRetries: 1,
		}), nil
	}
	opts := &redis.Options{
		Addr: s.Addr(), Username: s.Username, Password: s.Password, DB: s.Database,
		TLSConfig: tlsCfg, DialTimeout: timeout, PoolSize: s.MaxConnections,
		// one dial per attempt: Connect and the worker's loop do the retrying
		DialerRetries: 1,
	}
	if s.UnixSocketPath != "" {
		opts.Network = "unix"
	}
	return redis.NewClient(opts), nil
}

// ConnectionError is returned when Redis cannot be reached after the
// configured retries. It names the address, never the password.
type ConnectionError struct {
	Addr  string
	Tries int
	Err   error
}

func (e *ConnectionError) Error() string {
	return fmt.Sprintf("cannot connect to Redis at %s after %d tries: %v", e.Addr, e.Tries, e.Err)
}

func (e *ConnectionError) Unwrap() error { return e.Err }

// Connect builds a client and PINGs it, retrying ConnRetries times
// ConnRetryDelay apart like arq's create_pool, logging each failure.
func Connect(ctx context.Context, s Settings, log *slog.Logger) (redis.UniversalClient, error) {
	if log == nil {
		log = slog.Default()
	}
	rdb, err := NewClient(s)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		err = arqredis.New(rdb, log).Ping(ctx)
		if err == nil {
			if try > 0 {
				log.InfoContext(ctx, "redis connection successful")
			}
			return rdb, nil
		}
		if ctx.Err() != nil || try >= s.ConnRetries || isAuthError(err) {
			_ = rdb.Close()
			return nil, &ConnectionError{Addr: s.Addr(), Tries: try + 1, Err: err}
		}
		log.WarnContext(ctx, fmt.Sprintf("redis connection error %s %T %v, %d retries remaining...", s.Addr(), err, err, s.ConnRetries-try),
			"addr", s.Addr(), "error", err)
		select {
		case <-ctx.Done():
			_ = rdb.Close()
			return nil, &ConnectionError{Addr: s.Addr(), Tries: try + 1, Err: ctx.Err()}
		case <-time.After(s.ConnRetryDelay):
		}
	}
}

func isAuthError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH") || strings.Contains(msg, "invalid password") ||
		strings.Contains(msg, "invalid username-password")
}
