package transports

import "sync"

// Latch is an event that happens once (Set), and whose Done channel is
// made only when someone asks for it before the event: a value that most
// holders never wait on (a session's end, a room's first subject, an
// adapter's close) keeps no channel. Successive calls to Done return the
// same channel, as context.Context requires of its Done. The zero value
// is ready to use; a Latch must not be copied.
type Latch struct {
	mu   sync.Mutex
	set  bool
	done chan struct{} // made by Done (closedChan after Set); closed by Set
}

// closedChan is Done's channel once the latch is set.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done returns a channel closed once Set was called.
func (l *Latch) Done() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		if l.set {
			l.done = closedChan
		} else {
			l.done = make(chan struct{})
		}
	}
	return l.done
}

// IsSet reports whether Set was called.
func (l *Latch) IsSet() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.set
}

// Set sets the latch, closing Done's channel; it reports whether this
// call did (false: it was set already).
func (l *Latch) Set() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set {
		return false
	}
	l.set = true
	if l.done != nil {
		close(l.done)
	}
	return true
}
