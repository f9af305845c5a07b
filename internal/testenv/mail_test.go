package testenv

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

var mailUsers = map[string]string{"alice@localhost": "alice-pw", "bob@localhost": "bob-pw"}

func testMail(from, to, subject, msgID string) []byte {
	return []byte(strings.Join([]string{
		"From: " + from,
		"To: " + to,
		"Subject: " + subject,
		"Message-ID: <" + msgID + ">",
		"Date: " + time.Now().Format(time.RFC1123Z),
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"Hello from " + from + ".",
		"",
	}, "\r\n"))
}

func TestMailSubmissionToIMAP(t *testing.T) {
	m := StartMailServer(t, MailOptions{Users: mailUsers})
	m.Send(t, "alice@localhost", "alice-pw", []string{"bob@localhost"}, testMail("alice@localhost", "bob@localhost", "Hi Bob", "1@test"))
	mails := m.WaitMail(t, "bob@localhost", "bob-pw", "INBOX", 1)
	if len(mails) != 1 {
		t.Fatalf("bob has %d messages, want 1", len(mails))
	}
	raw := string(mails[0].Raw)
	for _, want := range []string{"Subject: Hi Bob", "Message-ID: <1@test>", "Hello from alice@localhost."} {
		if !strings.Contains(raw, want) {
			t.Errorf("bob's message lacks %q:\n%s", want, raw)
		}
	}
	if mails[0].UID == 0 {
		t.Error("UID 0")
	}
	for _, f := range mails[0].Flags {
		if f == `\Seen` {
			t.Errorf("Fetch marked the message seen: %v", mails[0].Flags)
		}
	}
	if got := m.Fetch(t, "alice@localhost", "alice-pw", "INBOX"); len(got) != 0 {
		t.Errorf("alice has %d messages, want 0", len(got))
	}
}

func TestMailSubmissionImplicitTLS(t *testing.T) {
	m := StartMailServer(t, MailOptions{Users: mailUsers})
	c, err := smtp.DialTLS(m.SubmissionTLSAddr(), m.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "bob@localhost", "bob-pw")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("bob@localhost", []string{"alice@localhost"}, bytes.NewReader(testMail("bob@localhost", "alice@localhost", "TLS", "2@test"))); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	m.WaitMail(t, "alice@localhost", "alice-pw", "INBOX", 1)
}

func TestMailSubmissionWrongPassword(t *testing.T) {
	m := StartMailServer(t, MailOptions{Users: mailUsers})
	err := m.Submit("alice@localhost", "wrong", []string{"bob@localhost"}, testMail("alice@localhost", "bob@localhost", "x", "3@test"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 535 {
		t.Fatalf("submission with a wrong password: %v, want a 535 refusal", err)
	}
}

func TestMailDeliverLMTP(t *testing.T) {
	m := StartMailServer(t, MailOptions{Users: mailUsers})
	for i := range 3 {
		m.Deliver(t, "someone@example.org", "alice@localhost", testMail("someone@example.org", "alice@localhost", fmt.Sprint("n", i), fmt.Sprint(i, "@example.org")))
	}
	mails := m.Fetch(t, "alice@localhost", "alice-pw", "INBOX")
	if len(mails) != 3 {
		t.Fatalf("alice has %d messages, want 3", len(mails))
	}
	for i, mail := range mails {
		if !bytes.Contains(mail.Raw, []byte(fmt.Sprint("Subject: n", i))) {
			t.Errorf("message %d:\n%s", i, mail.Raw)
		}
		if i > 0 && mail.UID <= mails[i-1].UID {
			t.Errorf("UIDs not increasing: %d then %d", mails[i-1].UID, mail.UID)
		}
	}
	// A user added while running authenticates and receives mail.
	if err := m.AddUser("carol@localhost", "carol-pw"); err != nil {
		t.Fatal(err)
	}
	m.Send(t, "carol@localhost", "carol-pw", []string{"carol@localhost"}, testMail("carol@localhost", "carol@localhost", "self", "4@test"))
	m.WaitMail(t, "carol@localhost", "carol-pw", "INBOX", 1)
}

func TestMailIMAPTLS(t *testing.T) {
	m := StartMailServer(t, MailOptions{Users: mailUsers})
	opts := &imapclient.Options{TLSConfig: m.TLSConfig(), Dialer: &net.Dialer{Timeout: 5 * time.Second}}

	c, err := imapclient.DialTLS(m.IMAPAddr(), opts)
	if err != nil {
		t.Fatalf("IMAPS with the CA: %v", err)
	}
	if err := c.Login("bob@localhost", "bob-pw").Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c, err = imapclient.DialStartTLS(m.IMAPStartTLSAddr(), opts)
	if err != nil {
		t.Fatalf("IMAP STARTTLS with the CA: %v", err)
	}
	defer c.Close()
	if err := c.Login("bob@localhost", "bob-pw").Wait(); err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has(imap.CapIdle) {
		t.Errorf("IDLE not offered: %v", caps)
	}

	// Without the CA (system roots only) verification fails.
	var unknown x509.UnknownAuthorityError
	_, err = imapclient.DialTLS(m.IMAPAddr(), &imapclient.Options{TLSConfig: &tls.Config{ServerName: "localhost"}})
	if !errors.As(err, &unknown) {
		t.Errorf("IMAPS without the CA: %v, want an unknown authority error", err)
	}
	// go-smtp's handshake happens with the first command after STARTTLS.
	sc, err := smtp.DialStartTLS(m.SubmissionAddr(), &tls.Config{ServerName: "localhost"})
	if err == nil {
		err = sc.Noop()
		sc.Close()
	}
	if !errors.As(err, &unknown) {
		t.Errorf("submission STARTTLS without the CA: %v, want an unknown authority error", err)
	}
}

func TestMailIMAPWrongPassword(t *testing.T) {
	m := StartMailServer(t, MailOptions{Users: mailUsers})
	if _, err := m.FetchMail("bob@localhost", "nope", "INBOX"); err == nil {
		t.Fatal("IMAP login with a wrong password succeeded")
	}
}

func TestMailRestartKeepsMailbox(t *testing.T) {
	m := StartMailServer(t, MailOptions{Users: mailUsers})
	m.Deliver(t, "x@example.org", "bob@localhost", testMail("x@example.org", "bob@localhost", "before", "5@test"))
	before := m.Fetch(t, "bob@localhost", "bob-pw", "INBOX")
	m.Stop()
	if _, err := m.FetchMail("bob@localhost", "bob-pw", "INBOX"); err == nil {
		t.Fatal("IMAP answers while stopped")
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err == nil {
		t.Error("Start of a running server succeeded")
	}
	after := m.Fetch(t, "bob@localhost", "bob-pw", "INBOX")
	if len(after) != 1 || after[0].UID != before[0].UID || !bytes.Equal(after[0].Raw, before[0].Raw) {
		t.Fatalf("mailbox changed across restart: before %+v, after %+v", before, after)
	}
	m.Send(t, "alice@localhost", "alice-pw", []string{"bob@localhost"}, testMail("alice@localhost", "bob@localhost", "after", "6@test"))
	if got := m.WaitMail(t, "bob@localhost", "bob-pw", "INBOX", 2); got[1].UID <= got[0].UID {
		t.Errorf("UIDs after restart: %d, %d", got[0].UID, got[1].UID)
	}
}

func TestMailParallelServers(t *testing.T) {
	a := StartMailServer(t, MailOptions{Users: mailUsers})
	if !a.namespace {
		t.Skip("no mount namespaces here: OpenSMTPD's control socket and spool are system-wide, one MailServer at a time")
	}
	b := StartMailServer(t, MailOptions{Users: mailUsers})
	a.Send(t, "alice@localhost", "alice-pw", []string{"bob@localhost"}, testMail("alice@localhost", "bob@localhost", "via a", "7@test"))
	b.Send(t, "bob@localhost", "bob-pw", []string{"alice@localhost"}, testMail("bob@localhost", "alice@localhost", "via b", "8@test"))
	a.WaitMail(t, "bob@localhost", "bob-pw", "INBOX", 1)
	b.WaitMail(t, "alice@localhost", "alice-pw", "INBOX", 1)
	if n := len(a.Fetch(t, "alice@localhost", "alice-pw", "INBOX")); n != 0 {
		t.Errorf("server a got b's mail: %d messages", n)
	}
}
