package irc

import "net"

var _ net.Error = wouldBlockError{}

// Parking: an idle connection keeps no goroutine.
//
// Most of a user's IRC connections idle: their servers send a PING every
// few minutes and little else. A goroutine blocked in Read for each of
// them would keep its stack (about 10 KiB once a few lines were read),
// its g and its read buffer for the connection's whole life — a quarter
// of what a user costs. So, where the system allows it (Linux, plaintext
// and TLS: poll_linux.go), a connection is read without blocking: when a
// read finds nothing (errWouldBlock), the reading goroutine parks the
// connection — registers it with the Network's poller, one epoll set for
// all connections, for one readiness event — and returns, at once (a
// reader that waited a second for more first, as the handling goroutines
// linger, cost as much CPU per line under traffic in paired runs of the
// load tool, and kept a third more RSS per user). When the socket
// becomes readable (or hung up), the poller resumes the reading on a new
// goroutine (lineConn.resume: conn.read), with the same line queue, the
// same attempt and the same chain of steps (conn.step): an attempt stays
// handed off while it is parked, as it is between the dial and its
// reader. The line begun before the park is kept (lineReader.partial);
// the read buffer is given back (lineReader.release).
//
// Close wakes a parked connection: the socket closed, its reading resumes
// and fails as a blocked Read would, which ends the attempt (finish,
// attemptEnded, the reconnect) as before. Exactly one goroutine resumes a
// parked connection: the state goes from stateParked to stateRunning by
// compare-and-swap, by the poller (bytes arrived) or by Close (closed is
// set first); the reader checks closed after it set stateParked, so a
// Close that came before the park is not missed either.
//
// A full line queue still makes the reader wait (lineQueue.push): it is
// running then, not parked. A TLS connection parks as well: its socket is
// wrapped (parkSocket) before the handshake, which reads blocking; after
// it the wrapper reads without blocking, and crypto/tls hands the
// temporary errWouldBlock up, keeping any part of a record it read.

// errWouldBlock is a non-blocking read that found nothing to read: the
// connection parks (park.go). It is a temporary net.Error, so that
// crypto/tls, reading its records through a parking socket, returns it
// without keeping it as the connection's error: a TLS connection parks
// too, and its next Read goes on where it stopped.
var errWouldBlock error = wouldBlockError{}

type wouldBlockError struct{}

func (wouldBlockError) Error() string   { return "irc: nothing to read yet" }
func (wouldBlockError) Timeout() bool   { return false }
func (wouldBlockError) Temporary() bool { return true }

// The states of a connection's reading (lineConn.state).
const (
	stateRunning int32 = iota // a goroutine reads (or is about to)
	stateParked               // no goroutine reads: the poller or Close resumes it
)

// park is called by the reading goroutine when a read found nothing: it
// gives the read buffer back and registers the connection with the
// poller. It reports true when the goroutine must return (another resumes
// the reading when there is something to read, or the connection was
// closed), false when it must go on reading itself: closed before the
// park took hold, or the poller refused it (err, for the log: then reads
// block from now on, as on other systems).
func (c *lineConn) park() (parked bool, err error) {
	c.lr.release()
	c.state.Store(stateParked)
	if c.closed.Load() {
		// Close may have seen stateRunning and woken nobody: whoever
		// takes the state back resumes.
		return !c.state.CompareAndSwap(stateParked, stateRunning), nil
	}
	if err := c.arm(); err != nil {
		if !c.state.CompareAndSwap(stateParked, stateRunning) {
			return true, nil // Close resumed it meanwhile
		}
		c.blockReads()
		return false, err
	}
	return true, nil
}

// wake resumes a parked connection's reading on a new goroutine, unless
// it runs already. It never blocks; the poller and Close call it.
func (c *lineConn) wake() {
	if c.state.CompareAndSwap(stateParked, stateRunning) {
		c.resume()
	}
}
