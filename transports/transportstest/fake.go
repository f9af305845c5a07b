// Package transportstest provides a scriptable in-memory legacy network for
// the component's tests and benchmarks. It is a test fixture: it speaks no
// real protocol.
package transportstest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/switchboard-im/switchboard/transports"
)

// Network is a fake legacy network. Accounts maps usernames to passwords;
// logins with anything else fail with ErrBadCredentials. The contact
// "echo" answers every message with the same text.
type Network struct {
	NetName string // default "fake"
	Ident   transports.Identity
	// Caps is what Capabilities returns: by default the command "count"
	// only (New), or also rooms, reactions, typing and replies
	// (NewRooms). Tests may change it before the network is used.
	Caps transports.Capabilities

	mu          sync.Mutex
	accounts    map[string]string
	unreachable bool
	adapters    map[string]*Adapter // by Account.User
	connects    atomic.Int64
	seq         atomic.Int64
	changed     chan struct{}
	echoOpens   atomic.Int64 // files.go

	// Rooms (see RoomNetwork).
	seeds     map[transports.ID]RoomSeed
	listings  map[transports.ID][]transports.RoomInfo
	listCalls atomic.Int64

	// Profiles, contacts and servers (see profiles.go).
	prof profileState

	holdQueued bool // see HoldQueued

	// Unnamed makes the network give messages no IDs, as IRC servers
	// without msgid do: Send returns "" and the echo carries none. Set it
	// before the network is used.
	Unnamed bool
}

// New returns a fake network with the given username → password accounts.
func New(accounts map[string]string) *Network {
	n := &Network{
		NetName:  "fake",
		Ident:    transports.Identity{Category: "gateway", Type: "irc", Name: "Fake IRC"},
		Caps:     transports.Capabilities{Commands: []transports.Command{{Node: "count", Name: "Count my runs"}}},
		accounts: make(map[string]string),
		adapters: make(map[string]*Adapter),
		changed:  make(chan struct{}),
	}
	for u, p := range accounts {
		n.accounts[u] = p
	}
	return n
}

// Name implements transports.Network.
func (n *Network) Name() string { return n.NetName }

// Identity implements transports.Network.
func (n *Network) Identity() transports.Identity { return n.Ident }

// Capabilities implements transports.Network: n.Caps.
func (n *Network) Capabilities() transports.Capabilities { return n.Caps }

// LoginFields implements transports.Network.
func (n *Network) LoginFields() []transports.Field {
	return []transports.Field{
		{Name: "username", Label: "Username", Kind: transports.FieldText, Required: true, Legacy: "username", MaxLen: 64},
		{Name: "password", Label: "Password", Kind: transports.FieldSecret, Required: true, Legacy: "password"},
		{Name: "server", Label: "Server", Kind: transports.FieldText, Default: "fake.example"},
	}
}

// SetUnreachable makes logins fail with ErrUnavailable (true) or work
// again (false).
func (n *Network) SetUnreachable(v bool) {
	n.mu.Lock()
	n.unreachable = v
	n.mu.Unlock()
}

// SetPassword adds or changes an account.
func (n *Network) SetPassword(user, pass string) {
	n.mu.Lock()
	n.accounts[user] = pass
	n.mu.Unlock()
}

func (n *Network) check(creds transports.Credentials) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.unreachable {
		return fmt.Errorf("%w: fake.example: connection refused", transports.ErrUnavailable)
	}
	if creds["anonymous"] == "true" {
		return nil // an unregistered user of a RoomNetwork
	}
	if p, ok := n.accounts[creds["username"]]; !ok || p != creds["password"] {
		return fmt.Errorf("%w: Invalid username or password", transports.ErrBadCredentials)
	}
	return nil
}

// Validate implements transports.Network.
func (n *Network) Validate(ctx context.Context, creds transports.Credentials) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return n.check(creds)
}

// Connect implements transports.Network.
func (n *Network) Connect(ctx context.Context, acct transports.Account, sink transports.Sink) (transports.Adapter, error) {
	n.connects.Add(1)
	if err := n.check(acct.Credentials); err != nil {
		return nil, err
	}
	a := &Adapter{net: n, acct: acct, sink: sink, done: make(chan struct{}), sent: make(chan transports.Message, 1024), files: make(chan SentFiles, 64)}
	n.mu.Lock()
	n.adapters[acct.User] = a
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
	return a, nil
}

// Connects counts Connect calls.
func (n *Network) Connects() int64 { return n.connects.Load() }

// Adapter returns the latest adapter made for user, or nil.
func (n *Network) Adapter(user string) *Adapter {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.adapters[user]
}

// WaitAdapter waits until user has an open adapter and returns it.
func (n *Network) WaitAdapter(ctx context.Context, user string) (*Adapter, error) {
	for {
		n.mu.Lock()
		a, ch := n.adapters[user], n.changed
		n.mu.Unlock()
		if a != nil && !a.Closed() {
			return a, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("no adapter for %s: %w", user, ctx.Err())
		}
	}
}

// Adapter is one fake session.
type Adapter struct {
	net  *Network
	acct transports.Account
	sink transports.Sink

	mu       sync.Mutex
	closed   bool
	err      error
	done     chan struct{}
	presence []transports.Presence
	watched  [][]transports.ID  // see Watch
	onClose  []transports.Event // see EmitOnClose
	sent     chan transports.Message
	files    chan SentFiles // see SendFiles

	// Rooms (see RoomNetwork).
	rooms     map[transports.ID]*fakeRoom
	joins     []transports.ID
	left      []transports.ID
	kicks     []Kick
	reactions []Reaction
	typings   []Typing

	// Corrections and retractions (see edits.go).
	ed editLog

	// Queued messages awaiting confirmation (see pipeline.go).
	pipe pipeState
}

// Account returns the account the adapter was connected with.
func (a *Adapter) Account() transports.Account { return a.acct }

// Send implements transports.Adapter. Messages to "echo" come back.
func (a *Adapter) Send(ctx context.Context, m transports.Message) (transports.RemoteID, error) {
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return "", transports.ErrNotConnected
	}
	if m.To == "nobody" {
		return "", fmt.Errorf("%w: nobody: No such nick", transports.ErrNotFound)
	}
	id := transports.RemoteID("m" + strconv.FormatInt(a.net.seq.Add(1), 10))
	if a.net.Unnamed {
		id = ""
	} else {
		a.remember(m.To, id)
	}
	select {
	case a.sent <- m:
	default:
	}
	return a.arrived(m, id)
}

// arrived is what the network does once message m, known as id, reached
// it: a room echoes it, the contact "echo" answers.
func (a *Adapter) arrived(m transports.Message, id transports.RemoteID) (transports.RemoteID, error) {
	if m.Room {
		if err := a.sendRoom(m, id); err != nil {
			return "", err
		}
		return id, nil
	}
	if m.To == "echo" {
		a.sink.Deliver(&transports.MessageEvent{From: "echo", Body: m.Body, RemoteID: id + "e"})
	}
	return id, nil
}

// Sent returns the messages sent through the adapter, in order.
func (a *Adapter) Sent() <-chan transports.Message { return a.sent }

// SetPresence implements transports.Adapter.
func (a *Adapter) SetPresence(ctx context.Context, p transports.Presence) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.presence = append(a.presence, p)
	return nil
}

// Presences returns what SetPresence received.
func (a *Adapter) Presences() []transports.Presence {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]transports.Presence(nil), a.presence...)
}

// Emit delivers ev to the adapter's sink, as if the legacy network sent it.
func (a *Adapter) Emit(ev transports.Event) { a.sink.Deliver(ev) }

// Drop ends the session as a lost connection would.
func (a *Adapter) Drop(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
		close(a.done)
	}
}

// Done implements transports.Adapter.
func (a *Adapter) Done() <-chan struct{} { return a.done }

// Err implements transports.Adapter.
func (a *Adapter) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Close implements transports.Adapter. Held messages (see HoldQueued)
// fail with ErrNotConnected.
func (a *Adapter) Close() error {
	a.mu.Lock()
	a.closed = true
	last := a.onClose
	a.onClose = nil
	a.mu.Unlock()
	a.failHeld(transports.ErrNotConnected)
	for _, ev := range last {
		a.sink.Deliver(ev)
	}
	return nil
}

// EmitOnClose makes Close deliver evs before it returns, as a network
// connection delivers the last lines it reads while it closes (an IRC
// connection after QUIT): the component must keep them though it is
// stopping.
func (a *Adapter) EmitOnClose(evs ...transports.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onClose = append(a.onClose, evs...)
}

// Closed reports whether Close was called.
func (a *Adapter) Closed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// RunCommand implements transports.CommandRunner: the one command,
// "count", counts its runs in the adapter's Store (so tests see both
// work).
func (a *Adapter) RunCommand(ctx context.Context, node string) (string, error) {
	if node != "count" {
		return "", fmt.Errorf("%w: no command %q", transports.ErrNotFound, node)
	}
	if a.acct.Store == nil {
		return "", fmt.Errorf("%w: no store", transports.ErrUnavailable)
	}
	n := 0
	v, err := a.acct.Store.Get(ctx, "runs")
	switch {
	case err == nil:
		n, _ = strconv.Atoi(string(v))
	case !errors.Is(err, transports.ErrNotFound):
		return "", err
	}
	n++
	if err := a.acct.Store.Put(ctx, "runs", []byte(strconv.Itoa(n))); err != nil {
		return "", err
	}
	return "runs: " + strconv.Itoa(n), nil
}
