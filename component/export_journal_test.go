package component

// JournalWriterQueued returns how many stanzas wait in the journal
// writer's queue, not yet taken into a batch.
func JournalWriterQueued(c *Component) int {
	w := c.writer
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}
