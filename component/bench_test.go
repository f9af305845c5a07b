package component_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// streamServer is the server end of one XEP-0114 stream, for benchmarks
// that must measure the component alone, without an XMPP server's cost.
type streamServer struct {
	ln   net.Listener
	conn net.Conn
	w    *bufio.Writer
	d    *xml.Decoder
}

func newStreamServer(tb testing.TB) *streamServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return &streamServer{ln: ln}
}

// accept takes the component's connection and checks its handshake.
func (s *streamServer) accept(tb testing.TB, secret string) {
	tb.Helper()
	conn, err := s.ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	s.conn, s.w, s.d = conn, bufio.NewWriter(conn), xml.NewDecoder(conn)
	if _, err := s.d.Token(); err != nil { // <stream:stream>
		tb.Fatal(err)
	}
	const id = "bench-stream"
	fmt.Fprintf(s.w, `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' id='%s' from='%s'>`, id, gw)
	s.w.Flush()
	var hs struct {
		XMLName xml.Name `xml:"handshake"`
		Value   string   `xml:",chardata"`
	}
	if err := s.d.Decode(&hs); err != nil {
		tb.Fatal(err)
	}
	sum := sha1.Sum([]byte(id + secret))
	if hs.Value != hex.EncodeToString(sum[:]) {
		tb.Fatalf("bad handshake %q", hs.Value)
	}
	s.w.WriteString("<handshake/>")
	s.w.Flush()
}

func (s *streamServer) send(tb testing.TB, stanza string) {
	if _, err := s.w.WriteString(stanza); err != nil {
		tb.Fatal(err)
	}
	if err := s.w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// next returns the next top-level stanza the component sent.
func (s *streamServer) next(tb testing.TB) (name string, attrs map[string]string) {
	for {
		tok, err := s.d.Token()
		if err != nil {
			if err == io.EOF {
				tb.Fatal("stream closed")
			}
			tb.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			attrs = make(map[string]string, len(se.Attr))
			for _, a := range se.Attr {
				attrs[a.Name.Local] = a.Value
			}
			if err := s.d.Skip(); err != nil {
				tb.Fatal(err)
			}
			if se.Name.Local == "iq" && attrs["to"] == gw {
				// The outbox's check, addressed to the component itself:
				// route it back as a real server does.
				s.send(tb, fmt.Sprintf(`<iq type='%s' id='%s' from='%s' to='%s'/>`, attrs["type"], attrs["id"], attrs["from"], attrs["to"]))
				continue
			}
			return se.Name.Local, attrs
		}
	}
}

// BenchmarkStanzaPath measures one message from the XMPP stream through
// the component to the adapter, and the legacy answer back through the
// outbox (stored durably) to the stream.
func BenchmarkStanzaPath(b *testing.B) { benchStanzaPath(b, false) }

// BenchmarkStanzaPathJournal is BenchmarkStanzaPath with the inbound
// journal on (Config.Journal): the message is written to storage when
// read and removed once sent. Run both interleaved to compare.
func BenchmarkStanzaPathJournal(b *testing.B) { benchStanzaPath(b, true) }

func benchStanzaPath(b *testing.B, journaled bool) {
	srv := newStreamServer(b)
	store, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	ids, state := msgid.New(store), netstate.New(store)
	reg, err := registry.New(store, key, ids, state)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := reg.Register(ctx, "u@localhost", "fake", map[string]string{"username": legacyUsr, "password": legacyPW}); err != nil {
		b.Fatal(err)
	}
	net := transportstest.New(map[string]string{legacyUsr: legacyPW})
	cfg := component.Config{
		Domain: gw, Server: srv.ln.Addr().String(), Secret: secret, Network: net, Registry: reg,
		Outbox: outbox.New(store), MessageIDs: ids, NetState: state,
		SendRate: 1e9, SendBurst: 1 << 30,
		// The path, not the per-user policy, is measured: one user gets
		// every answer.
		IncomingPerMinute: 1 << 30,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if journaled {
		cfg.Journal = journal.New(store, journal.Limits{})
	}
	comp, err := component.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); comp.Run(ctx); store.Close() }()
	b.Cleanup(func() { cancel(); <-done })

	srv.accept(b, secret)
	if name, a := srv.next(b); name != "presence" || a["type"] != "probe" {
		b.Fatalf("first stanza %s %v, want a probe", name, a)
	}
	srv.send(b, `<presence from="u@localhost/r" to="`+gw+`"/>`)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if _, err := net.WaitAdapter(wctx, "u@localhost"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := strconv.Itoa(i)
		srv.send(b, `<message from="u@localhost/r" to="echo@`+gw+`" type="chat" id="`+id+`"><body>hello `+id+`</body></message>`)
		for {
			name, a := srv.next(b)
			if name == "message" && a["from"] == "echo@"+gw {
				break
			}
		}
	}
	b.StopTimer()
}

// BenchmarkStartup10kRegistrations measures a component start with 10 000
// stored registrations: opening storage, building the component, and the
// probes sent to every registered user on connection.
func BenchmarkStartup10kRegistrations(b *testing.B) {
	dir := b.TempDir()
	dbPath := filepath.Join(dir, "bench.db")
	key := make([]byte, 32)
	rand.Read(key)
	store, err := bolt.Open(dbPath)
	if err != nil {
		b.Fatal(err)
	}
	reg, err := registry.New(store, key)
	if err != nil {
		b.Fatal(err)
	}
	const users = 10000
	for i := range users {
		u := "user" + strconv.Itoa(i) + "@localhost"
		if err := reg.Register(context.Background(), u, "fake", map[string]string{"username": "u", "password": "p"}); err != nil {
			b.Fatal(err)
		}
	}
	store.Close()
	net := transportstest.New(nil)

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		srv := newStreamServer(b)
		store, err := bolt.Open(dbPath)
		if err != nil {
			b.Fatal(err)
		}
		ids, state := msgid.New(store), netstate.New(store)
		reg, err := registry.New(store, key, ids, state)
		if err != nil {
			b.Fatal(err)
		}
		comp, err := component.New(component.Config{
			Domain: gw, Server: srv.ln.Addr().String(), Secret: secret, Network: net, Registry: reg,
			Outbox: outbox.New(store), MessageIDs: ids, NetState: state,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); comp.Run(ctx) }()
		srv.accept(b, secret)
		for range users {
			if name, _ := srv.next(b); name != "presence" {
				b.Fatalf("got %s, want probes", name)
			}
		}
		cancel()
		<-done
		store.Close()
	}
}
