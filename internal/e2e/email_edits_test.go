package e2e_test

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

// TestEmailCorrectionAndRetraction: mail cannot be edited or unsent, so
// a correction leaves as one more mail whose text is marked as a
// correction, and a retraction is refused with feature-not-implemented
// and sends nothing, its fallback body least of all.
func TestEmailCorrectionAndRetraction(t *testing.T) {
	const (
		nsCorrect = "urn:xmpp:message-correct:0"
		nsRetract = "urn:xmpp:message-retract:1"
	)
	s := newMailStack(t)
	c := s.registered(t)
	bob := `bob\40localhost@` + emailGW

	c.Send(t, `<message type="chat" id="k1" to="`+bob+`"><body>Meet at five.</body><origin-id xmlns="urn:xmpp:sid:0" id="k1"/></message>`)
	s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 1)
	c.Send(t, `<message type="chat" id="k2" to="`+bob+`"><body>Meet at six.</body><replace xmlns="`+nsCorrect+`" id="k1"/></message>`)
	got := s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 2)
	if text := mailText(t, got[1].Raw); text != "✎ Meet at six." {
		t.Errorf("the correction's mail says %q, want %q", text, "✎ Meet at six.")
	}

	c.Send(t, `<message type="chat" id="k3" to="`+bob+`"><retract xmlns="`+nsRetract+`" id="k1"/>`+
		`<fallback xmlns="urn:xmpp:fallback:0" for="`+nsRetract+`"/><body>I retracted a message.</body></message>`)
	e := c.Expect(t, "retraction refused", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "error" && el.Attr("id") == "k3"
	})
	if errEl := e.Child("", "error"); errEl.Child(nsStanzas, "feature-not-implemented") == nil ||
		!strings.Contains(errEl.ChildText(nsStanzas, "text"), "cannot delete messages") {
		t.Errorf("retraction error: %s", e)
	}
	time.Sleep(3 * time.Second) // time enough for a mail to arrive
	if n := len(s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 2)); n != 2 {
		t.Errorf("bob has %d mails, want 2: the retraction sent something", n)
	}
}

// mailText is the text of a single-part mail, transfer encoding undone and
// trailing line breaks dropped.
func mailText(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b), "\r\n")
}
