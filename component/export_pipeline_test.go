package component

// Waiting reports whether lane work of user waits on their messages in
// flight (to settle, or for a place among them), so that a test confirms
// a message only once that wait began.
func Waiting(c *Component, user string) bool {
	c.flight.mu.Lock()
	defer c.flight.mu.Unlock()
	return c.flight.wake[user] != nil
}
