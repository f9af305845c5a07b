package e2e_test

import (
	"crypto/x509"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/internal/testenv"
)

// registerMailServer registers an email account whose IMAP server the
// user names; SMTP is the admin's default.
func registerMailServer(t *testing.T, c *testenv.Client, address, password, imapServer, security string) *testenv.Element {
	t.Helper()
	return c.IQ(t, `<iq type="set" to="`+emailGW+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>`+
		`<field var="address"><value>`+address+`</value></field>`+
		`<field var="password"><value>`+password+`</value></field>`+
		`<field var="imap_server"><value>`+imapServer+`</value></field>`+
		`<field var="security"><value>`+security+`</value></field></x></query></iq>`)
}

// stanzaError returns the defined condition and text of an error stanza.
func stanzaError(el *testenv.Element) (condition, text string) {
	e := el.Child(nsClient, "error")
	if e == nil {
		return "", ""
	}
	for _, ch := range e.Children {
		if ch.Name.Space == nsStanzas && ch.Name.Local != "text" {
			condition = ch.Name.Local
		}
	}
	return condition, e.ChildText(nsStanzas, "text")
}

// TestEmailHostileServers: through Prosody and the component, a user
// names mail servers the gateway must not trust. A private address is
// refused with not-allowed and a text naming the policy; an IMAP server
// that answers a fetch with a 2 GB literal costs one notice and does not
// stop the next mail; an IMAP server that goes silent after IDLE cannot
// hold an unregistration.
func TestEmailHostileServers(t *testing.T) {
	logs := &testenv.LogBuffer{}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{emailGW: secret}})
	mail := testenv.StartMailServer(t, testenv.MailOptions{Users: map[string]string{
		"alice@localhost": "alice-mail-pw-K4", "bob@localhost": "bob-mail-pw-J8"}})
	big := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{})
	silent := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{Idle: true, SilentAfter: "IDLE"})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(mail.CAPEM)
	const netTimeout = 2 * time.Second
	network := email.New(email.Config{
		DefaultSMTP: mail.SubmissionAddr(), AllowPlaintext: true,
		// As [security] allow_private = ["127.0.0.1"]: the scripted
		// servers listen there. 127.0.0.2 and 10.0.0.5 stay refused.
		Egress:  &egress.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		RootCAs: roots, Timeout: netTimeout, PollInterval: 200 * time.Millisecond,
		Limits: email.Limits{MaxMessage: 1 << 20},
		Logger: debugLogger(logs),
	})
	startGateway(t, p, emailGW, network, logs)

	p.CreateUser(t, "alice", "xmpp-pw")
	alice := p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	_, bigPort, _ := strings.Cut(big.Addr, ":")
	// An address on this machine first: were the policy not applied, the
	// private addresses after it are not tried, so no packet leaves.
	for _, refused := range []string{"127.0.0.2:" + bigPort, "10.0.0.5:993", "169.254.169.254:143"} {
		res := registerMailServer(t, alice, "alice@localhost", "alice-mail-pw-K4", refused, "tls")
		if cond, text := stanzaError(res); res.Attr("type") != "error" || cond != "not-allowed" || !strings.Contains(text, "not a public address") {
			t.Fatalf("registration with %s: %s", refused, res)
		}
	}
	if n := big.Connections(); n != 0 {
		t.Fatalf("%d connections reached the IMAP server during refused registrations", n)
	}

	// A server that lies about a mail's size.
	if res := registerMailServer(t, alice, "alice@localhost", "alice-mail-pw-K4", big.Addr, "plain"); res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	alice.Send(t, `<presence to="`+emailGW+`" type="subscribed"/>`)
	alice.Send(t, `<presence/>`)
	connected := func(el *testenv.Element) bool {
		return el.Name.Space == nsClient && el.Name.Local == "presence" && el.Attr("from") == emailGW &&
			el.ChildText(nsClient, "status") == "Connected"
	}
	alice.Expect(t, "connected", connected)
	big.AddMail(testenv.FakeMail{UID: 1, From: "mallory@example.org", Subject: "Huge file", Size: 600, Literal: 2_000_000_000,
		Raw: []byte("From: mallory@example.org\r\nSubject: Huge file\r\n\r\nx\r\n")})
	notice := alice.Expect(t, "notice of the skipped mail", func(el *testenv.Element) bool {
		return el.Name.Space == nsClient && el.Name.Local == "message" && el.Attr("from") == emailGW &&
			strings.Contains(el.ChildText(nsClient, "body"), "Huge file")
	})
	if b := notice.ChildText(nsClient, "body"); !strings.Contains(b, "mallory@example.org") || !strings.Contains(b, "1.9 GiB") {
		t.Errorf("notice: %s", b)
	}
	if w := big.Written(); w > 64<<20 {
		t.Errorf("the server could send %d bytes of the literal", w)
	}
	big.AddMail(testenv.FakeMail{UID: 2, From: "bob@example.org", Subject: "after",
		Raw: []byte("From: Bob <bob@example.org>\r\nSubject: after\r\nMessage-ID: <after@example.org>\r\n\r\nstill here\r\n")})
	alice.Expect(t, "the next mail", func(el *testenv.Element) bool {
		return el.Name.Space == nsClient && el.Name.Local == "message" && el.Attr("from") == `bob\40example.org@`+emailGW &&
			strings.Contains(el.ChildText(nsClient, "body"), "still here")
	})

	// A server that goes silent after IDLE.
	p.CreateUser(t, "bob", "xmpp-pw")
	bob := p.Login(t, jid.MustParse("bob@localhost"), "xmpp-pw", "pc", 0)
	if res := registerMailServer(t, bob, "bob@localhost", "bob-mail-pw-J8", silent.Addr, "plain"); res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	bob.Send(t, `<presence to="`+emailGW+`" type="subscribed"/>`)
	bob.Send(t, `<presence/>`)
	bob.Expect(t, "connected", connected)
	select {
	case <-silent.Seen("IDLE"):
	case <-time.After(timeout):
		t.Fatal("the gateway never sent IDLE")
	}
	// IQ waits 10 s at most: a liveness bound well above the network's
	// Timeout, not a speed check.
	res := bob.IQ(t, `<iq type="set" to="`+emailGW+`"><query xmlns="jabber:iq:register"><remove/></query></iq>`)
	if res.Attr("type") != "result" {
		t.Errorf("unregistration: %s", res)
	}

	// The gateway still serves alice.
	big.AddMail(testenv.FakeMail{UID: 3, From: "bob@example.org", Subject: "later",
		Raw: []byte("From: Bob <bob@example.org>\r\nSubject: later\r\nMessage-ID: <later@example.org>\r\n\r\nand later\r\n")})
	alice.Expect(t, "a later mail", func(el *testenv.Element) bool {
		return el.Name.Space == nsClient && el.Name.Local == "message" && el.Attr("from") == `bob\40example.org@`+emailGW &&
			strings.Contains(el.ChildText(nsClient, "body"), "and later")
	})
	if strings.Contains(logs.String(), "alice-mail-pw-K4") || strings.Contains(logs.String(), "bob-mail-pw-J8") {
		t.Error("a mail password is in the log")
	}
}

// TestEmailSilentServerSIGTERM: Switchboard, as its own process, with a
// user whose IMAP server went silent after IDLE, exits on SIGTERM within
// a bound: closing that mailbox cannot hang the shutdown.
func TestEmailSilentServerSIGTERM(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{emailGW: secret}})
	mail := testenv.StartMailServer(t, testenv.MailOptions{Users: map[string]string{"alice@localhost": "alice-mail-pw-K4"}})
	silent := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{Idle: true, SilentAfter: "IDLE"})
	bin, cfgFile := emailGatewayProcess(t, p, mail, silent.Addr)
	logs := &testenv.LogBuffer{}
	proc := exec.Command(bin, "run", "--config", cfgFile)
	proc.Stdout, proc.Stderr = logs, logs
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- proc.Wait() }()
	t.Cleanup(func() {
		proc.Process.Kill()
		if t.Failed() {
			t.Logf("switchboard output:\n%s", logs)
		}
	})

	p.CreateUser(t, "alice", "xmpp-pw")
	c := p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	deadline := time.Now().Add(timeout)
	for {
		res := registerMailServer(t, c, "alice@localhost", "alice-mail-pw-K4", "", "plain")
		if res.Attr("type") == "result" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registration: %s", res)
		}
		time.Sleep(200 * time.Millisecond) // the component is still connecting
	}
	c.Send(t, `<presence to="`+emailGW+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)
	select {
	case <-silent.Seen("IDLE"):
	case <-time.After(timeout):
		t.Fatal("the gateway never sent IDLE")
	}
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(timeout): // liveness bound, not a speed check
		t.Fatal("Switchboard still running after SIGTERM")
	}
}
