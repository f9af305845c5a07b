package irc

import (
	"sync"
	"sync/atomic"
	"time"

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
// deepest of them (16 KiB and more) and keep that size while the
// connection idles, as all but a few do. So the reader only reads and
// parses, on a stack that stays small, and the handling runs on a
// handling goroutine (lineWorker) that holds the queue only while it has
// lines: it takes the queue at the first line pushed, gives it back when
// the queue is empty, and then waits a while (lineLinger) for any other
// connection's queue before it ends, giving its grown stack back. A queue
// is held by one handling goroutine at a time, so a connection's lines
// are handled one after the other in the server's order; and a
// connection whose handling blocks (Deliver may block) holds up no other
// connection: a queue finds an idle handling goroutine or starts one.
//
// The queue is bounded (lineQueueLen): push waits while it is full, so a
// slow consumer makes the reader wait rather than buffer without bound.
// A handler's error ends the handling: abort is called once (it closes
// the socket, so that the reader's next read fails), the lines still
// queued are dropped, and push reports false. After its last push the
// reader calls wait, which returns once no handling goroutine holds the
// queue any more.
//
// The waiting lines are a slice that exists only while lines wait, and
// the channel push waits on only while it waits: an idle connection's
// queue holds neither (a buffered channel of lineQueueLen lines and one
// to signal the failure cost every connection about 300 bytes).
type lineQueue struct {
	handle func(*girc.Event) error
	abort  func()

	mu    sync.Mutex
	lines []*girc.Event // waiting, oldest first; nil when none wait
	// room is made by a push that waits for room, and closed when a
	// line leaves the queue or a handler failed.
	room   chan struct{}
	failed bool  // a handler failed
	err    error // the handler's error
	// running: a handling goroutine holds the queue (or is about to);
	// set under mu, only by the push that hands the queue on.
	running atomic.Bool
	wg      sync.WaitGroup // held by a handling goroutine
}

// newLineQueue returns a queue whose lines are handled by handle; abort
// is called, from the handling goroutine, when handle fails.
func newLineQueue(handle func(*girc.Event) error, abort func()) *lineQueue {
	return &lineQueue{handle: handle, abort: abort}
}

// push queues e for its handling, handing the queue to a handling
// goroutine when none holds it. It blocks while lineQueueLen lines wait. It reports false,
// without queueing e, once a handler failed: the reader stops reading.
// Only the reading goroutine calls push.
func (q *lineQueue) push(e *girc.Event) bool {
	q.mu.Lock()
	for !q.failed && len(q.lines) >= lineQueueLen {
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()
		<-room
		q.mu.Lock()
	}
	if q.failed {
		q.mu.Unlock()
		return false
	}
	q.lines = append(q.lines, e)
	handOn := !q.running.Load()
	if handOn {
		q.running.Store(true)
		q.wg.Add(1)
	}
	q.mu.Unlock()
	if handOn {
		select {
		case lineWork <- q: // a handling goroutine that lingers takes it
		default:
			go lineWorker(q)
		}
	}
	return true
}

// take returns the next waiting line, or, when none waits, releases the
// queue (running false) and returns nil.
func (q *lineQueue) take() *girc.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.lines) == 0 {
		q.lines = nil
		q.running.Store(false)
		return nil
	}
	e := q.lines[0]
	q.lines[0] = nil
	q.lines = q.lines[1:]
	if len(q.lines) == 0 {
		q.lines = nil // the next push allocates again, as small as it needs
	}
	q.wakeLocked()
	return e
}

// wakeLocked lets a push that waits for room try again. Call with q.mu
// held.
func (q *lineQueue) wakeLocked() {
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
}

// lineWork hands a queue with lines waiting to a handling goroutine that
// is idle (lineWorker), if one is: unbuffered, so a send succeeds only
// when one waits.
var lineWork = make(chan *lineQueue)

// lineLinger is how long a handling goroutine waits for another queue
// before it ends. Under traffic the same goroutines handle line after
// line, with their stacks grown once, instead of one started (and its
// stack grown again) for every line; once the connections idle, they end
// within lineLinger, and no stack stays behind. They are the
// connections' in common: each handles one queue at a time, and a queue
// is handled by one at a time.
const lineLinger = time.Second

// lineWorker handles q, then every queue handed to it through lineWork,
// until none came for lineLinger. It needs no owner to stop it: it ends
// by itself, and the readers wait for their queues (wait), not for it.
func lineWorker(q *lineQueue) {
	idle := time.NewTimer(lineLinger)
	defer idle.Stop()
	for {
		q.work()
		q.wg.Done()
		q = nil // the connection is not kept while this goroutine lingers
		idle.Reset(lineLinger)
		select {
		case q = <-lineWork:
		case <-idle.C:
			return
		}
	}
}

// work handles the queued lines in order until the queue is empty or a
// handler fails, and then releases the queue (the caller marks it done).
// Handlers recover their own panics (conn.dispatch).
func (q *lineQueue) work() {
	for {
		e := q.take()
		if e == nil {
			return
		}
		if err := q.handle(e); err != nil {
			// running stays true: no goroutine takes it again.
			q.mu.Lock()
			q.err, q.failed = err, true
			q.lines = nil
			q.wakeLocked()
			q.mu.Unlock()
			q.abort()
			return
		}
	}
}

// wait returns once the lines pushed so far are handled (or dropped after
// a handler's failure) and no handling goroutine holds the queue, with the
// handler's error if one failed, else readErr. Only the reading goroutine
// calls wait, after its last push.
func (q *lineQueue) wait(readErr error) error {
	q.wg.Wait()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	return readErr
}
