package email_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// readingSink reads every attachment of a message while Deliver runs, as
// the component does, then records the message.
type readingSink struct {
	*events
	n    *email.Network
	mu   sync.Mutex
	read []string // name, size, SHA-256 of what was read; or the error
	live []int64  // spool files open when Deliver was called
}

func (s *readingSink) Deliver(ev transports.Event) {
	if m, ok := ev.(*transports.MessageEvent); ok {
		s.mu.Lock()
		s.live = append(s.live, email.SpoolFiles(s.n))
		for _, a := range m.Attachments {
			s.read = append(s.read, readAttachment(a))
		}
		s.mu.Unlock()
	}
	s.events.Deliver(ev)
}

func readAttachment(a transports.Attachment) string {
	if a.Open == nil {
		return a.Name + ": not kept"
	}
	rc, err := a.Open(context.Background())
	if err != nil {
		return a.Name + ": " + err.Error()
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return a.Name + ": " + err.Error()
	}
	return fmt.Sprintf("%s %d/%d %x", a.Name, n, a.Size, h.Sum(nil))
}

// randomBytes is n reproducible pseudo-random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{'d', 'o', 'v'}).Read(b)
	return b
}

// TestDovecotAttachmentStreamed: a mail with a 12 MiB attachment, kept by
// a real Dovecot, reaches the sink as a reader of exactly its bytes,
// decoded into a spool file of the configured directory while the IMAP
// literal was read; once delivered, no spool file is left, open or named.
func TestDovecotAttachmentStreamed(t *testing.T) {
	f := setup(t)
	dir := t.TempDir()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(f.srv.CAPEM)
	n := email.New(email.Config{RootCAs: roots, Timeout: waitFor, PollInterval: time.Second, Egress: loopbackOnly(),
		Budget: f.budget, TempDir: dir, Limits: email.Limits{MaxAttachment: 32 << 20, MaxMessage: 64 << 20}})
	sink := &readingSink{events: newEvents(), n: n}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	a, err := n.Connect(ctx, transports.Account{User: "alice@example.org", Credentials: f.creds,
		Settings: map[string]string{}, Store: &transportstest.Store{}}, sink)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { a.Close() })

	data := randomBytes(12 << 20)
	enc := base64.StdEncoding.EncodeToString(data)
	var raw bytes.Buffer
	raw.WriteString("From: Bob <bob@localhost>\r\nTo: alice@localhost\r\nSubject: the dump\r\nMessage-ID: <dump@localhost>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nThe dump.\r\n" +
		"--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"dump.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for len(enc) > 0 {
		k := min(76, len(enc))
		raw.WriteString(enc[:k] + "\r\n")
		enc = enc[k:]
	}
	raw.WriteString("--B--\r\n")
	f.srv.Deliver(t, "bob@localhost", "alice@localhost", raw.Bytes())

	m := sink.waitMessages(t, 1)[0]
	if m.Subject != "the dump" || !strings.Contains(m.Body, "The dump.") {
		t.Errorf("message %q: %q", m.Subject, m.Body)
	}
	sink.mu.Lock()
	read, live := sink.read, sink.live
	sink.mu.Unlock()
	want := fmt.Sprintf("dump.bin %d/%d %x", len(data), len(data), sha256.Sum256(data))
	if len(read) != 1 || read[0] != want || len(live) != 1 || live[0] != 1 {
		t.Errorf("read %q with %v spool files open; want [%q] with 1", read, live, want)
	}
	// deliverMail releases the files once Deliver returned, on the
	// session's goroutine.
	deadline := time.Now().Add(waitFor)
	for email.SpoolFiles(n) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if l := email.SpoolFiles(n); l != 0 {
		t.Errorf("%d spool files open after the delivery", l)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d files in the spool directory", len(entries))
	}
}
