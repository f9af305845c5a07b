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

type session struct {
	acct   Account
	sink   Sink
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	adapter Adapter
	status  Status
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
	ctx, cancel := context.WithCancel(context.Background())
	se := &session{acct: acct, sink: s.newSink(acct.User), cancel: cancel, done: make(chan struct{})}
	s.sessions[acct.User] = se
	s.wg.Add(1)
	s.mu.Unlock()

	if old != nil {
		old.cancel()
		<-old.done
	}
	go s.newRun(ctx, se).connectLoop()
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
	se.cancel()
	<-se.done
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
		se.cancel()
	}
	s.wg.Wait()
}

// sessionRun is one session's place in the reconnect policy. It is
// carried from goroutine to goroutine: one runs while the session
// connects or waits out a backoff, none while it is connected (the end of
// the adapter or of the session's context resumes it, see watch), so a
// connected user costs the supervisor no goroutine. Exactly one of them
// calls finish, once the session is over.
type sessionRun struct {
	s     *Supervisor
	ctx   context.Context
	se    *session
	clock Clock
	link  *Link

	// While connected (see watch): the adapter, its policy, and the
	// two registrations that resume the session, the first of which
	// to fire wins (fired). watchMu is held while they are made.
	watchMu  sync.Mutex
	fired    atomic.Bool
	adapter  Adapter
	rc       *Reconnect
	stopCtx  func() bool
	stopDone func() bool
}

func (s *Supervisor) newRun(ctx context.Context, se *session) *sessionRun {
	s.mu.Lock()
	clock := s.clock
	s.mu.Unlock()
	return &sessionRun{
		s:     s,
		ctx:   ctx,
		se:    se,
		clock: clock,
		link:  NewReconnect(s.backoff, clock, se.setStatus).Link(true),
	}
}

// log is the session's logger. It is made when something is logged, not
// kept: a connected session logs nothing, and a logger with the user's
// attribute costs each of them a few hundred bytes.
func (r *sessionRun) log() *slog.Logger { return r.s.log.With("user", r.se.acct.User) }

// finish ends the session: Stop, Start's replacement and Close wait for it.
func (r *sessionRun) finish() {
	close(r.se.done)
	r.s.wg.Done()
}

// connectLoop connects the session, again after each failure's backoff,
// until it is connected (then watch takes over and the goroutine ends),
// refused for good, or stopped.
func (r *sessionRun) connectLoop() {
	for {
		r.se.setStatus(Status{State: StateConnecting})
		// Each adapter gets a policy of its own, detached before the
		// adapter is closed: a state it reports then would come after
		// the supervisor's.
		rc := NewReconnect(r.s.backoff, r.clock, r.se.setStatus)
		a, err := r.s.connect(r.ctx, r.se, rc)
		if r.ctx.Err() != nil {
			rc.detach()
			if a != nil {
				r.s.close(r.log(), a)
			}
			r.finish()
			return
		}
		if err == nil {
			r.se.mu.Lock()
			r.se.adapter = a
			r.se.mu.Unlock()
			r.link.Up()
			r.log().Info("legacy session connected")
			r.watch(a, rc)
			return
		}
		rc.detach()
		if !r.failed(err) {
			return
		}
	}
}

// watch waits, without a goroutine, for the first of the session's
// context ending (Stop, Close, a replacement) and the connected adapter
// a ending on its own, then resumes the session on a goroutine of its
// own: it closes a and, after an end of a's, applies the policy.
func (r *sessionRun) watch(a Adapter, rc *Reconnect) {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	r.fired.Store(false)
	r.adapter, r.rc = a, rc
	r.stopCtx = context.AfterFunc(r.ctx, r.resume)
	r.stopDone = afterDone(a, r.resume)
}

// resume is watch's callback, run on a goroutine of its own by the first
// of the two registrations to fire (later ones do nothing). A loser whose
// goroutine was already started when the winner stopped it can only be
// the context's, which stays ended: should it win a later watch, the
// session is over anyway, and ended closes that watch's adapter.
func (r *sessionRun) resume() {
	if !r.fired.CompareAndSwap(false, true) {
		return
	}
	r.watchMu.Lock()
	r.stopCtx()
	r.stopDone()
	a, rc := r.adapter, r.rc
	r.adapter, r.rc, r.stopCtx, r.stopDone = nil, nil, nil, nil
	r.watchMu.Unlock()
	r.ended(a, rc)
}

// ended closes the adapter a that was connected, because the session was
// stopped or because a ended (its Err says why), and goes on from there.
func (r *sessionRun) ended(a Adapter, rc *Reconnect) {
	rc.detach()
	r.se.clearAdapter()
	if r.ctx.Err() != nil {
		r.s.close(r.log(), a)
		r.finish()
		return
	}
	err := a.Err()
	if err == nil {
		err = ErrUnavailable
	}
	r.s.close(r.log(), a)
	if r.failed(err) {
		r.connectLoop()
	}
}

// failed applies the policy to a session that failed to connect or
// dropped because of err. It reports whether to connect again (after the
// backoff, waited here); when it returns false the session is finished,
// or will be once its context ends.
func (r *sessionRun) failed(err error) bool {
	switch {
	case errors.Is(err, ErrBadCredentials):
		r.log().Warn("legacy login refused", "err", err)
		r.se.setStatus(Status{State: StateBadCredentials, Text: err.Error()})
		context.AfterFunc(r.ctx, r.finish)
		return false
	case errors.Is(err, ErrPolicy):
		// Retrying cannot change the gateway's own policy.
		r.log().Warn("legacy session refused by policy", "err", err)
		r.se.setStatus(Status{State: StateDisconnected, Text: err.Error()})
		context.AfterFunc(r.ctx, r.finish)
		return false
	}
	r.log().Warn("legacy session failed; retrying after backoff", "err", err)
	if !r.link.Lost(r.ctx, err) {
		r.finish()
		return false
	}
	return true
}

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

func (se *session) clearAdapter() {
	se.mu.Lock()
	se.adapter = nil
	se.mu.Unlock()
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
