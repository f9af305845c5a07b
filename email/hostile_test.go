package email_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// These tests use scripted servers (testenv.FakeIMAP, raw listeners) on
// 127.0.0.1 for what no real mail server does: speak another protocol,
// go silent, or send more than they announce. Nothing is dialled off this
// machine: the addresses that must be refused are refused before any
// connection, and names resolve through a stub.

const hostilePW = "s3cret-Pw-91"

// sshBanner is what an SSH server sends first.
const sshBanner = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"

// waitEvent waits for an event that ok accepts.
func (e *events) waitEvent(t *testing.T, what string, ok func(transports.Event) bool) transports.Event {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		e.mu.Lock()
		for _, ev := range e.all {
			if ok(ev) {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-deadline:
			t.Fatalf("no %s among %d events", what, len(e.all))
		}
	}
}

// count counts the events ok accepts.
func (e *events) count(ok func(transports.Event) bool) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ok(ev) {
			n++
		}
	}
	return n
}

func startBanner(t *testing.T, banner string) *testenv.FakeIMAP {
	t.Helper()
	return testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{Banner: banner})
}

func creds(imapAddr, smtpAddr, security string) transports.Credentials {
	return transports.Credentials{"address": "alice@example.org", "password": hostilePW,
		"imap_server": imapAddr, "smtp_server": smtpAddr, "security": security}
}

// unusedSMTP is the SMTP server of tests that only read mail (Connect
// does not dial it) or fail before SMTP; were it dialled, it is on this
// machine.
const unusedSMTP = "127.0.0.1:9"

// TestGreetingBeforeLogin: a server that speaks SSH instead of IMAP gets
// no password, and the user's error is the generic text, not its banner.
func TestGreetingBeforeLogin(t *testing.T) {
	for _, security := range []string{email.SecurityPlain, email.SecurityTLS, email.SecurityStartTLS} {
		t.Run(security, func(t *testing.T) {
			ssh := startBanner(t, sshBanner)
			n := email.New(email.Config{Timeout: 5 * time.Second, AllowPlaintext: true, Egress: loopbackOnly()})
			err := n.Validate(context.Background(), creds(ssh.Addr, unusedSMTP, security))
			if !errors.Is(err, transports.ErrUnavailable) {
				t.Fatalf("Validate = %v, want ErrUnavailable", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "could not reach "+ssh.Addr+": ") || strings.Contains(msg, "SSH") || strings.Contains(msg, "OpenSSH") {
				t.Errorf("error %q: want the generic text, without the banner", msg)
			}
			// Give the socket time to deliver anything the client wrote.
			time.Sleep(200 * time.Millisecond)
			got := ssh.Received()
			if bytes.Contains(got, []byte(hostilePW)) || bytes.Contains(bytes.ToUpper(got), []byte("LOGIN")) {
				t.Errorf("the server received a login: %q", got)
			}
		})
	}
}

// TestSMTPGreetingNotQuoted: the same for the submission server.
func TestSMTPGreetingNotQuoted(t *testing.T) {
	imapSrv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{})
	ssh := startBanner(t, sshBanner)
	n := email.New(email.Config{Timeout: 5 * time.Second, AllowPlaintext: true, Egress: loopbackOnly()})
	err := n.Validate(context.Background(), creds(imapSrv.Addr, ssh.Addr, email.SecurityPlain))
	if !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "could not reach "+ssh.Addr+": ") || strings.Contains(err.Error(), "SSH") {
		t.Fatalf("Validate = %v, want the generic text for %s", err, ssh.Addr)
	}
	time.Sleep(200 * time.Millisecond)
	if got := ssh.Received(); bytes.Contains(got, []byte(hostilePW)) || bytes.Contains(bytes.ToUpper(got), []byte("AUTH")) {
		t.Errorf("the SSH server received a login: %q", got)
	}
	if imapSrv.Logins() != 1 {
		t.Errorf("IMAP logins = %d, want 1", imapSrv.Logins())
	}
}

// stubResolver answers every name with addrs.
type stubResolver []netip.Addr

func (s stubResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return s, nil
}

// TestPolicyRefusesWithoutConnecting: user-named servers with
// non-public addresses (literal, or a name that resolves to one) are
// refused with ErrPolicy and no connection; so is "plain" towards a server
// the admin did not configure.
func TestPolicyRefusesWithoutConnecting(t *testing.T) {
	srv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{})
	_, port, _ := net.SplitHostPort(srv.Addr)
	stub := &egress.Policy{Resolver: stubResolver{netip.MustParseAddr("127.0.0.1")}}
	type policyCase struct {
		name           string
		cfg            email.Config
		imap, security string
		want           string
	}
	run := func(t *testing.T, cases []policyCase) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tc.cfg.Timeout = 5 * time.Second
				n := email.New(tc.cfg)
				err := n.Validate(context.Background(), creds(tc.imap, unusedSMTP, tc.security))
				if !errors.Is(err, transports.ErrPolicy) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Validate = %v, want ErrPolicy saying %q", err, tc.want)
				}
				_, err = n.Connect(context.Background(), transports.Account{User: "alice@example.net",
					Credentials: creds(tc.imap, unusedSMTP, tc.security), Store: &transportstest.Store{}}, newEvents())
				if !errors.Is(err, transports.ErrPolicy) {
					t.Errorf("Connect = %v, want ErrPolicy", err)
				}
			})
		}
	}
	// Addresses on this machine first: were the policy not applied, no
	// packet would leave it.
	run(t, []policyCase{
		{"loopback literal", email.Config{}, srv.Addr, "tls", "not a public address"},
		{"name resolving to loopback", email.Config{Egress: stub}, "imap.internal.example:" + port, "tls", "not a public address"},
		{"other loopback address", email.Config{}, "127.0.0.2:" + port, "tls", "not a public address"},
		{"IPv6 loopback", email.Config{}, "[::1]:" + port, "tls", "not a public address"},
		{"starttls to loopback", email.Config{}, srv.Addr, "starttls", "not a public address"},
		{"plain, allowed address but no allow_plaintext", email.Config{Egress: loopbackOnly()}, srv.Addr, "plain", "allow_plaintext"},
		{"plain with allow_plaintext, loopback refused", email.Config{AllowPlaintext: true}, srv.Addr, "plain", "not a public address"},
	})
	if n := srv.Connections(); n != 0 || t.Failed() {
		t.Fatalf("%d connections reached the server: not trying addresses off this machine", n)
	}
	// Literal private addresses, refused before any dial.
	run(t, []policyCase{
		{"RFC 1918", email.Config{}, "10.0.0.5:993", "tls", "not a public address"},
		{"link-local metadata", email.Config{}, "169.254.169.254:993", "tls", "not a public address"},
		{"CGNAT", email.Config{}, "100.64.0.1:993", "tls", "not a public address"},
	})
	// The SMTP server is checked the same way.
	n := email.New(email.Config{Timeout: 5 * time.Second, DefaultIMAP: srv.Addr})
	err := n.Validate(context.Background(), creds("", "10.0.0.5:587", email.SecurityPlain))
	if !errors.Is(err, transports.ErrPolicy) {
		t.Errorf("SMTP on 10.0.0.5 = %v, want ErrPolicy", err)
	}
}

// connect starts an adapter for user on n and closes it when the test
// ends.
func connect(t *testing.T, n *email.Network, user string, c transports.Credentials, store transports.Store) (transports.Adapter, *events) {
	t.Helper()
	ev := newEvents()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	a, err := n.Connect(ctx, transports.Account{User: user, Credentials: c, Settings: map[string]string{}, Store: store}, ev)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a, ev
}

// supervise runs user's session on n under a transports.Supervisor with
// short backoffs, as the component does, and returns its first adapter
// once connected; the session stops when the test ends.
func supervise(t *testing.T, n *email.Network, user string, c transports.Credentials, store transports.Store) (*transports.Supervisor, *events) {
	t.Helper()
	ev := newEvents()
	sup := transports.NewSupervisor(n, func(string) transports.Sink { return ev },
		transports.Backoff{Min: 50 * time.Millisecond, Max: 100 * time.Millisecond}, nil)
	t.Cleanup(sup.Close)
	sup.Start(transports.Account{User: user, Credentials: c, Settings: map[string]string{}, Store: store})
	ev.waitEvent(t, "connected", func(e transports.Event) bool {
		s, ok := e.(*transports.StateEvent)
		return ok && s.Status.State == transports.StateConnected
	})
	return sup, ev
}

// TestAdminDefaultPlain: the admin's default server is dialled without
// the egress policy, and "plain" is allowed towards it, whether the user
// left the field empty or typed the same server.
func TestAdminDefaultPlain(t *testing.T) {
	srv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{})
	n := email.New(email.Config{Timeout: 5 * time.Second, DefaultIMAP: srv.Addr, DefaultSMTP: unusedSMTP})
	for i, given := range []string{"", srv.Addr} {
		a, _ := connect(t, n, "alice@example.net", creds(given, "", email.SecurityPlain), &transportstest.Store{})
		a.Close()
		if srv.Logins() != i+1 {
			t.Errorf("imap_server %q: %d logins, want %d", given, srv.Logins(), i+1)
		}
	}
}

// TestBudget: every IMAP connection holds a lease of the budget, given
// back when the adapter closes; over the budget, Connect fails with
// ErrLimit before connecting.
func TestBudget(t *testing.T) {
	srv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{})
	b := &egress.Budget{Max: 1}
	n := email.New(email.Config{Timeout: 5 * time.Second, DefaultIMAP: srv.Addr, DefaultSMTP: unusedSMTP, Budget: b})
	c := creds("", "", email.SecurityPlain)
	a, _ := connect(t, n, "alice@example.net", c, &transportstest.Store{})
	if b.Count() != 1 {
		t.Errorf("Count = %d with one adapter, want 1", b.Count())
	}
	conns := srv.Connections()
	_, err := n.Connect(context.Background(), transports.Account{User: "bob@example.net", Credentials: c, Store: &transportstest.Store{}}, newEvents())
	if !errors.Is(err, transports.ErrLimit) {
		t.Errorf("second Connect = %v, want ErrLimit", err)
	}
	if srv.Connections() != conns {
		t.Error("the refused Connect connected anyway")
	}
	a.Close()
	if b.Count() != 0 {
		t.Errorf("Count = %d after Close, want 0", b.Count())
	}

	rate := &egress.Budget{PerUserPerMinute: 1}
	n = email.New(email.Config{Timeout: 5 * time.Second, DefaultIMAP: srv.Addr, DefaultSMTP: unusedSMTP, Budget: rate})
	a, _ = connect(t, n, "carol@example.net", c, &transportstest.Store{})
	a.Close()
	if _, err := n.Connect(context.Background(), transports.Account{User: "carol@example.net", Credentials: c, Store: &transportstest.Store{}}, newEvents()); !errors.Is(err, transports.ErrLimit) {
		t.Errorf("Connect over the per-user rate = %v, want ErrLimit", err)
	}
}

func smallMail(subject string) []byte {
	return []byte("From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.org>\r\n\r\nhello\r\n")
}

// TestOversizedMail: a mail larger than Limits.MaxMessage is not read,
// whether the server announces its size or lies about it and sends a
// 2 GB literal; the user gets one notice naming it, the bookmark moves
// past it, and the next mail arrives (after a reconnection when the
// connection had to be dropped).
func TestOversizedMail(t *testing.T) {
	const limit = 1 << 20
	for _, tc := range []struct {
		name string
		mail testenv.FakeMail
		size string
	}{
		{"announced", testenv.FakeMail{Size: 3_000_000_000}, "2.8 GiB"},
		{"literal larger than announced", testenv.FakeMail{Size: 500, Literal: 2_000_000_000}, "1.9 GiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{})
			n := email.New(email.Config{Timeout: 5 * time.Second, DefaultIMAP: srv.Addr, DefaultSMTP: unusedSMTP, PollInterval: 100 * time.Millisecond,
				Limits: email.Limits{MaxMessage: limit}})
			store := &transportstest.Store{}
			// Supervised: a dropped connection is the supervisor's to redial.
			_, ev := supervise(t, n, "alice@example.net", creds("", "", email.SecurityPlain), store)

			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			huge := tc.mail
			huge.UID, huge.From, huge.Subject, huge.Raw = 1, "mallory@example.org", "Huge file", smallMail("Huge file")
			srv.AddMail(huge)
			notice := func(e transports.Event) bool {
				n, ok := e.(*transports.NoticeEvent)
				return ok && strings.Contains(n.Text, "Huge file")
			}
			got := ev.waitEvent(t, "notice of the skipped mail", notice).(*transports.NoticeEvent)
			for _, want := range []string{"mallory@example.org", tc.size, "1.0 MiB", "still in your mailbox"} {
				if !strings.Contains(got.Text, want) {
					t.Errorf("notice %q lacks %q", got.Text, want)
				}
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
				t.Errorf("heap grew by %d bytes", grown)
			}
			t.Logf("the server wrote %d bytes of the literal", srv.Written())
			if w := srv.Written(); w > 64<<20 {
				t.Errorf("the server could send %d bytes of the literal", w)
			}

			srv.AddMail(testenv.FakeMail{UID: 2, From: "bob@example.org", Subject: "after", Raw: smallMail("after")})
			m := ev.waitMessages(t, 1)[0]
			if m.Subject != "after" {
				t.Errorf("next mail = %+v", m)
			}
			if c := ev.count(notice); c != 1 {
				t.Errorf("%d notices of the skipped mail, want 1", c)
			}
			// The bookmark is saved once the mail was delivered.
			deadline := time.Now().Add(waitFor)
			for {
				v, err := store.Get(context.Background(), "INBOX")
				if err == nil && string(v) == "7:2" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("bookmark = %q, %v; want 7:2", v, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestCloseSilentAfterIdle: a server that stops answering once IDLE
// started cannot hold Close: it returns within its bound.
func TestCloseSilentAfterIdle(t *testing.T) {
	srv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{Idle: true, SilentAfter: "IDLE"})
	const timeout = time.Second
	n := email.New(email.Config{Timeout: timeout, DefaultIMAP: srv.Addr, DefaultSMTP: unusedSMTP})
	a, _ := connect(t, n, "alice@example.net", creds("", "", email.SecurityPlain), &transportstest.Store{})
	select {
	case <-srv.Seen("IDLE"):
	case <-time.After(waitFor):
		t.Fatal("the adapter never sent IDLE")
	}
	done := make(chan struct{})
	go func() {
		a.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * timeout): // liveness bound, not a speed check
		t.Fatal("Close still blocked")
	}
}

// TestSilentCommandReconnects: a server that stops answering a command
// gets its connection closed by the watchdog; the adapter ends its
// session, the supervisor tells the user, in fixed words, and connects
// again.
func TestSilentCommandReconnects(t *testing.T) {
	srv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{SilentAfter: "UID SEARCH"})
	n := email.New(email.Config{Timeout: time.Second, DefaultIMAP: srv.Addr, DefaultSMTP: unusedSMTP})
	_, ev := supervise(t, n, "alice@example.net", creds("", "", email.SecurityPlain), &transportstest.Store{})
	st := ev.waitEvent(t, "transient disconnect", func(e transports.Event) bool {
		s, ok := e.(*transports.StateEvent)
		return ok && s.Status.State == transports.StateTransientDisconnect
	}).(*transports.StateEvent)
	if want := "could not reach " + srv.Addr + ": timed out"; !strings.Contains(st.Status.Text, want) {
		t.Errorf("status text %q, want %q", st.Status.Text, want)
	}
	deadline := time.Now().Add(waitFor)
	for srv.Logins() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the adapter did not reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scriptedTCP accepts connections on 127.0.0.1 and runs serve on each; it
// stops when the test ends.
func scriptedTCP(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// silent reads and says nothing.
func silent(c net.Conn) { io.Copy(io.Discard, c) }

// TestSilentServersBounded: a mail server that accepts and then says
// nothing holds neither a registration check nor a send longer than the
// network's Timeout; the user is told, in fixed words.
func TestSilentServersBounded(t *testing.T) {
	const timeout = time.Second
	addr := scriptedTCP(t, silent)
	for _, security := range []string{email.SecurityPlain, email.SecurityTLS, email.SecurityStartTLS} {
		t.Run("IMAP "+security, func(t *testing.T) {
			n := email.New(email.Config{Timeout: timeout, DefaultIMAP: addr, DefaultSMTP: unusedSMTP})
			done := make(chan error, 1)
			go func() { done <- n.Validate(context.Background(), creds("", "", security)) }()
			select {
			case err := <-done:
				if !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "could not reach "+addr+": timed out") {
					t.Errorf("Validate = %v, want a time-out", err)
				}
			case <-time.After(10 * timeout): // liveness bound
				t.Fatal("Validate still blocked")
			}
		})
	}

	imapSrv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{})
	n := email.New(email.Config{Timeout: timeout, DefaultIMAP: imapSrv.Addr, DefaultSMTP: addr})
	a, _ := connect(t, n, "alice@example.net", creds("", "", email.SecurityPlain), &transportstest.Store{})
	done := make(chan error, 1)
	go func() {
		_, err := a.Send(context.Background(), transports.Message{To: "bob@example.org", Body: "hello"})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("Send = %v, want a time-out", err)
		}
	case <-time.After(10 * timeout):
		t.Fatal("Send still blocked")
	}
}

// TestSMTPEndlessReply: an SMTP server whose greeting never ends cannot
// make the gateway buffer it: the connection is dropped after smtpCap
// bytes, and the error does not quote it.
func TestSMTPEndlessReply(t *testing.T) {
	var sent atomic.Int64
	addr := scriptedTCP(t, func(c net.Conn) {
		c.Write([]byte("220-"))
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for sent.Load() < 1<<30 {
			n, err := c.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	imapSrv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{})
	n := email.New(email.Config{Timeout: 10 * time.Second, DefaultIMAP: imapSrv.Addr, DefaultSMTP: addr})
	a, _ := connect(t, n, "alice@example.net", creds("", "", email.SecurityPlain), &transportstest.Store{})
	_, err := a.Send(context.Background(), transports.Message{To: "bob@example.org", Body: "hello"})
	if !errors.Is(err, transports.ErrUnavailable) || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("Send = %v, want a generic failure", err)
	}
	t.Logf("Send: %v; the server sent %d bytes", err, sent.Load())
	if s := sent.Load(); s > 64<<20 {
		t.Errorf("the server could send %d bytes", s)
	}
}
