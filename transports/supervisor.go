package transports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Backoff is an exponential retry schedule with jitter.
type Backoff struct {
	Min time.Duration // first delay; default 1s
	Max time.Duration // ceiling; default 5m
}

// Delay returns the wait before retry number attempt (0-based): Min·2^attempt
// capped at Max, minus up to 20% jitter so that many users whose sessions
// dropped together do not reconnect in lockstep.
func (b Backoff) Delay(attempt int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi <= 0 {
		hi = 5 * time.Minute
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// Supervisor owns the adapters of one network: at most one per user. It
// connects them, restarts them with backoff when they fail, reports their
// state to the user's sink as StateEvents, and stops them. It is the one
// reconnect policy: an adapter only reports (Adapter.Done, or a Link of
// Account.Reconnect for a connection it redials itself), and the state the
// user sees is built here. All methods are safe for concurrent use.
type Supervisor struct {
	net     Network
	newSink func(user string) Sink
	log     *slog.Logger
	backoff Backoff
	clock   Clock

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	wg       sync.WaitGroup
}

// session is one user's place in the supervisor and in its reconnect
// policy. It keeps no goroutine and no context while connected: one
// goroutine runs while the session connects or waits out a backoff (run),
// none while it is connected (watch) or refused for good, and what ends
// those states (stop, or the adapter's end) resumes it with a plain
// callback. Exactly one goroutine calls finish, once the session is over.
type session struct {
	s      *Supervisor
	acct   Account
	sink   Sink
	policy Reconnect      // the session's own: link reports through it
	link   Link           // the session's state: Up and Lost
	over   sync.WaitGroup // done once the session finished

	mu      sync.Mutex
	adapter Adapter
	status  Status
	// stopped is set by stop (Stop, Close, a replacement); the session
	// finishes at its next step.
	stopped bool
	// While connecting or backing off: cancel ends that attempt's
	// context. While connected or refused for good: parked says which,
	// and so what stop runs to finish the session (resume, or finish).
	parked parking
	cancel context.CancelFunc
	// While connected (see watch): the adapter's policy and the
	// registration of its end.
	rc       *Reconnect
	stopDone func() bool
}

// NewSupervisor returns a supervisor for net. newSink gives the sink of a
// user's events; it is called once per started session.
func NewSupervisor(net Network, newSink func(user string) Sink, b Backoff, log *slog.Logger) *Supervisor {
	if log == nil {
		log = slog.Default()
	}
	return &Supervisor{
		net:      net,
		newSink:  newSink,
		log:      log.With("network", net.Name()),
		backoff:  b,
		clock:    realClock{},
		sessions: make(map[string]*session),
	}
}

// SetClock makes the supervisor read and wait on c instead of real time.
// It must be called before the first Start; tests use it to check the
// backoff without sleeping.
func (s *Supervisor) SetClock(c Clock) {
	s.mu.Lock()
	s.clock = c
	s.mu.Unlock()
}

// Network returns the network this supervisor runs adapters for.
func (s *Supervisor) Network() Network { return s.net }

// Start makes sure acct.User has a running session. A session that is
// already running with the same credentials is left alone; one with other
// credentials (the user registered again) is replaced.
func (s *Supervisor) Start(acct Account) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	old := s.sessions[acct.User]
	if old != nil && equalCreds(old.acct.Credentials, acct.Credentials) {
		s.mu.Unlock()
		return
	}
	if old != nil {
		delete(s.sessions, acct.User)
	}
	se := &session{s: s, acct: acct, sink: s.newSink(acct.User)}
	se.policy = Reconnect{backoff: s.backoff, clock: s.clock, report: se.setStatus}
	se.link = Link{r: &se.policy, reports: true}
	se.over.Add(1)
	s.sessions[acct.User] = se
	s.wg.Add(1)
	s.mu.Unlock()

	if old != nil {
		old.stop()
		old.over.Wait()
	}
	go se.run(nil)
}

// Stop ends user's session, if any, and waits until its adapter is closed.
func (s *Supervisor) Stop(user string) {
	s.mu.Lock()
	se := s.sessions[user]
	delete(s.sessions, user)
	s.mu.Unlock()
	if se == nil {
		return
	}
	se.stop()
	se.over.Wait()
	se.sink.Deliver(&StateEvent{Status: Status{State: StateDisconnected}})
}

// Restart closes user's session and connects it again at once.
func (s *Supervisor) Restart(user string) bool {
	s.mu.Lock()
	se := s.sessions[user]
	s.mu.Unlock()
	if se == nil {
		return false
	}
	s.Stop(user)
	s.Start(se.acct)
	return true
}

// Running reports whether user has a session (connected or not).
func (s *Supervisor) Running(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[user] != nil
}

// Adapter returns user's connected adapter, or nil.
func (s *Supervisor) Adapter(user string) Adapter {
	s.mu.Lock()
	se := s.sessions[user]
	s.mu.Unlock()
	if se == nil {
		return nil
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	return se.adapter
}

// Status returns the state of user's session.
func (s *Supervisor) Status(user string) Status {
	s.mu.Lock()
	se := s.sessions[user]
	s.mu.Unlock()
	if se == nil {
		return Status{State: StateDisconnected}
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	return se.status
}

// Users returns the users that have a session, sorted.
func (s *Supervisor) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	users := make([]string, 0, len(s.sessions))
	for u := range s.sessions {
		users = append(users, u)
	}
	sort.Strings(users)
	return users
}

// Close stops every session and waits for all of them.
func (s *Supervisor) Close() {
	s.mu.Lock()
	s.closed = true
	sessions := s.sessions
	s.sessions = make(map[string]*session)
	s.mu.Unlock()
	for _, se := range sessions {
		se.stop()
	}
	s.wg.Wait()
}

// log is the session's logger. It is made when something is logged, not
// kept: a connected session logs nothing, and a logger with the user's
// attribute costs each of them a few hundred bytes.
func (se *session) log() *slog.Logger { return se.s.log.With("user", se.acct.User) }

// stop makes the session finish: it ends the attempt under way, or
// resumes a connected or refused session on a goroutine of its own. It
// does not wait; se.over is done once the session finished.
func (se *session) stop() {
	se.mu.Lock()
	se.stopped = true
	cancel, parked := se.cancel, se.parked
	se.cancel, se.parked = nil, notParked
	se.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	switch parked {
	case parkedConnected:
		go se.resume()
	case parkedRefused:
		go se.finish()
	}
}

// finish ends the session: Stop, Start's replacement and Close wait for it.
func (se *session) finish() {
	se.over.Done()
	se.s.wg.Done()
}

// run connects the session, again after each failure's backoff, until it
// is connected (then watch takes over and the goroutine ends), refused
// for good, or stopped. last is why the session's previous adapter ended,
// nil at the start. The attempts' context lives only as long as run: the
// ctx given to Connect bounds that call, not the session.
func (se *session) run(last error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	se.mu.Lock()
	if se.stopped {
		se.mu.Unlock()
		se.finish()
		return
	}
	se.cancel = cancel
	se.mu.Unlock()
	err := last
	for {
		if err != nil && !se.failed(ctx, err) {
			return
		}
		se.setStatus(Status{State: StateConnecting})
		// Each adapter gets a policy of its own, detached before the
		// adapter is closed: a state it reports then would come after
		// the supervisor's.
		rc := NewReconnect(se.s.backoff, se.policy.clock, se.setStatus)
		a, cerr := se.s.connect(ctx, se, rc)
		if ctx.Err() != nil {
			rc.detach()
			if a != nil {
				se.s.close(se.log(), a)
			}
			se.finish()
			return
		}
		if cerr == nil {
			se.mu.Lock()
			se.adapter = a
			se.mu.Unlock()
			se.link.Up()
			se.log().Info("legacy session connected")
			se.watch(a, rc)
			return
		}
		rc.detach()
		err = cerr
	}
}

// watch waits, without a goroutine, for the first of the session being
// stopped (Stop, Close, a replacement) and the connected adapter a
// ending on its own, then resumes the session on a goroutine of its own:
// it closes a and, after an end of a's, applies the policy.
func (se *session) watch(a Adapter, rc *Reconnect) {
	se.mu.Lock()
	se.cancel = nil
	se.rc = rc
	if se.stopped {
		se.mu.Unlock()
		se.resume()
		return
	}
	se.parked = parkedConnected
	// Under se.mu, so that an end that fires at once finds it parked.
	se.stopDone = afterDone(a, se.adapterEnded)
	se.mu.Unlock()
}

// adapterEnded is the callback of the connected adapter's end: it resumes
// the session unless stop unparked it first.
func (se *session) adapterEnded() {
	se.mu.Lock()
	if se.parked != parkedConnected {
		se.mu.Unlock()
		return
	}
	se.parked = notParked
	se.mu.Unlock()
	se.resume()
}

// resume is run by the one that unparked the connected session (stop, or
// the adapter's end): it drops the other registration and goes on
// with ended.
func (se *session) resume() {
	se.mu.Lock()
	a, rc, stopDone := se.adapter, se.rc, se.stopDone
	se.adapter, se.rc, se.stopDone = nil, nil, nil
	se.mu.Unlock()
	if stopDone != nil {
		stopDone()
	}
	se.ended(a, rc)
}

// ended closes the adapter a that was connected, because the session was
// stopped or because a ended (its Err says why), and goes on from there.
func (se *session) ended(a Adapter, rc *Reconnect) {
	rc.detach()
	se.mu.Lock()
	stopped := se.stopped
	se.mu.Unlock()
	if stopped {
		se.s.close(se.log(), a)
		se.finish()
		return
	}
	err := a.Err()
	if err == nil {
		err = ErrUnavailable
	}
	se.s.close(se.log(), a)
	se.run(err)
}

// failed applies the policy to a session that failed to connect or
// dropped because of err. It reports whether to connect again (after the
// backoff, waited here within ctx); when it returns false the session is
// finished, or will be once it is stopped.
func (se *session) failed(ctx context.Context, err error) bool {
	switch {
	case errors.Is(err, ErrBadCredentials):
		se.log().Warn("legacy login refused", "err", err)
		se.setStatus(Status{State: StateBadCredentials, Text: err.Error()})
		se.refused()
		return false
	case errors.Is(err, ErrPolicy):
		// Retrying cannot change the gateway's own policy.
		se.log().Warn("legacy session refused by policy", "err", err)
		se.setStatus(Status{State: StateDisconnected, Text: err.Error()})
		se.refused()
		return false
	}
	se.log().Warn("legacy session failed; retrying after backoff", "err", err)
	if !se.link.Lost(ctx, err) {
		se.finish()
		return false
	}
	return true
}

// refused parks a session refused for good until it is stopped.
func (se *session) refused() {
	se.mu.Lock()
	se.cancel = nil
	if se.stopped {
		se.mu.Unlock()
		se.finish()
		return
	}
	se.parked = parkedRefused
	se.mu.Unlock()
}

// parking is what a session waits for without a goroutine.
type parking uint8

const (
	notParked       parking = iota
	parkedConnected         // connected: stop or the adapter's end resumes it
	parkedRefused           // refused for good: stop finishes it
)

// afterDone calls f on a goroutine of its own once a's Done is closed,
// until stop is called, as context.AfterFunc does for a context. An
// adapter that embeds Ending is waited for without a goroutine; any other
// costs one, ended by stop.
func afterDone(a Adapter, f func()) (stop func() bool) {
	if n, ok := a.(interface{ AfterEnd(func()) func() bool }); ok {
		return n.AfterEnd(f)
	}
	quit := make(chan struct{})
	var fired atomic.Bool // by the first of a's end and stop
	go func() {
		select {
		case <-a.Done():
			if fired.CompareAndSwap(false, true) {
				f()
			}
		case <-quit:
		}
	}()
	return func() bool {
		if !fired.CompareAndSwap(false, true) {
			return false
		}
		close(quit)
		return true
	}
}

// errPanic is what a session reports when the network's code panicked.
var errPanic = fmt.Errorf("%w: internal error in the transport", ErrUnavailable)

// connect calls the network's Connect, turning a panic into an error so
// that one user's session, not the process, pays for a bug or a hostile
// peer.
func (s *Supervisor) connect(ctx context.Context, se *session, rc *Reconnect) (a Adapter, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in Connect", "user", se.acct.User, "panic", v, "stack", string(debug.Stack()))
			a, err = nil, errPanic
		}
	}()
	acct := se.acct
	acct.Reconnect = rc
	return s.net.Connect(ctx, acct, se.sink)
}

// close closes a, recovering from a panic in the network's Close.
func (s *Supervisor) close(log *slog.Logger, a Adapter) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("panic in adapter Close", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	if err := a.Close(); err != nil {
		log.Warn("closing adapter", "err", err)
	}
}

// setStatus records st and tells the user, unless it is the state the
// session is in already (an adapter's connection reporting up while
// Connect returns).
func (se *session) setStatus(st Status) {
	se.mu.Lock()
	if se.status == st && st.State != StateConnecting {
		se.mu.Unlock()
		return
	}
	se.status = st
	se.mu.Unlock()
	se.sink.Deliver(&StateEvent{Status: st})
}

func equalCreds(a, b Credentials) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
