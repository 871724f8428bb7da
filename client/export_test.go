package client

import "time"

// WithClock returns c with its clock replaced, for tests.
func WithClock(c *Client, now func() time.Time) *Client {
	c.now = now
	return c
}

// WaitingEnqueues is how many enqueues wait to be sent in a batch.
func WaitingEnqueues(c *Client) int {
	c.enq.mu.Lock()
	defer c.enq.mu.Unlock()
	return len(c.enq.waiting)
}

// MaxInFlight is how many enqueues go out before others wait for a batch.
const MaxInFlight = maxInFlight
