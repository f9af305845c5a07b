package component

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	xmppcomponent "mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
)

// scriptedStream is the server end of one XEP-0114 stream on loopback:
// it answers the component's handshake and then hands what the
// component writes to the test through its decoder.
type scriptedStream struct {
	conn net.Conn
	d    *xml.Decoder
}

// sendingComponent returns a component whose stream is up against a
// scripted server, with nothing else running: what the test writes
// through it is all that goes on the wire.
func sendingComponent(tb testing.TB) (*Component, *scriptedStream) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	const secret, id = "s3cret", "scripted-stream"
	domain := jid.MustParse("gw.localhost")
	srvErr := make(chan error, 1)
	srv := &scriptedStream{}
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		srv.conn, srv.d = conn, xml.NewDecoder(conn)
		if _, err := srv.d.Token(); err != nil { // <stream:stream>
			srvErr <- err
			return
		}
		fmt.Fprintf(conn, `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' id='%s' from='%s'>`, id, domain)
		var hs struct {
			XMLName xml.Name `xml:"handshake"`
			Value   string   `xml:",chardata"`
		}
		if err := srv.d.Decode(&hs); err != nil {
			srvErr <- err
			return
		}
		if sum := sha1.Sum([]byte(id + secret)); hs.Value != hex.EncodeToString(sum[:]) {
			srvErr <- fmt.Errorf("bad handshake %q", hs.Value)
			return
		}
		_, err = io.WriteString(conn, "<handshake/>")
		srvErr <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := xmppcomponent.NewSession(ctx, domain, []byte(secret), streamConn{Conn: conn})
	if err != nil {
		tb.Fatal(err)
	}
	if err := <-srvErr; err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.conn.Close() })
	c := &Component{domain: domain}
	c.sess = sess
	return c, srv
}

// drain reads and throws away what the component writes until the
// connection closes.
func (s *scriptedStream) drain(tb testing.TB) {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(io.Discard, s.conn)
	}()
	tb.Cleanup(func() { s.conn.Close(); <-done })
}

// TestConcurrentSendsArriveWhole writes large stanzas from many
// goroutines at once, through send (the component's bytes) and through
// mellium's own encoder (which writes a large stanza in several pieces),
// and checks on the wire that every stanza arrives whole and once: a
// write that did not hold the session's write lock would land inside
// another stanza.
func TestConcurrentSendsArriveWhole(t *testing.T) {
	c, srv := sendingComponent(t)
	sess := c.session()
	const (
		senders   = 8
		perSender = 12
		bodyBytes = 48 << 10 // several of the session encoder's 4 KiB writes
	)
	// Characters to escape all along, so that the session's encoder
	// writes each of its stanzas in many pieces.
	body := func(sender, i int) string {
		return strings.Repeat(string(rune('a'+sender))+strconv.Itoa(i)+"&<", bodyBytes/6)
	}
	// Half the senders write through send, half through the session's
	// encoder, as mellium's own writes (stream errors, its IQ answers) do.
	ctx := context.Background()
	errs := make(chan error, senders*perSender)
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perSender; i++ {
				m := &stanza.Message{ID: fmt.Sprintf("%d-%d", s, i), Type: "chat", From: "a@gw.localhost", To: "u@localhost", Body: body(s, i)}
				if s%2 == 0 {
					errs <- c.send(ctx, m)
				} else {
					errs <- sess.Encode(ctx, m)
				}
			}
		}()
	}
	// Once all is written, the component's end closes, so a stanza that
	// never arrives whole fails the reading below rather than hanging it.
	go func() {
		wg.Wait()
		close(errs)
		sess.Conn().Close()
	}()

	type element struct{ XMLName xml.Name }
	seen := make(map[string]bool)
	for len(seen) < senders*perSender {
		var got struct {
			XMLName xml.Name
			ID      string `xml:"id,attr"`
			Body    struct {
				XMLName xml.Name
				Text    string    `xml:",chardata"`
				Inside  []element `xml:",any"`
			} `xml:"body"`
			Others []element `xml:",any"`
		}
		if err := srv.d.Decode(&got); err != nil {
			t.Fatalf("after %d stanzas whole: %v", len(seen), err)
		}
		if got.XMLName != (xml.Name{Space: nsAccept, Local: "message"}) || got.Body.XMLName != (xml.Name{Space: nsAccept, Local: "body"}) {
			t.Fatalf("got element %v with body %v, want a message with a body in %s", got.XMLName, got.Body.XMLName, nsAccept)
		}
		if len(got.Others)+len(got.Body.Inside) > 0 {
			t.Fatalf("message %s holds other elements: %v %v", got.ID, got.Others, got.Body.Inside)
		}
		var s, i int
		if _, err := fmt.Sscanf(got.ID, "%d-%d", &s, &i); err != nil {
			t.Fatalf("message id %q: %v", got.ID, err)
		}
		if got.Body.Text != body(s, i) {
			t.Fatalf("message %s: body of %d bytes is not the one sent (%d bytes)", got.ID, len(got.Body.Text), len(body(s, i)))
		}
		if seen[got.ID] {
			t.Fatalf("message %s arrived twice", got.ID)
		}
		seen[got.ID] = true
	}
	for err := range errs {
		if err != nil {
			t.Errorf("write: %v", err)
		}
	}
	if got := c.stats.stanzasOut.Load(); got != senders/2*perSender {
		t.Errorf("stanzasOut = %d, want %d (the stanzas written through send)", got, senders/2*perSender)
	}
}

const nsAccept = xmppcomponent.NSAccept

// TestSendAfterStreamClosed checks that a stanza written after the
// session's output stream was closed fails and that nothing follows the
// stream's end tag on the wire.
func TestSendAfterStreamClosed(t *testing.T) {
	c, srv := sendingComponent(t)
	sess := c.session()
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.send(context.Background(), &stanza.Message{Type: "chat", From: "a@gw.localhost", To: "u@localhost", Body: "late"}); err == nil {
		t.Error("send after the stream's end succeeded")
	}
	sess.Conn().Close()
	tok, err := srv.d.Token()
	if err != nil {
		t.Fatal(err)
	}
	if end, ok := tok.(xml.EndElement); !ok || end.Name != (xml.Name{Space: "http://etherx.jabber.org/streams", Local: "stream"}) {
		t.Fatalf("got %#v, want the stream's end tag", tok)
	}
	if tok, err := srv.d.Token(); err != io.EOF {
		t.Errorf("after the stream's end: %#v, %v; want nothing", tok, err)
	}
}

// benchStanzas are what a join writes most (the other occupants'
// presences) and what a room then writes (messages), one of them large.
func benchStanzas() []struct {
	name string
	v    func(i int) any
} {
	return []struct {
		name string
		v    func(i int) any
	}{
		{"occupant-presence", func(i int) any {
			p := &stanza.Presence{From: "#chan%irc.localhost@gw.localhost/nick" + strconv.Itoa(i), To: "u@localhost/res"}
			p.Extra = []any{&muc.UserX{Item: &muc.Item{Affiliation: "none", Role: "participant"}}}
			return p
		}},
		{"groupchat", func(i int) any {
			return &stanza.Message{Type: "groupchat", ID: strconv.Itoa(i), From: "#chan%irc.localhost@gw.localhost/nick", To: "u@localhost/res",
				Body: "a line of ordinary length said in a channel, with nothing special in it", StanzaID: &stanza.StanzaID{ID: strconv.Itoa(i), By: "#chan%irc.localhost@gw.localhost"}}
		}},
		{"message-16KiB", func(i int) any {
			return &stanza.Message{Type: "chat", ID: strconv.Itoa(i), From: "nick%irc.localhost@gw.localhost", To: "u@localhost", Body: strings.Repeat("0123456789abcdef", 1024)}
		}},
	}
}

// BenchmarkSend measures one stanza through send: marshalled, cut to the
// limit and written to the stream (a loopback connection whose other end
// reads and discards). Its allocations per stanza are the joins' garbage.
func BenchmarkSend(b *testing.B) {
	for _, bs := range benchStanzas() {
		b.Run(bs.name, func(b *testing.B) {
			c, srv := sendingComponent(b)
			srv.drain(b)
			ctx := context.Background()
			v := bs.v(1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.send(ctx, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMarshalFitGivesIDs checks that a message, presence or IQ without
// an id is written with a new one, as mellium's encoder wrote it, that
// one with an id keeps it, that other values are written as they are,
// and that the caller's value is left as it was.
func TestMarshalFitGivesIDs(t *testing.T) {
	tests := []struct {
		name   string
		make   func() (v any, id *string) // id: the value's id field, or nil
		wantID string                     // "" for a new one, "-" for none
	}{
		{"message without id", func() (any, *string) {
			m := &stanza.Message{Type: "chat", To: "u@localhost", Body: "hi"}
			return m, &m.ID
		}, ""},
		{"message with id", func() (any, *string) {
			m := &stanza.Message{ID: "m1", Type: "chat", To: "u@localhost", Body: "hi"}
			return m, &m.ID
		}, "m1"},
		{"presence without id", func() (any, *string) {
			p := &stanza.Presence{From: "r@gw.localhost/n", To: "u@localhost/r"}
			return p, &p.ID
		}, ""},
		{"presence with id", func() (any, *string) {
			p := &stanza.Presence{ID: "p1", To: "u@localhost/r"}
			return p, &p.ID
		}, "p1"},
		{"iq without id", func() (any, *string) {
			q := &stanza.IQ{Type: "result", To: "u@localhost/r"}
			return q, &q.ID
		}, ""},
		{"other element", func() (any, *string) {
			return &struct {
				XMLName xml.Name `xml:"urn:example other"`
			}{}, nil
		}, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := make(map[string]bool)
			for range 2 {
				v, field := tt.make()
				before := ""
				if field != nil {
					before = *field
				}
				b, err := marshalFit(v, defaultMaxStanzaBytes)
				if err != nil {
					t.Fatal(err)
				}
				if field != nil && *field != before {
					t.Errorf("the value's id became %q", *field)
				}
				var got struct {
					ID *string `xml:"id,attr"`
				}
				if err := xml.Unmarshal(b, &got); err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				switch {
				case tt.wantID == "-":
					if got.ID != nil {
						t.Errorf("%s: an id was added", b)
					}
				case got.ID == nil || *got.ID == "":
					t.Errorf("%s: no id", b)
				case tt.wantID != "" && *got.ID != tt.wantID:
					t.Errorf("%s: id %q, want %q", b, *got.ID, tt.wantID)
				default:
					ids[*got.ID] = true
				}
			}
			if tt.wantID == "" && len(ids) != 2 {
				t.Errorf("two marshallings gave the ids %v, want two different ones", ids)
			}
		})
	}
}
