package irc

import (
	"sync"
	"sync/atomic"

	"github.com/lrstanley/girc"
)

// lineQueueLen is how many parsed lines of one connection may wait for
// their handling before its reader stops reading: the rest waits in the
// socket's buffer and, past it, in the server's send queue.
const lineQueueLen = 16

// lineQueue hands one connection's parsed lines from the goroutine that
// reads them to their handling, one line at a time and in the order they
// were read.
//
// It exists for memory, not speed. Every connection has a goroutine
// blocked in Read; if that goroutine also ran the handlers (the
// connection's state, the shared channel view, the component's Deliver,
// which may store and route), its stack would grow to the depth of the
// deepest of them (16 KiB) and keep that size while the connection idles,
// as all but a few do. So the reader only reads and parses, on a stack
// that stays small, and the handling runs on a goroutine that exists only
// while the connection has lines waiting: it starts with the first line
// pushed and ends when the queue is empty, giving its grown stack back.
// Each connection has at most one such goroutine at a time, so its lines
// are handled one after the other in the server's order, and a connection
// whose handling blocks (Deliver may block) holds up no other connection.
//
// The queue is bounded (lineQueueLen): push waits while it is full, so a
// slow consumer makes the reader wait rather than buffer without bound.
// A handler's error ends the handling: abort is called once (it closes
// the socket, so that the reader's next read fails), the lines still
// queued are dropped, and push reports false. The reader owns the
// handling goroutine: after its last push it calls wait, which returns
// once that goroutine is gone.
type lineQueue struct {
	handle func(*girc.Event) error
	abort  func()
	lines  chan *girc.Event
	// running: a handling goroutine runs (or is about to); only the one
	// that sets it from false to true starts one.
	running atomic.Bool
	wg      sync.WaitGroup // the handling goroutine
	failed  chan struct{}  // closed once a handler failed
	err     error          // the handler's error; set before failed is closed
}

// newLineQueue returns a queue whose lines are handled by handle; abort
// is called, from the handling goroutine, when handle fails.
func newLineQueue(handle func(*girc.Event) error, abort func()) *lineQueue {
	return &lineQueue{handle: handle, abort: abort, lines: make(chan *girc.Event, lineQueueLen), failed: make(chan struct{})}
}

// push queues e for its handling, starting the handling goroutine when
// none runs. It blocks while lineQueueLen lines wait. It reports false,
// without queueing e, once a handler failed: the reader stops reading.
// Only the reading goroutine calls push.
func (q *lineQueue) push(e *girc.Event) bool {
	select {
	case <-q.failed:
		return false
	default:
	}
	select {
	case q.lines <- e:
	case <-q.failed:
		return false
	}
	if q.running.CompareAndSwap(false, true) {
		q.wg.Add(1)
		go q.work()
	}
	return true
}

// work handles the queued lines in order until the queue is empty or a
// handler fails. Handlers recover their own panics (conn.dispatch).
func (q *lineQueue) work() {
	defer q.wg.Done()
	for {
		select {
		case e := <-q.lines:
			if err := q.handle(e); err != nil {
				// running stays true: no goroutine starts again.
				q.err = err
				close(q.failed)
				q.abort()
				return
			}
		default:
			q.running.Store(false)
			// A line pushed after the queue looked empty, whose pusher
			// saw running still true, is this goroutine's to handle;
			// if the pusher started a goroutine instead, that one has it.
			if len(q.lines) == 0 || !q.running.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// wait returns once the lines pushed so far are handled (or dropped after
// a handler's failure) and the handling goroutine is gone, with the
// handler's error if one failed, else readErr. Only the reading goroutine
// calls wait, after its last push.
func (q *lineQueue) wait(readErr error) error {
	q.wg.Wait()
	if q.err != nil {
		return q.err
	}
	return readErr
}
