package testenv

import (
	"testing"

	"mellium.im/xmpp/jid"
)

// XMPPServer is a real XMPP server a test attaches components to and logs
// users into: Prosody or ejabberd. Tests that must hold on every server
// the README names run as subtests over XMPPServers.
//
// Its methods fail the test on error; they block until the server did
// what was asked (an account exists, a client is logged in, the server
// stopped or listens again).
type XMPPServer interface {
	// Name names the server ("prosody", "ejabberd"), for subtest names.
	Name() string
	// Host is the virtual host users are created on ("localhost").
	Host() string
	// ComponentAddress is the XEP-0114 listener's address.
	ComponentAddress() string
	// CreateUser creates an account and returns its bare JID.
	CreateUser(t testing.TB, local, password string) jid.JID
	// Login logs a client in (closed at cleanup); when priority is not
	// negative it sends initial presence with that priority.
	Login(t testing.TB, user jid.JID, password, resource string, priority int) *Client
	// Log returns the server's log, for failure messages.
	Log() string
	// Stop stops the server, keeping its ports and data; Start starts it
	// again.
	Stop(t testing.TB)
	Start(t testing.TB)
}

// Name implements XMPPServer.
func (p *Prosody) Name() string { return "prosody" }

// Host implements XMPPServer.
func (p *Prosody) Host() string { return p.Domain }

// ComponentAddress implements XMPPServer.
func (p *Prosody) ComponentAddress() string { return p.ComponentAddr }

// Name implements XMPPServer.
func (e *Ejabberd) Name() string { return "ejabberd" }

// Host implements XMPPServer.
func (e *Ejabberd) Host() string { return e.Domain }

// ComponentAddress implements XMPPServer.
func (e *Ejabberd) ComponentAddress() string { return e.ComponentAddr }

// XMPPServers are the servers the gateway is tested against, by name; the
// README names these and no others.
var XMPPServers = []string{"prosody", "ejabberd"}

// StartXMPPServer starts the server named name (one of XMPPServers) with
// the given external components, owned by the test.
func StartXMPPServer(t testing.TB, name string, components map[string]string) XMPPServer {
	t.Helper()
	switch name {
	case "prosody":
		return StartProsody(t, ProsodyOptions{Components: components})
	case "ejabberd":
		return StartEjabberd(t, EjabberdOptions{Components: components})
	}
	t.Fatalf("no XMPP server named %q (have %v)", name, XMPPServers)
	return nil
}

// ForEachXMPPServer runs f as a subtest on a fresh server of each kind in
// XMPPServers, with the given components.
func ForEachXMPPServer(t *testing.T, components map[string]string, f func(t *testing.T, s XMPPServer)) {
	t.Helper()
	for _, name := range XMPPServers {
		t.Run(name, func(t *testing.T) {
			f(t, StartXMPPServer(t, name, components))
		})
	}
}
