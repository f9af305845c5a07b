package e2e_test

import (
	"crypto/x509"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
)

// TestEmailOnRedisCluster: the email gateway keeps its state on a real
// 3-node Redis Cluster. A mail reaches the user as chat (IMAP → XMPP:
// the exactly-once enqueue, the message-ID pair and the user's outbox
// queue in one transaction of the user's slot), the reply leaves as mail
// in its thread (XMPP → SMTP), and after a restart the next mail arrives
// while the first is not delivered again.
func TestEmailOnRedisCluster(t *testing.T) {
	cluster := testenv.StartRedisCluster(t)
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
	g := newGateway(t, p, emailGW, network, logs, "")
	g.openStore = func(t *testing.T) storage.Store {
		t.Helper()
		st, err := redis.Open(t.Context(), redis.Options{ClusterAddrs: cluster.Addrs(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	g.start(t)
	s := &mailStack{gateway: g, mail: mail}
	c := s.registered(t)

	bob := `bob\40localhost@` + emailGW
	fromBob := func(text string) func(*testenv.Element) bool {
		return func(el *testenv.Element) bool {
			return el.Name.Local == "message" && el.Attr("from") == bob && strings.Contains(body(el), text)
		}
	}
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", plainMail("Lunch", "Lunch at noon?", ""))
	m := c.Expect(t, "mail as chat", fromBob("Lunch at noon?"))
	thread := m.ChildText("", "thread")
	if m.ChildText("", "subject") != "Lunch" || thread == "" {
		t.Errorf("mail as chat: %s", m)
	}
	c.Send(t, `<message type="chat" to="`+bob+`"><body>Yes, see you there.</body><thread>`+thread+`</thread></message>`)
	got := s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 1)
	for _, want := range []string{"Re: Lunch", "<Lunch@localhost>", "Yes, see you there."} {
		if !strings.Contains(string(got[0].Raw), want) {
			t.Errorf("reply lacks %q:\n%s", want, got[0].Raw)
		}
	}

	s.restart(t)
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", plainMail("After restart", "Still there?", ""))
	c.Expect(t, "the mail after the restart", fromBob("Still there?"))
	c.ExpectNone(t, 3*time.Second, fromBob("Lunch at noon?"))
	if strings.Contains(logs.String(), "CROSSSLOT") || strings.Contains(logs.String(), "spans hash slots") {
		t.Errorf("a transaction spanned slots:\n%s", logs)
	}
}
