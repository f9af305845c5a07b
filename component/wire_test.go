package component_test

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// A scripted XMPP server, for what no real server shows: stanzas a real
// server never routes to a component (from the gateway's own domain, to
// another domain) and elements it never forwards (comments). It speaks
// XEP-0114 on loopback and hands the test what the component writes.

const nsAccept = "jabber:component:accept"

type fakeServer struct {
	ln   net.Listener
	mu   sync.Mutex
	conn net.Conn
	in   chan *xmltree.Element
	done chan struct{}
}

func startFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ln: ln, in: make(chan *xmltree.Element, 100), done: make(chan struct{})}
	go f.serve()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		if f.conn != nil {
			f.conn.Close()
		}
		f.mu.Unlock()
		<-f.done
	})
	return f
}

// serve accepts the component, one connection after the other.
func (f *fakeServer) serve() {
	defer close(f.done)
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.conn != nil {
			f.conn.Close()
		}
		f.conn = conn
		f.mu.Unlock()
		f.stream(conn)
	}
}

// stream shakes hands (any secret) and reads what the component writes.
func (f *fakeServer) stream(conn net.Conn) {
	d := xml.NewDecoder(conn)
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				io.WriteString(conn, `<?xml version="1.0"?><stream:stream xmlns:stream="http://etherx.jabber.org/streams" xmlns="`+nsAccept+`" from="`+gw+`" id="fake-stream-1">`)
				depth++
				continue
			}
			el, err := xmltree.Read(t, d, 0)
			if err != nil {
				return
			}
			if el.Is(nsAccept, "handshake") {
				io.WriteString(conn, `<handshake/>`)
				continue
			}
			f.in <- el
		case xml.EndElement:
			return
		}
	}
}

func (f *fakeServer) send(t *testing.T, raw string) {
	t.Helper()
	if _, err := f.write(raw); err != nil {
		t.Fatalf("writing to the component: %v", err)
	}
}

// write writes raw to the current connection.
func (f *fakeServer) write(raw string) (int, error) {
	f.mu.Lock()
	conn := f.conn
	f.mu.Unlock()
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return io.WriteString(conn, raw)
}

// expect returns the next element the component wrote, failing the test
// when it is not what match accepts or nothing comes within 10 s.
func (f *fakeServer) expect(t *testing.T, what string, match func(*xmltree.Element) bool) *xmltree.Element {
	t.Helper()
	select {
	case el := <-f.in:
		if !match(el) {
			t.Fatalf("%s: got %s", what, el)
		}
		return el
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing within 10s", what)
	}
	return nil
}

// ping sends an XMPP ping from a user and expects its answer next: every
// stanza sent before it has been handled by then, so a stanza that got
// no answer before the pong was dropped.
func (f *fakeServer) ping(t *testing.T, id string) {
	t.Helper()
	f.send(t, `<iq type="get" id="`+id+`" from="alice@localhost/pc" to="`+gw+`"><ping xmlns="urn:xmpp:ping"/></iq>`)
	f.expect(t, "pong "+id, func(el *xmltree.Element) bool {
		return el.Is(nsAccept, "iq") && el.Attr("id") == id && el.Attr("type") == "result"
	})
}

type wireOptions struct {
	otherDomains []string
	maxStanza    int
}

// startOnFake runs a component against a fake server and returns its log.
func startOnFake(t *testing.T, f *fakeServer, o wireOptions) (*component.Component, *testenv.LogBuffer) {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "switchboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	ids, state := msgid.New(store), netstate.New(store)
	reg, err := registry.New(store, make([]byte, 32), ids, state)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	comp, err := component.New(component.Config{
		Domain:         gw,
		Server:         f.ln.Addr().String(),
		Secret:         secret,
		Network:        transportstest.New(map[string]string{legacyUsr: legacyPW}),
		Registry:       reg,
		Outbox:         outbox.New(store),
		MessageIDs:     ids,
		NetState:       state,
		OtherDomains:   o.otherDomains,
		MaxStanzaBytes: o.maxStanza,
		Version:        "test",
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		AdapterBackoff: transports.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		comp.Run(ctx)
		store.Close()
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("component log:\n%s", logs)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := comp.WaitConnected(wctx); err != nil {
		t.Fatalf("component did not connect to the fake server: %v\n%s", err, logs)
	}
	return comp, logs
}

func TestOversizeStanzaRefusedStreamKept(t *testing.T) {
	tests := []struct{ name, inner string }{
		{"text", strings.Repeat("t", 300<<10)},
		{"attribute", `<x a="` + strings.Repeat("a", 300<<10) + `"/>`},
		{"namespace declarations", strings.Repeat(`<x xmlns="urn:`+strings.Repeat("n", 1000)+`"/>`, 300)},
		// Counted only on the wire: parsed, each is one byte.
		{"entity references", strings.Repeat(`<x a="&amp;&amp;&amp;&amp;"/>`, 12<<10)},
		{"whitespace in tags", strings.Repeat(`<x`+strings.Repeat(" ", 1000)+`/>`, 300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeServer(t)
			comp, _ := startOnFake(t, f, wireOptions{})
			f.send(t, `<iq type="get" id="big" from="alice@localhost/pc" to="`+gw+`"><ping xmlns="urn:xmpp:ping">`+tt.inner+`</ping></iq>`)
			el := f.expect(t, "policy-violation for the oversize stanza", func(el *xmltree.Element) bool {
				return el.Is(nsAccept, "iq") && el.Attr("id") == "big"
			})
			e := el.Child("", "error")
			if el.Attr("type") != "error" || e.Child(nsStanzas, "policy-violation") == nil || !strings.Contains(e.ChildText(nsStanzas, "text"), "larger than 256 KiB") {
				t.Fatalf("answer = %s, want a policy-violation error naming the limit", el)
			}
			f.ping(t, "after") // the stream is kept and in step
			if n := comp.Stats().StreamConnects; n != 1 {
				t.Errorf("%d stream connects: the stream was not kept", n)
			}
		})
	}
}

// A comment or processing instruction is restricted XML (RFC 6120 §11.1):
// the XMPP library ends the stream on it, as the RFC requires, whatever
// its size; no server sends one (Prosody drops them). The component then
// reconnects and serves on.
func TestRestrictedXMLEndsStreamThenReconnects(t *testing.T) {
	for name, inner := range map[string]string{
		"comment":                `<!--` + strings.Repeat("c", 300<<10) + `-->`,
		"processing instruction": `<?pi ` + strings.Repeat("p", 300<<10) + `?>`,
	} {
		t.Run(name, func(t *testing.T) {
			f := startFakeServer(t)
			comp, _ := startOnFake(t, f, wireOptions{})
			f.write(`<iq type="get" id="big" from="alice@localhost/pc" to="` + gw + `"><ping xmlns="urn:xmpp:ping">` + inner + `</ping></iq>`)
			waitReconnect(t, comp, 2)
			f.ping(t, "after")
		})
	}
}

// An element far over the limit is not read to its end: past
// hardReadFactor times the limit, the stream is given up (the XML decoder
// would hold the token whole), and the component reconnects.
func TestEndlessElementDropsStream(t *testing.T) {
	f := startFakeServer(t)
	comp, logs := startOnFake(t, f, wireOptions{maxStanza: 16 << 10})
	f.write(`<message type="chat" id="m" from="alice@localhost/pc" to="echo@` + gw + `"><body>`)
	chunk := strings.Repeat("x", 64<<10)
	written := 0
	for written < 64<<20 {
		n, err := f.write(chunk)
		written += n
		if err != nil {
			break
		}
	}
	if written >= 64<<20 {
		t.Fatalf("the component read %d bytes of one element", written)
	}
	waitReconnect(t, comp, 2)
	f.ping(t, "after")
	if !strings.Contains(logs.String(), "far over the stanza size limit") {
		t.Errorf("the log does not say why the stream ended:\n%s", logs)
	}
}

// waitReconnect waits until the component has connected n times.
func waitReconnect(t *testing.T, comp *component.Component, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for comp.Stats().StreamConnects < n || !comp.Stats().Connected {
		if time.Now().After(deadline) {
			t.Fatalf("the component did not reconnect (%d connects)", comp.Stats().StreamConnects)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStanzasFromGatewayDomainsOrToOthersDropped(t *testing.T) {
	f := startFakeServer(t)
	_, logs := startOnFake(t, f, wireOptions{otherDomains: []string{"mail.localhost"}})
	const pw = "Secret-PW-8812"
	dropped := []struct{ name, stanza string }{
		{"from the gateway's domain", `<iq type="get" id="d1" from="` + gw + `" to="` + gw + `"><ping xmlns="urn:xmpp:ping"/></iq>`},
		{"from a contact of the gateway", `<iq type="get" id="d2" from="bob@` + gw + `/x" to="` + gw + `"><ping xmlns="urn:xmpp:ping"/></iq>`},
		{"from another gateway domain", `<iq type="get" id="d3" from="x@mail.localhost" to="` + gw + `"><ping xmlns="urn:xmpp:ping"/></iq>`},
		{"to another domain", `<iq type="get" id="d4" from="alice@localhost/pc" to="elsewhere.example"><ping xmlns="urn:xmpp:ping"/></iq>`},
		{"message from the gateway's domain", `<message type="chat" id="d5" from="bob@` + gw + `" to="echo@` + gw + `"><body>` + pw + `</body></message>`},
		{"register with an invalid sender", `<iq type="set" id="d6" from="a@b@c" to="` + gw + `"><query xmlns="jabber:iq:register"><username>u</username><password>` + pw + `</password></query></iq>`},
		{"register from the gateway's domain", `<iq type="set" id="d7" from="evil@` + gw + `" to="` + gw + `"><query xmlns="jabber:iq:register"><username>u</username><password>` + pw + `</password></query></iq>`},
		{"not a stanza", `<x xmlns="urn:example:not-a-stanza" id="d8" from="alice@localhost/pc" to="` + gw + `"><body>` + pw + `</body></x>`},
	}
	for i, tt := range dropped {
		t.Run(tt.name, func(t *testing.T) {
			f.send(t, tt.stanza)
			f.ping(t, "sync"+string(rune('a'+i))) // the pong comes first: nothing answered the stanza
		})
	}
	log := logs.String()
	if strings.Contains(log, pw) {
		t.Errorf("the log holds stanza content:\n%s", log)
	}
	for _, why := range []string{"invalid sender", "sender is a gateway domain", "recipient outside the gateway", "not a stanza"} {
		if !strings.Contains(log, why) {
			t.Errorf("no %q drop in the log:\n%s", why, log)
		}
	}
}

func TestVersionRevealsNoOS(t *testing.T) {
	f := startFakeServer(t)
	startOnFake(t, f, wireOptions{})
	// Anyone may ask, even a domain the gateway does not serve.
	f.send(t, `<iq type="get" id="v1" from="mallory@far.example/x" to="`+gw+`"><query xmlns="jabber:iq:version"/></iq>`)
	el := f.expect(t, "version", func(el *xmltree.Element) bool { return el.Is(nsAccept, "iq") && el.Attr("id") == "v1" })
	q := el.Child("jabber:iq:version", "query")
	if el.Attr("type") != "result" || q.ChildText("", "name") != "Switchboard" || q.ChildText("", "version") != "test" {
		t.Fatalf("version answer = %s", el)
	}
	if q.Child("", "os") != nil || len(q.Children) != 2 {
		t.Errorf("version answer tells more than name and version: %s", el)
	}
}
