package component

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports"
)

// The component's side of transports.HookNetwork: it hands the network a
// Deliverer (itself), the network's shared store and the public URL of
// its handler, and keeps the handler for the HTTP listener to mount.

// attachHooks attaches a HookNetwork once, when the component is built.
func (c *Component) attachHooks() {
	hn, ok := c.net.(transports.HookNetwork)
	if !ok {
		return
	}
	h := hn.Attach(transports.Hooks{Deliver: c, Store: c.netStore(), PublicURL: c.cfg.HookURL, Credentials: hookCredentials{c}})
	if c.netCaps().Webhooks {
		c.hooks = h
	}
}

// HTTPHandler returns the network's webhook handler, to be mounted at
// /hooks/<network>/ with that prefix stripped, or nil when the network
// claims no Webhooks. It does no I/O.
func (c *Component) HTTPHandler() http.Handler { return c.hooks }

// netStore is the network's shared store (transports.NetStore).
func (c *Component) netStore() transports.NetStore {
	return &sharedStore{s: c.state.Shared(c.net.Name())}
}

// sharedStore gives netstate's shared state the errors of the transports
// contract.
type sharedStore struct{ s *netstate.Shared }

func notFound(err error) error {
	if errors.Is(err, netstate.ErrNotFound) {
		return fmt.Errorf("%w: %v", transports.ErrNotFound, err)
	}
	return err
}

func (s *sharedStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.s.Get(ctx, key)
	return v, notFound(err)
}

func (s *sharedStore) Put(ctx context.Context, key string, value []byte) error {
	return s.s.Put(ctx, key, value)
}

func (s *sharedStore) CompareAndSwap(ctx context.Context, key string, old, new []byte) (bool, error) {
	return s.s.CompareAndSwap(ctx, key, old, new)
}

func (s *sharedStore) Delete(ctx context.Context, key string) error {
	return s.s.Delete(ctx, key)
}

func (s *sharedStore) Scan(ctx context.Context, prefix string, fn func(string, []byte) error) error {
	return s.s.Scan(ctx, prefix, fn)
}

// Deliver implements transports.Deliverer: ev reaches user as if their
// session had delivered it (the same Sink code, on the user's owner
// goroutine), whether or not that session runs. It returns once the event
// was handled, with an error when it could not be stored.
func (c *Component) Deliver(ctx context.Context, user string, ev transports.Event) error {
	run := c.running.Load()
	if run == nil || (*run).Err() != nil {
		return fmt.Errorf("%w: the gateway is not running", transports.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	j, err := jid.Parse(user)
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
		return fmt.Errorf("%w: %q is not a bare JID", transports.ErrInvalidInput, user)
	}
	switch ev.(type) {
	case nil, *transports.StateEvent:
		// The connection state is the supervisor's to report.
		return fmt.Errorf("%w: %T cannot be delivered without a session", transports.ErrInvalidInput, ev)
	}
	if _, err := c.reg.Lookup(ctx, j.String(), c.net.Name()); errors.Is(err, registry.ErrNotRegistered) {
		return fmt.Errorf("%w: %s is not registered with %s", transports.ErrNotFound, j, c.net.Name())
	} else if err != nil {
		return fmt.Errorf("%w: looking up %s: %w", transports.ErrUnavailable, j, err)
	}
	s := &userSink{c: c, user: j, oneEvent: true}
	s.Deliver(ev)
	if !s.ran {
		return fmt.Errorf("%w: the gateway stopped before the event was handled", transports.ErrUnavailable)
	}
	if s.lost != nil {
		return fmt.Errorf("%w: %w", transports.ErrUnavailable, s.lost)
	}
	return nil
}
