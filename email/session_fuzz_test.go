package email

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// peerMarker is text the scripted server sends in seeds; no error the
// user may see can contain it.
const peerMarker = "PEERTEXT"

// scriptGood answers login, SELECT, SEARCH, the two fetches and STORE of
// one mail.
var scriptGood = []string{
	"TAG OK [CAPABILITY IMAP4rev1] logged in",
	"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [UIDNEXT 2] x\r\nTAG OK [READ-WRITE] selected",
	"* SEARCH 1\r\nTAG OK searched",
	"* 1 FETCH (UID 1 RFC822.SIZE 60 ENVELOPE (NIL \"Hi\" ((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL NIL NIL NIL NIL))\r\nTAG OK",
	"* 1 FETCH (UID 1 BODY[]<0> {42}\r\nFrom: bob@example.org\r\nSubject: Hi\r\n\r\nyo\r\n)\r\nTAG OK",
	"TAG OK stored",
}

// FuzzIMAPSession feeds the IMAP side of the adapter (login, SELECT,
// UID SEARCH, the size/envelope and body fetches, STORE) with scripted
// server responses: whatever they are, nothing panics, every error is
// classified with a sentinel, and no error quotes the server.
func FuzzIMAPSession(f *testing.F) {
	good := scriptGood
	f.Add("* OK [CAPABILITY IMAP4rev1] ready", strings.Join(good, "\x00"), false)
	f.Add("* BYE "+peerMarker, "", false)
	f.Add("SSH-2.0-"+peerMarker, "", false)
	f.Add("* OK ready", "TAG NO [AUTHENTICATIONFAILED] "+peerMarker, false)
	f.Add("* OK ready", "TAG OK\x00TAG NO "+peerMarker, false)
	f.Add("* OK ready", "TAG OK\x00* OK [UIDVALIDITY 7] x\r\nTAG OK\x00TAG BAD "+peerMarker, false)
	f.Add("* OK ready", strings.Join(append(good[:3:3], "* 1 FETCH (UID 1 RFC822.SIZE 99999999999 ENVELOPE (NIL {8}\r\n"+peerMarker+" NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\nTAG OK"), "\x00"), false)
	f.Add("* OK ready", strings.Join(append(good[:4:4], "* 1 FETCH (UID 1 BODY[]<0> {4000000000}\r\n"+peerMarker), "\x00"), false)
	f.Add("* OK ready", strings.Join(append(good[:4:4], "* 1 FETCH (UID 2 BODY[]<0> {3}\r\nabc)\r\nTAG OK"), "\x00"), false)
	f.Add("* OK ready", strings.Join(append(good[:2:2], "* SEARCH 4294967295 0 1\r\nTAG OK", "TAG OK"), "\x00"), false)
	f.Add("* OK ready", "TAG OK\x00* 1 FETCH (UID 1 BODY[] NIL)\r\nTAG OK", false)
	f.Add("* PREAUTH hi", "* CAPABILITY IMAP4rev1 IDLE\r\nTAG OK", false)

	f.Add("* OK ready", "S1 OK begin TLS", true)
	f.Add("* OK ready", "* CAPABILITY (\x00S1 NO "+peerMarker, true)
	f.Add("* PREAUTH "+peerMarker, "", true)
	f.Add(strings.Repeat("x", 9000), "", true)
	f.Fuzz(func(t *testing.T, greeting, script string, starttls bool) {
		security := SecurityPlain
		if starttls {
			security = SecurityStartTLS
		}
		runScript(t, greeting, script, security)
	})
}

// TestScriptedSession: the harness of FuzzIMAPSession really reaches the
// delivery of a mail.
func TestScriptedSession(t *testing.T) {
	script := strings.Join(scriptGood, "\x00")
	got := runScript(t, "* OK [CAPABILITY IMAP4rev1] ready", script, SecurityPlain)
	if len(got) != 1 {
		t.Fatalf("%d events, want 1", len(got))
	}
	if m, ok := got[0].(*transports.MessageEvent); !ok || m.Subject != "Hi" || m.From != "bob@example.org" {
		t.Errorf("event %#v", got[0])
	}
}

// runScript runs login, SELECT and the delivery of new mail against a
// scripted server and checks every error; it returns the events
// delivered.
func runScript(t *testing.T, greeting, script, security string) []transports.Event {
	n := New(Config{Timeout: 50 * time.Millisecond, AllowPlaintext: true, Limits: Limits{MaxMessage: 1 << 16}})
	n.dialer = func(context.Context, string) (net.Conn, error) {
		client, server := net.Pipe()
		go serveScript(server, greeting, script)
		return client, nil
	}
	l, err := n.login(transports.Credentials{"address": "alice@example.org", "password": "pw",
		"imap_server": "imap.example.org:143", "smtp_server": "smtp.example.org:587", "security": security})
	if err != nil {
		t.Fatal(err)
	}
	var events []transports.Event
	a := newAdapter(n, transports.Account{User: "u", Store: &transportstest.Store{}, Settings: map[string]string{}}, l,
		transports.SinkFunc(func(ev transports.Event) { events = append(events, ev) }))
	defer a.cancel()
	check := func(err error) {
		t.Helper()
		if err == nil {
			return
		}
		t.Logf("error: %v", err)
		if strings.Contains(err.Error(), peerMarker) {
			t.Fatalf("error quotes the server: %v", err)
		}
		for _, s := range []error{transports.ErrUnavailable, transports.ErrBadCredentials, transports.ErrLimit} {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("unclassified error: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c, err := n.dialIMAP(ctx, a.ctx, a.acct.User, l, nil)
	check(err)
	if err != nil {
		return events
	}
	defer c.closeNow()
	_, _, err = a.selectInbox(c)
	check(err)
	if err != nil {
		return events
	}
	last := imap.UID(0)
	_, err = a.deliverNew(c, 7, &last)
	check(err)
	return events
}

// serveScript plays a scripted IMAP server on conn: the greeting, then
// one \x00-separated chunk per command line received, "TAG" replaced by
// the command's tag. When the script ends it answers every command with
// BAD, until the client hangs up, rather than hang up itself: go-imap v2.0.0-beta.8 has data races of its own when
// a command's write fails while its reader runs, which a hang-up here
// would provoke and the race detector would blame on this test.
func serveScript(conn net.Conn, greeting, script string) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte(greeting + "\r\n")); err != nil {
		return
	}
	r := bufio.NewReader(conn)
	chunks := strings.Split(script, "\x00")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		tag, _, _ := strings.Cut(line, " ")
		reply := "TAG BAD the script is over"
		if len(chunks) > 0 {
			reply, chunks = chunks[0], chunks[1:]
		}
		if _, err := conn.Write([]byte(strings.ReplaceAll(reply, "TAG", tag) + "\r\n")); err != nil {
			return
		}
	}
}
