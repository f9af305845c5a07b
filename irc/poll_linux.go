package irc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// parkSupported: connections park on this system (park.go).
const parkSupported = true

// parkers is a Network's poller and the connections registered with it:
// one epoll set for all of them, watched by one goroutine (poller.run)
// that runs while at least one connection is registered. The Network owns
// it: the first registered connection starts it, the last one's Close
// stops it and waits for its end.
type parkers struct {
	// mu guards conns, next and p; arming a connection holds it for
	// reading, so that a registration is not taken away (nor its poller
	// stopped) under an epoll_ctl.
	mu    sync.RWMutex
	p     *poller
	conns map[uint64]*lineConn // by token, the epoll events' data
	next  uint64
}

// parkState is a lineConn's registration with its Network's poller.
type parkState struct {
	raw   syscall.RawConn // the socket; nil: the connection does not park
	ps    *parkSocket     // under a TLS connection; nil for plaintext
	set   *parkers
	p     *poller
	token uint64 // 0: not registered (never, or closed)
	added bool   // in p's epoll set (EPOLL_CTL_MOD re-arms it)
}

// enablePark makes lc read without blocking and park when idle, with the
// poller of set, if its socket allows it (a TCP connection, plaintext or
// TLS on a parkable socket; not a pipe); otherwise lc reads blocking, as
// before. Call it before the first read, and before anyone else can
// reach lc (Close).
func (set *parkers) enablePark(lc *lineConn) error {
	sock := lc.conn
	var ps *parkSocket
	if tc, ok := sock.(*tls.Conn); ok {
		if ps, ok = tc.NetConn().(*parkSocket); !ok {
			return nil
		}
		sock = ps.Conn
	}
	sc, ok := sock.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil // not a socket Go polls: blocking reads
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	if lc.closed.Load() {
		return nil
	}
	if set.p == nil {
		p, err := startPoller(set)
		if err != nil {
			return fmt.Errorf("irc: starting the poller of idle connections: %w", err)
		}
		set.p = p
	}
	if set.conns == nil {
		set.conns = make(map[uint64]*lineConn)
	}
	set.next++
	lc.pk = parkState{raw: raw, ps: ps, set: set, p: set.p, token: set.next}
	set.conns[set.next] = lc
	rr := rawReader{raw: raw, conn: sock}
	if ps != nil {
		ps.raw = &rr // crypto/tls reads through it from now on
	} else {
		lc.lr.src = rr
	}
	return nil
}

// blockReads makes the connection's reads block from now on (the poller
// refused it): it does not park again. Only the reading goroutine calls it.
func (c *lineConn) blockReads() {
	if c.pk.ps != nil {
		c.pk.ps.raw = nil
	} else {
		c.lr.src = c.conn
	}
}

// parkSocket is the socket under a TLS connection that may park: it reads
// blocking (the handshake) until enablePark makes its reads non-blocking,
// before the connection's first read by its reader.
type parkSocket struct {
	net.Conn
	raw *rawReader
}

// parkable wraps a TCP socket on which a TLS connection is to be made so
// that the connection can park once its handshake is done.
func parkable(c net.Conn) net.Conn {
	if _, ok := c.(syscall.Conn); !ok {
		return c
	}
	return &parkSocket{Conn: c}
}

func (s *parkSocket) Read(b []byte) (int, error) {
	if s.raw != nil {
		return s.raw.Read(b)
	}
	return s.Conn.Read(b)
}

// arm registers the connection's socket for one readiness event
// (EPOLLIN, EPOLLRDHUP, EPOLLONESHOT): the poller then wakes it. A closed
// connection is not armed (Close wakes it). The epoll_ctl runs inside
// RawConn.Control, so the descriptor cannot be closed and reused under
// it.
func (c *lineConn) arm() error {
	pk := &c.pk
	if pk.set == nil {
		return errors.New("irc: the connection cannot park")
	}
	pk.set.mu.RLock()
	defer pk.set.mu.RUnlock()
	if c.closed.Load() || pk.token == 0 {
		return nil
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	setToken(&ev, pk.token)
	op := syscall.EPOLL_CTL_ADD
	if pk.added {
		op = syscall.EPOLL_CTL_MOD
	}
	// Once armed, the connection may be resumed on another goroutine at
	// once: nothing of it is touched after a successful epoll_ctl. Before
	// it, no one else does (Close's disarm waits for mu).
	was := pk.added
	pk.added = true
	p, raw := pk.p, pk.raw
	var cerr error
	if err := raw.Control(func(fd uintptr) { cerr = syscall.EpollCtl(p.epfd, op, int(fd), &ev) }); err != nil {
		pk.added = was
		return err
	}
	if cerr != nil {
		pk.added = was
		return os.NewSyscallError("epoll_ctl", cerr)
	}
	return nil
}

// disarm takes the connection off its poller (Close); the last one stops
// the poller and waits for its goroutine to end.
func (c *lineConn) disarm() {
	pk := &c.pk
	set := pk.set
	if set == nil {
		return
	}
	var stop *poller
	set.mu.Lock()
	if pk.token != 0 {
		delete(set.conns, pk.token)
		if pk.added {
			// A closed descriptor leaves the set by itself; removing it
			// first keeps the set exact while Go's close waits for the
			// socket's other users.
			_ = pk.raw.Control(func(fd uintptr) { _ = syscall.EpollCtl(pk.p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
		}
		pk.token, pk.added = 0, false
		if len(set.conns) == 0 && set.p == pk.p {
			stop, set.p = set.p, nil
		}
	}
	set.mu.Unlock()
	if stop != nil {
		stop.stop()
	}
}

// setToken puts a connection's token in an epoll event's data (the
// Fd and Pad fields of syscall.EpollEvent are its 64 bits).
func setToken(ev *syscall.EpollEvent, t uint64) {
	ev.Fd, ev.Pad = int32(uint32(t)), int32(uint32(t>>32))
}

func token(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// poller is one epoll set and the goroutine that waits on it (run). A
// pipe wakes it to end: its read end is in the set with token 0.
type poller struct {
	epfd   int
	wakeR  int
	wakeW  int
	done   chan struct{} // closed when run returned
	events []syscall.EpollEvent
}

func startPoller(set *parkers) (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // token 0
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	p := &poller{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], done: make(chan struct{}), events: make([]syscall.EpollEvent, 64)}
	go p.run(set)
	return p, nil
}

// run waits for readiness events and wakes the connections they name
// (lineConn.wake starts their reading goroutine; it never blocks), until
// stop writes to the pipe.
func (p *poller) run(set *parkers) {
	defer close(p.done)
	for {
		n, err := syscall.EpollWait(p.epfd, p.events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			// Not expected of a valid epoll descriptor; the parked
			// connections are still woken by their Close.
			return
		}
		for i := range p.events[:n] {
			t := token(&p.events[i])
			if t == 0 {
				return // stop
			}
			set.mu.RLock()
			c := set.conns[t]
			set.mu.RUnlock()
			if c != nil {
				c.wake()
			}
		}
	}
}

// stop ends run, waits for it, and closes the poller's descriptors. No
// connection is registered with it any more.
func (p *poller) stop() {
	for {
		_, err := syscall.Write(p.wakeW, []byte{1})
		if err != syscall.EINTR {
			break
		}
	}
	<-p.done
	syscall.Close(p.epfd)
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
}

// rawReader reads a socket without blocking: a read that finds nothing
// returns errWouldBlock at once instead of waiting in Go's netpoller (the
// read function returns true: done). A closed connection's read fails
// with net.ErrClosed, as a blocked Read does.
type rawReader struct {
	raw  syscall.RawConn
	conn net.Conn // for errors
}

func (r rawReader) Read(b []byte) (int, error) {
	var (
		n     int
		errno error
	)
	err := r.raw.Read(func(fd uintptr) bool {
		for {
			n, errno = syscall.Read(int(fd), b)
			if errno != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno == syscall.EAGAIN:
		return 0, errWouldBlock
	case errno != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: r.conn.LocalAddr(), Addr: r.conn.RemoteAddr(), Err: os.NewSyscallError("read", errno)}
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}
