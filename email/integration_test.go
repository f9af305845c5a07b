package email_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// These tests run the adapter against a real Dovecot (IMAP, LMTP,
// submission) relaying through a real OpenSMTPD.

const waitFor = 15 * time.Second

// events records delivered events.
type events struct {
	mu  sync.Mutex
	all []transports.Event
	ch  chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1000)} }

func (e *events) Deliver(ev transports.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	e.ch <- struct{}{}
}

func (e *events) messages() []*transports.MessageEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*transports.MessageEvent
	for _, ev := range e.all {
		if m, ok := ev.(*transports.MessageEvent); ok {
			out = append(out, m)
		}
	}
	return out
}

// waitMessages waits until n messages were delivered.
func (e *events) waitMessages(t *testing.T, n int) []*transports.MessageEvent {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		if ms := e.messages(); len(ms) >= n {
			return ms
		}
		select {
		case <-e.ch:
		case <-deadline:
			t.Fatalf("%d messages delivered, want %d: %+v", len(e.messages()), n, e.all)
		}
	}
}

// loopbackOnly lets user-named servers on this machine through the egress
// policy, as an admin's [security] allow_private = ["127.0.0.1"] does: the
// test servers listen on 127.0.0.1.
func loopbackOnly() *egress.Policy {
	return &egress.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
}

type fixture struct {
	srv    *testenv.MailServer
	net    *email.Network
	budget *egress.Budget
	creds  transports.Credentials
}

func setup(t *testing.T) *fixture {
	t.Helper()
	srv := testenv.StartMailServer(t, testenv.MailOptions{Users: map[string]string{
		"alice@localhost": "alice-pw-Q7", "bob@localhost": "bob-pw-Z2"}})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(srv.CAPEM)
	budget := &egress.Budget{Max: 100}
	return &fixture{
		srv: srv, budget: budget,
		net: email.New(email.Config{RootCAs: roots, Timeout: waitFor, PollInterval: time.Second, Egress: loopbackOnly(), Budget: budget}),
		creds: transports.Credentials{"address": "alice@localhost", "password": "alice-pw-Q7",
			"imap_server": srv.IMAPStartTLSAddr(), "smtp_server": srv.SubmissionAddr(), "security": "starttls"},
	}
}

func (f *fixture) connect(t *testing.T, store transports.Store) (transports.Adapter, *events) {
	t.Helper()
	ev := newEvents()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	a, err := f.net.Connect(ctx, transports.Account{User: "alice@example.org", Credentials: f.creds,
		Settings: map[string]string{}, Store: store}, ev)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a, ev
}

func mailFrom(from, subject, body, extra string) []byte {
	return []byte("From: Bob Example <" + from + ">\r\nTo: alice@localhost\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@localhost>\r\n" + extra +
		"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

func TestValidate(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if err := f.net.Validate(ctx, f.creds); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	bad := transports.Credentials{}
	for k, v := range f.creds {
		bad[k] = v
	}
	bad["password"] = "wrong-pw"
	err := f.net.Validate(ctx, bad)
	if !errors.Is(err, transports.ErrBadCredentials) || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("wrong password = %v, want ErrBadCredentials without the password", err)
	}
	// Refused before any connection; were it not, the addresses are on
	// this machine.
	plain := transports.Credentials{"address": "alice@example.org", "password": "x",
		"imap_server": "127.0.0.1:1", "smtp_server": "127.0.0.1:1", "security": "plain"}
	if err := f.net.Validate(ctx, plain); !errors.Is(err, transports.ErrPolicy) || !strings.Contains(err.Error(), "allow_plaintext") {
		t.Errorf("plaintext to a server the user named = %v, want ErrPolicy naming allow_plaintext", err)
	}
	// Without the test CA the certificate is refused.
	noCA := email.New(email.Config{Timeout: waitFor, Egress: loopbackOnly()})
	if err := noCA.Validate(ctx, f.creds); !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown CA = %v, want a certificate error", err)
	}
}

func TestInboundOutboundAndRestart(t *testing.T) {
	f := setup(t)
	store := &transportstest.Store{}
	f.srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", "old news", "before registration", ""))
	a, ev := f.connect(t, store)

	// Only mail that arrives from now on is delivered.
	f.srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", "hello alice", "Hi!\nHow are you?", ""))
	m := ev.waitMessages(t, 1)[0]
	if m.From != "bob@localhost" || m.Nick != "Bob Example" || m.Subject != "hello alice" || !strings.Contains(m.Body, "How are you?") || m.RemoteID == "" {
		t.Errorf("message = %+v", m)
	}
	time.Sleep(500 * time.Millisecond) // marking as read follows the delivery
	for _, got := range f.srv.Fetch(t, "alice@localhost", "alice-pw-Q7", "INBOX") {
		seen := strings.Contains(strings.Join(got.Flags, " "), `\Seen`)
		if strings.Contains(string(got.Raw), "hello alice") && !seen {
			t.Errorf("delivered mail not marked read: %v", got.Flags)
		}
		if strings.Contains(string(got.Raw), "old news") && seen {
			t.Error("a mail from before the registration was touched")
		}
	}
	for _, x := range ev.messages() {
		if x.Subject == "old news" {
			t.Error("a mail from before the registration was delivered")
		}
	}

	// A reply in the thread.
	if _, err := a.Send(context.Background(), transports.Message{To: "bob@localhost", Body: "Fine, thanks.", Thread: m.Thread}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// The SMTP connection gave its lease back; the IMAP one holds its own.
	if n := f.budget.Count(); n != 1 {
		t.Errorf("%d connections counted after the send, want 1 (IMAP)", n)
	}
	got := waitMail(t, f.srv, "bob@localhost", "bob-pw-Z2", "Fine, thanks.")
	raw := string(got.Raw)
	for _, want := range []string{"Subject: Re: hello alice", "In-Reply-To: <hello-alice@localhost>", "alice@localhost", "Message-Id: <", "Date: "} {
		if !strings.Contains(strings.ReplaceAll(raw, "Message-ID", "Message-Id"), want) {
			t.Errorf("sent mail lacks %q:\n%s", want, raw)
		}
	}

	// Restart: mail that arrives while down is delivered after, once.
	a.Close()
	f.srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", "while down 1", "one", ""))
	f.srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", "while down 2", "two", ""))
	_, ev2 := f.connect(t, store)
	ms := ev2.waitMessages(t, 2)
	if len(ms) != 2 || ms[0].Subject != "while down 1" || ms[1].Subject != "while down 2" {
		t.Errorf("after the restart: %+v", ms)
	}
	time.Sleep(2 * time.Second)
	if n := len(ev2.messages()); n != 2 {
		t.Errorf("%d messages after the restart, want 2 (nothing repeated)", n)
	}
}

func TestCheckMailCommand(t *testing.T) {
	f := setup(t)
	a, ev := f.connect(t, &transportstest.Store{})
	f.srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", "ping", "pong", ""))
	ev.waitMessages(t, 1)
	out, err := a.(transports.CommandRunner).RunCommand(context.Background(), "check-mail")
	if err != nil || out != "No new mail." {
		t.Errorf("check-mail = %q, %v", out, err)
	}
}

func waitMail(t *testing.T, srv *testenv.MailServer, user, pw, body string) testenv.FetchedMail {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		for _, m := range srv.Fetch(t, user, pw, "INBOX") {
			if strings.Contains(string(m.Raw), body) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail with %q in %s's INBOX", body, user)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestUIDValidityChange: when the server rebuilt the mailbox (a new
// UIDVALIDITY), the old mail is not delivered again; new mail is, and the
// user is told.
func TestUIDValidityChange(t *testing.T) {
	f := setup(t)
	store := &transportstest.Store{}
	for i := range 3 {
		f.srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", fmt.Sprintf("old %d", i), "x", ""))
	}
	a, _ := f.connect(t, store)
	a.Close()
	if _, err := f.srv.Doveadm("mailbox", "update", "--uid-validity", "4242", "-u", "alice@localhost", "INBOX"); err != nil {
		t.Fatal(err)
	}
	_, ev := f.connect(t, store)
	f.srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", "fresh", "new mail", ""))
	ms := ev.waitMessages(t, 1)
	time.Sleep(time.Second)
	if ms = ev.messages(); len(ms) != 1 || ms[0].Subject != "fresh" || !strings.HasPrefix(string(ms[0].RemoteID), "4242:") {
		t.Errorf("after the UIDVALIDITY change: %+v", ms)
	}
	ev.mu.Lock()
	told := false
	for _, e := range ev.all {
		if n, ok := e.(*transports.NoticeEvent); ok && strings.Contains(n.Text, "UIDVALIDITY") {
			told = true
		}
	}
	ev.mu.Unlock()
	if !told {
		t.Error("the user was not told that the mailbox was rebuilt")
	}
}

// TestPollingWithoutIdle: a server that does not offer IDLE is polled.
func TestPollingWithoutIdle(t *testing.T) {
	srv := testenv.StartMailServer(t, testenv.MailOptions{NoIdle: true, Users: map[string]string{"alice@localhost": "alice-pw-Q7"}})
	c, err := srv.DialIMAP("alice@localhost", "alice-pw-Q7")
	if err != nil {
		t.Fatal(err)
	}
	if c.Caps().Has(imap.CapIdle) {
		t.Fatal("the server still offers IDLE")
	}
	c.Close()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(srv.CAPEM)
	f := &fixture{srv: srv,
		net: email.New(email.Config{RootCAs: roots, Timeout: waitFor, PollInterval: 500 * time.Millisecond, Egress: loopbackOnly()}),
		creds: transports.Credentials{"address": "alice@localhost", "password": "alice-pw-Q7",
			"imap_server": srv.IMAPStartTLSAddr(), "smtp_server": srv.SubmissionAddr(), "security": "starttls"}}
	_, ev := f.connect(t, &transportstest.Store{})
	srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", "polled", "found by polling", ""))
	if m := ev.waitMessages(t, 1)[0]; m.Subject != "polled" {
		t.Errorf("message = %+v", m)
	}
}

// TestDovecotReconnectKeepsThreads: Dovecot stops under a supervised
// session; the adapter ends it, the supervisor reports the drop and
// connects a new adapter once Dovecot is back; mail delivered meanwhile
// arrives once, and the new adapter answers in the thread the old one
// learnt: the thread state is in the user's Store, not in the adapter.
func TestDovecotReconnectKeepsThreads(t *testing.T) {
	f := setup(t)
	store := &transportstest.Store{}
	const user = "alice@example.org"
	sup, ev := supervise(t, f.net, user, f.creds, store)
	first := sup.Adapter(user)

	f.srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", "weekend plans", "Hiking?", ""))
	m := ev.waitMessages(t, 1)[0]
	if m.Thread == "" {
		t.Fatalf("no thread: %+v", m)
	}

	f.srv.Stop()
	st := ev.waitEvent(t, "transient disconnect", func(e transports.Event) bool {
		s, ok := e.(*transports.StateEvent)
		return ok && s.Status.State == transports.StateTransientDisconnect
	}).(*transports.StateEvent)
	if st.Status.Retry.IsZero() || st.Status.Text == "" {
		t.Errorf("transient state lacks retry time or text: %+v", st.Status)
	}
	if err := f.srv.Start(); err != nil {
		t.Fatal(err)
	}
	connected := func(e transports.Event) bool {
		s, ok := e.(*transports.StateEvent)
		return ok && s.Status.State == transports.StateConnected
	}
	deadline := time.After(waitFor)
	for ev.count(connected) < 2 {
		select {
		case <-ev.ch:
		case <-deadline:
			t.Fatal("the supervisor did not connect again")
		}
	}
	second := sup.Adapter(user)
	if second == nil || second == first {
		t.Fatal("no new adapter after the reconnection")
	}

	f.srv.Deliver(t, "bob@localhost", "alice@localhost", mailFrom("bob@localhost", "after restart", "still there?", ""))
	ms := ev.waitMessages(t, 2)
	if ms[1].Subject != "after restart" {
		t.Errorf("after the reconnection: %+v", ms[1])
	}

	if _, err := second.Send(context.Background(), transports.Message{To: "bob@localhost", Body: "Sure, Saturday.", Thread: m.Thread}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	raw := string(waitMail(t, f.srv, "bob@localhost", "bob-pw-Z2", "Sure, Saturday.").Raw)
	for _, want := range []string{"Subject: Re: weekend plans", "In-Reply-To: <weekend-plans@localhost>"} {
		if !strings.Contains(raw, want) {
			t.Errorf("the reply after the reconnection lacks %q:\n%s", want, raw)
		}
	}
	time.Sleep(time.Second)
	if n := len(ev.messages()); n != 2 {
		t.Errorf("%d messages, want 2 (nothing repeated after the reconnection)", n)
	}
}
