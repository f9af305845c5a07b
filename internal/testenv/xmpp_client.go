package testenv

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// Element is a stanza a Client received.
type Element = xmltree.Element

// NSClient is the namespace of the stanzas a Client receives.
const NSClient = "jabber:client"

// IsStanza reports whether el is a stanza of kind name ("iq", "message",
// "presence") in the client namespace: tests match names exactly, with
// their namespace.
func IsStanza(el *Element, name string) bool { return el.Is(NSClient, name) }

// Client is a real XMPP client (mellium, c2s) logged in as a user. It
// keeps every stanza it receives until a test claims it.
type Client struct {
	JID jid.JID // the full JID bound

	sess *xmpp.Session
	conn net.Conn
	done chan struct{}
	ids  atomic.Int64

	mu      sync.Mutex
	inbox   []*Element
	changed chan struct{}
	closed  bool
}

// Dial logs in as user/resource over plain TCP on loopback and, when
// priority is not negative, sends initial presence with that priority.
func Dial(ctx context.Context, addr string, user jid.JID, password, resource string, priority int) (*Client, error) {
	full, err := user.WithResource(resource)
	if err != nil {
		return nil, err
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The test server allows PLAIN without TLS on loopback; mellium only
	// offers SASL on a secure stream, so the stream is declared secure.
	sess, err := xmpp.NewSession(ctx, full.Domain(), full, conn, xmpp.Secure, xmpp.NewNegotiator(
		func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: []xmpp.StreamFeature{
				xmpp.SASL("", password, sasl.Plain),
				bindNamed(resource),
			}}
		}))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("login as %s: %w", full, err)
	}
	c := &Client{JID: sess.LocalAddr(), sess: sess, conn: conn, done: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.sess.Serve(xmpp.HandlerFunc(c.receive))
		c.mu.Lock()
		c.closed = true
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}()
	if priority >= 0 {
		if err := c.SendRaw(ctx, `<presence><priority>`+strconv.Itoa(priority)+`</priority></presence>`); err != nil {
			c.Shutdown()
			return nil, err
		}
	}
	return c, nil
}

func (c *Client) receive(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	el, err := xmltree.Read(*start, t, 0)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.inbox = append(c.inbox, el)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	return nil
}

// SendRaw writes one stanza given as XML text.
//
// The write gets a context that is never cancelled: mellium pushes the
// connection's deadline into the past when a write's context ends, from a
// goroutine that can fire during the next write and cut it in half.
func (c *Client) SendRaw(ctx context.Context, raw string) error {
	return c.sess.Send(context.WithoutCancel(ctx), xml.NewDecoder(strings.NewReader(raw)))
}

// Next waits for a received stanza that match accepts and removes it from
// the inbox; other stanzas stay for later calls.
func (c *Client) Next(ctx context.Context, match func(*Element) bool) (*Element, error) {
	for {
		c.mu.Lock()
		for i, el := range c.inbox {
			if match(el) {
				c.inbox = append(c.inbox[:i:i], c.inbox[i+1:]...)
				c.mu.Unlock()
				return el, nil
			}
		}
		ch, closed := c.changed, c.closed
		c.mu.Unlock()
		if closed {
			return nil, errors.New("stream closed")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Request sends an IQ (adding an id when it has none) and waits for the
// result or error with that id.
func (c *Client) Request(ctx context.Context, raw string) (*Element, error) {
	id := "t" + strconv.FormatInt(c.ids.Add(1), 10)
	d := xml.NewDecoder(strings.NewReader(raw))
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	start, ok := tok.(xml.StartElement)
	if !ok || start.Name.Local != "iq" {
		return nil, fmt.Errorf("not an iq: %s", raw)
	}
	hasID := false
	for _, a := range start.Attr {
		if a.Name.Local == "id" {
			id, hasID = a.Value, true
		}
	}
	if !hasID {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "id"}, Value: id})
	}
	if err := c.sess.SendElement(context.WithoutCancel(ctx), xmlstream.Inner(d), start); err != nil { // see SendRaw
		return nil, err
	}
	return c.Next(ctx, func(el *Element) bool {
		typ := el.Attr("type")
		return IsStanza(el, "iq") && el.Attr("id") == id && (typ == "result" || typ == "error")
	})
}

// Pending returns the stanzas received and not yet claimed.
func (c *Client) Pending() []*Element {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Element(nil), c.inbox...)
}

// Shutdown sends unavailable presence, closes the stream and waits for the
// reader to end.
func (c *Client) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.SendRaw(ctx, `<presence type="unavailable"/>`)
	c.sess.Close()
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
	}
	c.conn.Close()
	<-c.done
}

// Login logs in a client owned by the test (closed at cleanup).
func (p *Prosody) Login(t testing.TB, user jid.JID, password, resource string, priority int) *Client {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	c, err := Dial(ctx, p.C2SAddr, user, password, resource, priority)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Close ends the session; safe to call more than once.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.Shutdown()
}

// Send writes a stanza given as XML text, failing the test on error.
func (c *Client) Send(t testing.TB, raw string) {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	if err := c.SendRaw(ctx, raw); err != nil {
		t.Fatalf("%s sending %s: %v", c.JID, raw, err)
	}
}

// IQ sends an IQ and returns its response, failing the test after 10s.
func (c *Client) IQ(t testing.TB, raw string) *Element {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	el, err := c.Request(ctx, raw)
	if err != nil {
		t.Fatalf("%s: no answer to %s: %v", c.JID, raw, err)
	}
	return el
}

// Expect waits up to 10s for a stanza that match accepts.
func (c *Client) Expect(t testing.TB, what string, match func(*Element) bool) *Element {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	el, err := c.Next(ctx, match)
	if err != nil {
		var seen []string
		for _, p := range c.Pending() {
			seen = append(seen, p.String())
		}
		t.Fatalf("%s: %s: %v; received meanwhile:\n%s", c.JID, what, err, strings.Join(seen, "\n"))
	}
	return el
}

// ExpectNone fails the test if a stanza that match accepts arrives within d.
func (c *Client) ExpectNone(t testing.TB, d time.Duration, match func(*Element) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if el, err := c.Next(ctx, match); err == nil {
		t.Fatalf("%s: unexpected %s", c.JID, el)
	}
}
