package e2e_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/transports"
)

// gateway runs a component for one network on a real XMPP server (Prosody,
// or ejabberd in the tests over both servers), on storage
// that survives restart, as an admin's restart of Switchboard would.
type gateway struct {
	p      testenv.XMPPServer
	domain string
	net    transports.Network
	logs   *testenv.LogBuffer
	dbPath string
	key    []byte
	stop   func() // stops the running component and closes its storage
	comp   *component.Component
	// archive, if set before start, gives the component a room archive
	// with these bounds.
	archive *archive.Bounds
	// hookURL, if set before start, is the public URL of the network's
	// webhooks (component.Config.HookURL).
	hookURL string
	// admins, if set before start, are the bare JIDs that may run the
	// admin commands (component.Config.Admins).
	admins []string
	// tune, if set, adjusts the component's config at each start, with
	// the storage it runs on.
	tune func(*component.Config, storage.Store)
	// openStore, if set before start, opens the component's storage
	// instead of the bbolt file at dbPath.
	openStore func(t *testing.T) storage.Store
}

// startGateway runs the component for network on p; it is stopped, and
// its log shown on failure, at cleanup.
func startGateway(t *testing.T, p testenv.XMPPServer, domain string, network transports.Network, logs *testenv.LogBuffer) *gateway {
	t.Helper()
	return startHookedGateway(t, p, domain, network, logs, "")
}

// startHookedGateway is startGateway for a network whose webhooks are
// served at hookURL (see gateway.hookURL).
func startHookedGateway(t *testing.T, p testenv.XMPPServer, domain string, network transports.Network, logs *testenv.LogBuffer, hookURL string) *gateway {
	t.Helper()
	g := newGateway(t, p, domain, network, logs, hookURL)
	g.start(t)
	return g
}

// newGateway is startHookedGateway's gateway before it starts, so fields
// such as admins can be set first.
func newGateway(t *testing.T, p testenv.XMPPServer, domain string, network transports.Network, logs *testenv.LogBuffer, hookURL string) *gateway {
	t.Helper()
	g := &gateway{p: p, domain: domain, net: network, logs: logs, hookURL: hookURL,
		dbPath: filepath.Join(t.TempDir(), "switchboard.db"), key: make([]byte, 32)}
	rand.Read(g.key)
	t.Cleanup(func() {
		if g.stop != nil {
			g.stop()
		}
		if t.Failed() {
			t.Logf("component log:\n%s", logs)
		}
	})
	return g
}

func (g *gateway) start(t *testing.T) {
	t.Helper()
	store := g.open(t)
	ids, state := msgid.New(store), netstate.New(store)
	also := []registry.UserData{ids, state}
	var arch *archive.Archive
	if g.archive != nil {
		arch = archive.New(store, *g.archive)
		also = append(also, arch)
	}
	reg, err := registry.New(store, g.key, also...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := component.Config{
		Domain: g.domain, Server: g.p.ComponentAddress(), Secret: secret,
		Network: g.net, Registry: reg,
		Outbox: outbox.New(store), MessageIDs: ids, NetState: state,
		AdapterBackoff: transports.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond},
		SendRate:       100, SendBurst: 100,
		Logger: debugLogger(g.logs),
		// Prosody's upload service is on 127.0.0.1 over plain http.
		Egress:  &egress.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		Archive: arch,
		// Always on in production (internal/app), so here too.
		Journal: journal.New(store, journal.Limits{}),
		HookURL: g.hookURL,
		Admins:  g.admins,
	}
	if g.tune != nil {
		g.tune(&cfg, store)
	}
	comp, err := component.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.comp = comp
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := comp.Run(ctx); err != nil {
			t.Errorf("component: %v", err)
		}
	}()
	g.stop = func() {
		cancel()
		<-done
		store.Close()
	}
	wctx, wcancel := context.WithTimeout(ctx, timeout)
	defer wcancel()
	if err := comp.WaitConnected(wctx); err != nil {
		t.Fatalf("component not connected: %v\n%s", err, g.p.Log())
	}
}

// open opens the component's storage: openStore's, or the bbolt file.
func (g *gateway) open(t *testing.T) storage.Store {
	t.Helper()
	if g.openStore != nil {
		return g.openStore(t)
	}
	store, err := bolt.Open(g.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func (g *gateway) restart(t *testing.T) {
	t.Helper()
	g.stop()
	g.stop = nil
	g.start(t)
}

func debugLogger(logs *testenv.LogBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
