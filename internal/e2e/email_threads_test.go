package e2e_test

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

// TestEmailThreadSurvivesRestart: the thread a mail started is kept in
// Switchboard's storage, not in the adapter: after a restart of
// Switchboard, the user's next answer in the thread is a reply to their
// own last mail in it (In-Reply-To), under the thread's subject.
func TestEmailThreadSurvivesRestart(t *testing.T) {
	s := newMailStack(t)
	c := s.registered(t)
	bob := `bob\40localhost@` + emailGW
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", plainMail("Lunch", "Lunch at noon?", ""))
	m := c.Expect(t, "mail as chat", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == bob
	})
	thread := m.ChildText("", "thread")
	if thread == "" {
		t.Fatalf("no thread: %s", m)
	}
	c.Send(t, `<message type="chat" to="`+bob+`"><body>Yes, see you there.</body><thread>`+thread+`</thread></message>`)
	first := header(t, s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 1)[0].Raw)

	s.restart(t)
	c.Expect(t, "connected after the restart", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("from") == emailGW && el.ChildText("", "status") == "Connected"
	})
	c.Send(t, `<message type="chat" to="`+bob+`"><body>Running late.</body><thread>`+thread+`</thread></message>`)
	var second mail.Header
	for _, got := range s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 2) {
		if strings.Contains(string(got.Raw), "Running late.") {
			second = header(t, got.Raw)
		}
	}
	if second == nil {
		t.Fatal("the answer after the restart did not arrive")
	}
	if got := second.Get("Subject"); got != "Re: Lunch" {
		t.Errorf("subject after the restart %q, want %q", got, "Re: Lunch")
	}
	if got, want := second.Get("In-Reply-To"), first.Get("Message-Id"); got != want || want == "" {
		t.Errorf("In-Reply-To after the restart %q, want the first answer's Message-Id %q", got, want)
	}
	if refs := second.Get("References"); !strings.Contains(refs, "<Lunch@localhost>") || !strings.Contains(refs, first.Get("Message-Id")) {
		t.Errorf("References after the restart %q lack the thread's root or the first answer", refs)
	}
}

func header(t *testing.T, raw []byte) mail.Header {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m.Header
}
