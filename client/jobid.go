package client

import (
	"crypto/rand"
	"encoding/hex"
	"sync"

	"github.com/goarq/goarq/arqcompat"
)

// NewJobID returns a random id in the form of Python's uuid4().hex.
func NewJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return uuid4Hex(b)
}

func uuid4Hex(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// idSource makes a Client's job ids: uuid4 hex from crypto/rand, as
// NewJobID, drawn 32 ids at a time (one crypto/rand call costs about as
// much as formatting three ids).
type idSource struct {
	mu   sync.Mutex
	buf  [32 * 16]byte
	left int // unread bytes at the end of buf
}

const (
	idLen        = 32
	jobKeyLen    = len(arqcompat.JobKeyPrefix) + idLen
	resultKeyLen = len(arqcompat.ResultKeyPrefix) + idLen
)

// next returns a new id and its job and result keys, the three in one
// allocation (the id and the job key are parts of one string).
func (s *idSource) next() (id, jobKey, resultKey string) {
	var u [16]byte
	s.mu.Lock()
	if s.left < len(u) {
		_, _ = rand.Read(s.buf[:])
		s.left = len(s.buf)
	}
	used := s.buf[len(s.buf)-s.left:][:len(u)]
	copy(u[:], used)
	clear(used)
	s.left -= len(u)
	s.mu.Unlock()
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80

	var b [jobKeyLen + resultKeyLen]byte
	n := copy(b[:], arqcompat.JobKeyPrefix)
	hex.Encode(b[n:n+idLen], u[:])
	n += idLen
	n += copy(b[n:], arqcompat.ResultKeyPrefix)
	copy(b[n:], b[len(arqcompat.JobKeyPrefix):jobKeyLen])
	keys := string(b[:])
	return keys[len(arqcompat.JobKeyPrefix):jobKeyLen], keys[:jobKeyLen], keys[jobKeyLen:]
}
