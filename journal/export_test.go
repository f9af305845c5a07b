package journal

// Queued returns how many acknowledgements of network wait for the
// writer, for tests that need them queued before the write.
func Queued(j *Journal, network string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if a := j.acks[network]; a != nil {
		return len(a.queue)
	}
	return 0
}
