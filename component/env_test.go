package component_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

const (
	gw        = "fake.localhost"
	secret    = "s3cret"
	legacyPW  = "legacy-pw-Zq81"
	legacyUsr = "alice-legacy"
)

// env is a real Prosody with the component under test attached to it,
// bridging to the fake network.
type env struct {
	tune   func(*component.Config) // see newComponent
	p      testenv.XMPPServer
	net    *transportstest.Network
	legacy transports.Network // what the component bridges to: net, or a RoomNetwork around it
	reg    *registry.Registry
	out    *outbox.Outbox
	comp   *component.Component
	store  storage.Store // the running component's, while it runs
	logs   *testenv.LogBuffer
	dbPath string
	key    []byte
	cancel context.CancelFunc
	done   chan struct{}

	maxStanza int // Config.MaxStanzaBytes
	// archive, if set, gives the component a room archive with these
	// bounds (Config.Archive).
	archive *archive.Bounds
	// journal bounds the component's journal (Config.Journal).
	journal journal.Limits
}

type envOptions struct {
	tune    func(*component.Config) // adjusts the component's Config
	allowed []string
	prosody testenv.XMPPServer // reuse a server (Prosody or ejabberd)
	rooms   bool               // bridge to a fake network with rooms
	// caps adjusts the fake network's Capabilities before the component
	// starts.
	caps func(*transports.Capabilities)
	// maxStanza is Config.MaxStanzaBytes (0: the default).
	maxStanza int
	// archive, if set, gives the component a room archive (XEP-0313)
	// with these bounds.
	archive *archive.Bounds
	// journal bounds the component's journal (zero: the defaults).
	journal journal.Limits
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{p: o.prosody, logs: &testenv.LogBuffer{}, maxStanza: o.maxStanza, archive: o.archive, journal: o.journal}
	if e.p == nil {
		e.p = testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}})
	}
	accounts := map[string]string{legacyUsr: legacyPW}
	if o.rooms {
		rn := transportstest.NewRooms(accounts)
		e.net, e.legacy = rn.Network, rn
	} else {
		e.net = transportstest.New(accounts)
		e.legacy = e.net
	}
	if o.caps != nil {
		o.caps(&e.net.Caps)
	}
	e.tune = o.tune
	e.dbPath = filepath.Join(t.TempDir(), "switchboard.db")
	e.key = make([]byte, 32)
	rand.Read(e.key)
	e.start(t, e.key, o.allowed)
	return e
}

// start opens storage and runs a component; stop undoes it.
func (e *env) start(t *testing.T, key []byte, allowed []string) {
	t.Helper()
	store, err := bolt.Open(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	ids, state := msgid.New(store), netstate.New(store)
	e.reg, err = registry.New(store, key, ids, state)
	e.out = outbox.New(store)
	e.store = store
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var arch *archive.Archive
	if e.archive != nil {
		arch = archive.New(store, *e.archive)
	}
	e.comp, err = e.newComponent(component.Config{
		Domain:         gw,
		Server:         e.p.ComponentAddress(),
		Secret:         secret,
		Network:        e.legacy,
		Registry:       e.reg,
		Outbox:         e.out,
		MessageIDs:     ids,
		NetState:       state,
		AllowedDomains: allowed,
		Admins:         []string{"admin@localhost"},
		AdapterBackoff: transports.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond},
		Version:        "test",
		Logger:         log,
		MaxStanzaBytes: e.maxStanza,
		Archive:        arch,
		Journal:        journal.New(store, e.journal),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.comp.Run(ctx)
		store.Close()
	}()
	t.Cleanup(e.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("component log:\n%s", e.logs)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := e.comp.WaitConnected(wctx); err != nil {
		t.Fatalf("component did not connect to Prosody: %v\n%s", err, e.logs)
	}
}

func (e *env) stop() {
	e.cancel()
	<-e.done
}

// user creates an XMPP account on the Prosody and logs it in.
func (e *env) user(t *testing.T, local, resource string, priority int) *testenv.Client {
	t.Helper()
	j := e.p.CreateUser(t, local, "xmpp-pw")
	return e.p.Login(t, j, "xmpp-pw", resource, priority)
}

// register registers c with the data form and accepts the gateway's
// presence subscription, as a client's roster dialog would.
func (e *env) register(t *testing.T, c *testenv.Client) {
	t.Helper()
	res := c.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register">`+
		`<x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>`+
		`<field var="username"><value>`+legacyUsr+`</value></field>`+
		`<field var="password"><value>`+legacyPW+`</value></field>`+
		`</x></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("registration failed: %s", res)
	}
	sub := c.Expect(t, "subscription request from the gateway", isPresence(gw, "subscribe"))
	_ = sub
	c.Send(t, `<presence to="`+gw+`" type="subscribed"/>`)
	c.Send(t, `<presence to="`+gw+`" type="subscribe"/>`)
}

// waitOutboxEmpty waits up to 10 s for the outbox to be empty: a stanza
// is acknowledged once the server routed back the check written after it,
// which may be after its recipient got it.
func (e *env) waitOutboxEmpty(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.comp.Stats().OutboxPending != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox still holds %d stanzas after 10 s", e.comp.Stats().OutboxPending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) adapter(t *testing.T, user string) *transportstest.Adapter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := e.net.WaitAdapter(ctx, user)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, e.logs, e.p.Log())
	}
	return a
}

// Names of the elements the tests look for, in the "{namespace}local"
// form Element.Find takes: every match is by namespace and local name.
const (
	qDiscoInfo  = "{http://jabber.org/protocol/disco#info}query"
	qDiscoItems = "{http://jabber.org/protocol/disco#items}query"
	qRegister   = "{jabber:iq:register}query"
	qVersion    = "{jabber:iq:version}query"
	qGateway    = "{jabber:iq:gateway}query"
	qRoster     = "{jabber:iq:roster}query"
	qMUCAdmin   = "{http://jabber.org/protocol/muc#admin}query"
	xMUCUser    = "{http://jabber.org/protocol/muc#user}x"
	xData       = "{jabber:x:data}x"
	elCommand   = "{http://jabber.org/protocol/commands}command"
	elRSMSet    = "{http://jabber.org/protocol/rsm}set"
	nsStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// isStanza reports whether el is a client stanza named name.
func isStanza(el *testenv.Element, name string) bool { return testenv.IsStanza(el, name) }

func isPresence(from, typ string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool {
		return isStanza(el, "presence") && bareOf(el.Attr("from")) == from && el.Attr("type") == typ
	}
}

func isMessageFrom(from string) func(*testenv.Element) bool {
	return func(el *testenv.Element) bool {
		return isStanza(el, "message") && bareOf(el.Attr("from")) == from && el.Child("", "body") != nil
	}
}

func bareOf(s string) string {
	j, err := jid.Parse(s)
	if err != nil {
		return s
	}
	return j.Bare().String()
}

// bodyOf returns the text of el's body.
func bodyOf(el *testenv.Element) string {
	if b := el.Child("", "body"); b != nil {
		return b.Text
	}
	return ""
}

// errorCondition returns the condition and text of an error stanza.
func errorCondition(el *testenv.Element) (cond, text string) {
	e := el.Child("", "error")
	if e == nil {
		return "", ""
	}
	for _, c := range e.Children {
		switch {
		case c.Is(nsStanzas, "text"):
			text = c.Text
		case c.Name.Space == nsStanzas:
			cond = c.Name.Local
		}
	}
	return cond, text
}

func wantError(t *testing.T, el *testenv.Element, cond, textPart string) {
	t.Helper()
	if el.Attr("type") != "error" {
		t.Fatalf("want a %s error, got %s", cond, el)
	}
	c, text := errorCondition(el)
	if c != cond || !strings.Contains(text, textPart) {
		t.Fatalf("error = %s %q, want %s containing %q\n%s", c, text, cond, textPart, el)
	}
}
