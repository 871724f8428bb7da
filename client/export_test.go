package client

import "time"

// WithClock returns c with its clock replaced, for tests.
func WithClock(c *Client, now func() time.Time) *Client {
	c.now = now
	return c
}
