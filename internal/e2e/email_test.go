package e2e_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/internal/testenv"
)

const emailGW = "email.localhost"

// mailStack is Prosody + the component bridging to email + Dovecot and
// OpenSMTPD.
type mailStack struct {
	*gateway
	mail *testenv.MailServer
}

func newMailStack(t *testing.T) *mailStack {
	t.Helper()
	logs := &testenv.LogBuffer{}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{emailGW: secret}})
	mail := testenv.StartMailServer(t, testenv.MailOptions{Users: map[string]string{
		"alice@localhost": "alice-mail-pw-K4", "bob@localhost": "bob-mail-pw"}})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(mail.CAPEM)
	network := email.New(email.Config{
		DefaultIMAP: mail.IMAPStartTLSAddr(), DefaultSMTP: mail.SubmissionAddr(),
		RootCAs: roots, Timeout: timeout, PollInterval: time.Second,
		Logger: debugLogger(logs),
	})
	return &mailStack{gateway: startGateway(t, p, emailGW, network, logs), mail: mail}
}

// registered logs alice in, registers her mailbox and waits until the
// gateway says it is connected.
func (s *mailStack) registered(t *testing.T) *testenv.Client {
	t.Helper()
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	if res := registerMail(t, c, "alice-mail-pw-K4"); res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	c.Send(t, `<presence to="`+emailGW+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)
	c.Expect(t, "connected", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == emailGW && el.ChildText("", "status") == "Connected"
	})
	return c
}

func registerMail(t *testing.T, c *testenv.Client, password string) *testenv.Element {
	t.Helper()
	return c.IQ(t, `<iq type="set" to="`+emailGW+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>`+
		`<field var="address"><value>alice@localhost</value></field>`+
		`<field var="password"><value>`+password+`</value></field>`+
		`<field var="security"><value>starttls</value></field></x></query></iq>`)
}

func plainMail(subject, body, extra string) []byte {
	return []byte("From: Bob Builder <bob@localhost>\r\nTo: alice@localhost\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@localhost>\r\n" + extra +
		"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// TestEmailEndToEnd: registration checked by real IMAP and SMTP logins;
// mail in as chat from bob\40localhost@email.localhost with subject, thread
// and name; a reply out as mail in the same thread; mail while offline
// stored by Prosody; restarts lose and repeat nothing.
func TestEmailEndToEnd(t *testing.T) {
	s := newMailStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)

	res := registerMail(t, c, "wrong-password")
	if res.Attr("type") != "error" || res.Child("", "error").Child("urn:ietf:params:xml:ns:xmpp-stanzas", "not-acceptable") == nil {
		t.Fatalf("wrong password: %s", res)
	}
	if res := registerMail(t, c, "alice-mail-pw-K4"); res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	c.Send(t, `<presence to="`+emailGW+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)
	c.Expect(t, "connected", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == emailGW && el.ChildText("", "status") == "Connected"
	})

	bob := `bob\40localhost@` + emailGW
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", plainMail("Lunch", "Lunch at noon?", ""))
	m := c.Expect(t, "mail as chat", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bob
	})
	if m.ChildText("", "subject") != "Lunch" || !strings.Contains(body(m), "Lunch at noon?") || m.ChildText("", "thread") == "" {
		t.Errorf("mail as chat: %s", m)
	}
	if m.ChildText("http://jabber.org/protocol/nick", "nick") != "Bob Builder" {
		t.Errorf("sender's name: %s", m)
	}
	thread := m.ChildText("", "thread")
	c.Send(t, `<message type="chat" to="`+bob+`"><body>Yes, see you there.</body><thread>`+thread+`</thread></message>`)
	got := s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 1)
	raw := string(got[0].Raw)
	for _, want := range []string{"Re: Lunch", "<Lunch@localhost>", "Yes, see you there."} {
		if !strings.Contains(raw, want) {
			t.Errorf("reply lacks %q:\n%s", want, raw)
		}
	}

	// Offline: the mail waits in Prosody's offline store.
	c.Close()
	time.Sleep(500 * time.Millisecond)
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", plainMail("While away", "Did you get this?", ""))
	time.Sleep(2 * time.Second) // delivered to Prosody, stored offline
	// Restart Switchboard twice while mail arrives: nothing lost, nothing twice.
	s.restart(t)
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", plainMail("During restart", "Still here?", ""))
	s.restart(t)
	c = s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	c.Send(t, `<presence/>`)
	for _, want := range []string{"Did you get this?", "Still here?"} {
		c.Expect(t, want, func(el *testenv.Element) bool {
			return el.Name.Local == "message" && el.Attr("from") == bob && strings.Contains(body(el), want)
		})
	}
	c.ExpectNone(t, 3*time.Second, func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bob
	})
	if strings.Contains(s.logs.String(), "alice-mail-pw-K4") {
		t.Error("the mail password is in the log")
	}
}

// TestEmailKill9: Switchboard, as its own process, is killed with SIGKILL
// while mail pours in, and started again: every mail reaches the user, and
// is stored for them exactly once (one stanza id per mail). The last hop is
// at-least-once (README, "Security model"): a stanza written to the stream
// but not yet confirmed by the server when the process died is written
// again after the restart, with the same id, which clients recognise; a
// second copy with another id would be a mail enqueued twice.
func TestEmailKill9(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{emailGW: secret}})
	mail := testenv.StartMailServer(t, testenv.MailOptions{Users: map[string]string{
		"alice@localhost": "alice-mail-pw-K4", "bob@localhost": "bob-mail-pw"}})
	bin, cfgFile := emailGatewayProcess(t, p, mail, mail.IMAPStartTLSAddr())
	logs := &testenv.LogBuffer{}
	var proc *exec.Cmd
	start := func() {
		proc = exec.Command(bin, "run", "--config", cfgFile)
		proc.Stdout, proc.Stderr = logs, logs
		if err := proc.Start(); err != nil {
			t.Fatal(err)
		}
	}
	kill := func() {
		proc.Process.Kill()
		proc.Wait()
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("switchboard output:\n%s", logs)
		}
	})
	start()

	p.CreateUser(t, "alice", "xmpp-pw")
	c := p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	deadline := time.Now().Add(timeout)
	for {
		res := registerMail(t, c, "alice-mail-pw-K4")
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
	c.Expect(t, "connected", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == emailGW && el.ChildText("", "status") == "Connected"
	})

	const total = 30
	for i := range total {
		mail.Deliver(t, "bob@localhost", "alice@localhost", plainMail(fmt.Sprintf("mail %02d", i), fmt.Sprintf("body %02d", i), ""))
		if i == 10 || i == 20 {
			kill() // in the middle of delivering
			start()
		}
	}
	ids := make(map[string]map[string]bool) // subject → stanza ids seen
	repeats := 0
	record := func(m *testenv.Element) {
		subj := m.ChildText("", "subject")
		if ids[subj] == nil {
			ids[subj] = make(map[string]bool)
		} else {
			repeats++
		}
		ids[subj][m.Attr("id")] = true
	}
	fromGateway := func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == `bob\40localhost@`+emailGW
	}
	for len(ids) < total {
		record(c.Expect(t, fmt.Sprintf("mail %d of %d", len(ids)+1, total), fromGateway))
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		m, err := c.Next(ctx, fromGateway)
		cancel()
		if err != nil {
			break
		}
		record(m)
	}
	for subj, set := range ids {
		if len(set) != 1 || set[""] {
			t.Errorf("%s arrived with stanza ids %v, want one id", subj, set)
		}
	}
	if repeats > 0 {
		t.Logf("%d stanzas written again after a kill (same id)", repeats)
	}
}

// TestEmailAttachment: a mail's attachment is uploaded to the user's
// server (XEP-0363, Prosody's mod_http_file_share) and arrives as a link.
func TestEmailAttachment(t *testing.T) {
	s := newMailStack(t)
	c := s.registered(t)
	pdf := "%PDF-1.4 a tiny test file\n"
	raw := "From: Bob <bob@localhost>\r\nTo: alice@localhost\r\nSubject: The report\r\nMessage-ID: <report@localhost>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n" +
		"--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere it is.\r\n" +
		"--XYZ\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte(pdf)) + "\r\n--XYZ--\r\n"
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", []byte(raw))
	m := c.Expect(t, "mail with attachment", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && strings.Contains(body(el), "Here it is.")
	})
	oob := m.Child("jabber:x:oob", "x")
	if oob == nil {
		t.Fatalf("no OOB link: %s", m)
	}
	url := oob.ChildText("jabber:x:oob", "url")
	if !strings.Contains(body(m), url) {
		t.Errorf("the body lacks the link: %s", m)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != pdf {
		t.Errorf("downloaded %q, want %q", got, pdf)
	}
}

// TestEmailShapesAndSafety: HTML-only and Latin-1 mail read as text; a
// shared file's link goes into the mail; a subject with a line break
// cannot add a header; a refused recipient is an error stanza.
func TestEmailShapesAndSafety(t *testing.T) {
	s := newMailStack(t)
	c := s.registered(t)
	bob := `bob\40localhost@` + emailGW
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", []byte("From: bob@localhost\r\nTo: alice@localhost\r\nSubject: html\r\n"+
		"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello <b>there</b></p><ul><li>one</li></ul><script>x()</script></body></html>\r\n"))
	h := c.Expect(t, "HTML mail", func(el *testenv.Element) bool { return el.Attr("from") == bob && el.ChildText("", "subject") == "html" })
	if b := body(h); !strings.Contains(b, "Hello there") || !strings.Contains(b, "- one") || strings.Contains(b, "x()") || strings.Contains(b, "<") {
		t.Errorf("HTML as text: %q", b)
	}
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", []byte("From: bob@localhost\r\nTo: alice@localhost\r\nSubject: =?ISO-8859-1?Q?caf=E9?=\r\n"+
		"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nUn caf=E9 cr=E8me.\r\n"))
	l := c.Expect(t, "Latin-1 mail", func(el *testenv.Element) bool {
		return el.Attr("from") == bob && el.ChildText("", "subject") == "café"
	})
	if !strings.Contains(body(l), "Un café crème.") {
		t.Errorf("Latin-1 body: %q", body(l))
	}

	c.Send(t, `<message type="chat" to="`+bob+`"><subject>hi&#13;&#10;Bcc: alice@localhost</subject><body>see file</body>`+
		`<x xmlns="jabber:x:oob"><url>https://files.example.org/a.png</url></x></message>`)
	got := s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 1)
	raw := string(got[0].Raw)
	head := raw[:strings.Index(raw, "\r\n\r\n")]
	if strings.Count(strings.ToLower(head), "\nsubject:") != 1 || strings.Contains(strings.ToLower(head), "\nbcc:") {
		t.Errorf("header injection:\n%s", head)
	}
	if !strings.Contains(raw, "https://files.example.org/a.png") {
		t.Errorf("the shared file's link is not in the mail:\n%s", raw)
	}
	time.Sleep(time.Second)
	if n := len(s.mail.Fetch(t, "alice@localhost", "alice-mail-pw-K4", "INBOX")); n != 2 {
		t.Errorf("alice's INBOX has %d mails, want the 2 delivered (no Bcc copy)", n)
	}

	c.Send(t, `<message type="chat" id="bad" to="nobody\40nowhere.invalid@`+emailGW+`"><body>hello?</body></message>`)
	e := c.Expect(t, "refused recipient", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "error" && el.Attr("id") == "bad"
	})
	// The gateway's words and the reply code, not the server's text.
	if text := e.Child("", "error").ChildText("urn:ietf:params:xml:ns:xmpp-stanzas", "text"); !strings.Contains(text, "the mail server") {
		t.Errorf("error without a text saying what happened: %s", e)
	}
}

// TestEmailLoginRefusedLater: the password changed on the mail server
// after registration: the gateway's presence says the login is refused,
// in the gateway's words (a server's own text is never shown: the user
// may have named any server), and a message says what to do.
func TestEmailLoginRefusedLater(t *testing.T) {
	s := newMailStack(t)
	c := s.registered(t)
	if err := s.mail.AddUser("alice@localhost", "a-new-password"); err != nil {
		t.Fatal(err)
	}
	s.restart(t)
	p := c.Expect(t, "login refused", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == emailGW && strings.Contains(el.ChildText("", "status"), "refused")
	})
	if p.ChildText("", "show") != "xa" || !strings.Contains(p.ChildText("", "status"), "the mail server refused the address or password") {
		t.Errorf("gateway presence: %s", p)
	}
	c.Expect(t, "message from the gateway", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == emailGW && strings.Contains(body(el), "register")
	})
}

// emailGatewayProcess builds the switchboard binary and writes a config
// for an email gateway on p, with mail's submission server and imap as the
// default servers, its database and key in a temporary directory. It
// returns the binary and the config file.
func emailGatewayProcess(t *testing.T, p *testenv.Prosody, mail *testenv.MailServer, imap string) (bin, cfgFile string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "switchboard")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/switchboard-im/switchboard/cmd/switchboard").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := fmt.Sprintf(`[xmpp]
server = %q
[storage]
path = %q
[security]
key_file = %q
allowed_domains = ["localhost"]
ca_file = %q
[http]
listen = "127.0.0.1:0"
[email]
domain = %q
secret = %q
default_imap_server = %q
default_smtp_server = %q
`, p.ComponentAddr, filepath.Join(dir, "sb.db"), filepath.Join(dir, "sb.key"), mail.CAFile, emailGW, secret,
		imap, mail.SubmissionAddr())
	cfgFile = filepath.Join(dir, "switchboard.toml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return bin, cfgFile
}
