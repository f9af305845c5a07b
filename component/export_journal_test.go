package component

// JournalWriterQueued returns how many journaled stanzas wait in the
// journal writer's queue, not yet taken into a batch (stanzas that are
// not journaled, queued behind them for their order, are not counted).
func JournalWriterQueued(c *Component) int {
	w := c.writer
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, q := range w.queue {
		if q.user != "" {
			n++
		}
	}
	return n
}
