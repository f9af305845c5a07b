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
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/internal/testenv"
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
	waitSpoolEmpty(t, n, dir)
}

// waitSpoolEmpty waits until n holds no spool file open (deliverMail
// releases them once Deliver returned, on the session's goroutine) and
// checks that dir has no file either.
func waitSpoolEmpty(t *testing.T, n *email.Network, dir string) {
	t.Helper()
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

// TestFetchBigAttachmentBoundedMemory: a mail with a 24 MiB attachment,
// fetched over IMAP (a scripted server on 127.0.0.1, through go-imap)
// and uploaded by the sink from its spool file, costs the process well
// under a MiB of allocation in all (test: under 8 MiB), where the
// whole-message parser allocated the mail and then its attachment (over
// 120 MiB). Allocation is counted, not timed; the wait is long because
// the race detector makes decoding 32 MB slow.
func TestFetchBigAttachmentBoundedMemory(t *testing.T) {
	data := randomBytes(24 << 20)
	var raw bytes.Buffer
	raw.WriteString("From: Bob <bob@example.org>\r\nTo: alice@example.org\r\nSubject: big\r\nMessage-ID: <big@example.org>\r\n" +
		"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\nThe file.\r\n--B\r\nContent-Type: application/octet-stream; name=big.bin\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.NewEncoder(base64.StdEncoding, &lineWriter{w: &raw})
	enc.Write(data)
	enc.Close()
	raw.WriteString("\r\n--B--\r\n")
	srv := testenv.StartFakeIMAP(t, testenv.FakeIMAPOptions{})
	dir := t.TempDir()
	n := email.New(email.Config{Timeout: 5 * time.Second, DefaultIMAP: srv.Addr, DefaultSMTP: unusedSMTP, TempDir: dir, PollInterval: 100 * time.Millisecond,
		Limits: email.Limits{MaxAttachment: 64 << 20, MaxMessage: 128 << 20}})
	sink := &readingSink{events: newEvents(), n: n}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	a, err := n.Connect(ctx, transports.Account{User: "alice@example.net", Credentials: creds("", "", email.SecurityPlain),
		Settings: map[string]string{}, Store: &transportstest.Store{}}, sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	srv.AddMail(testenv.FakeMail{UID: 1, From: "bob@example.org", Subject: "big", Raw: raw.Bytes()})
	for deadline := time.Now().Add(3 * time.Minute); len(sink.messages()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no message after 3 minutes")
		}
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d-byte mail with a %d-byte attachment: %d bytes allocated from its arrival to its delivery", raw.Len(), len(data), allocated)
	if allocated > 8<<20 {
		t.Errorf("%d bytes allocated for the mail, want under 8 MiB", allocated)
	}
	sink.mu.Lock()
	read := sink.read
	sink.mu.Unlock()
	if want := fmt.Sprintf("big.bin %d/%d %x", len(data), len(data), sha256.Sum256(data)); len(read) != 1 || read[0] != want {
		t.Errorf("read %q, want [%q]", read, want)
	}
	waitSpoolEmpty(t, n, dir)
}

// lineWriter cuts what is written into CRLF-ended lines of 76 bytes.
type lineWriter struct {
	w   *bytes.Buffer
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		if l.col == 76 {
			l.w.WriteString("\r\n")
			l.col = 0
		}
		l.w.WriteByte(c)
		l.col++
	}
	return len(p), nil
}
