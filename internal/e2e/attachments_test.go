package e2e_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

// TestEmailHundredAttachments: a mail with 100 attachments (real
// OpenSMTPD, Dovecot and Prosody's upload service) arrives as one message
// with 10 files uploaded and linked, and the other 90 named in one line;
// it is delivered well within a liveness bound, not after 100 uploads.
func TestEmailHundredAttachments(t *testing.T) {
	s := newMailStack(t)
	c := s.registered(t)

	var raw strings.Builder
	raw.WriteString("From: Bob <bob@localhost>\r\nTo: alice@localhost\r\nSubject: Many files\r\nMessage-ID: <many@localhost>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n" +
		"--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nA hundred files.\r\n")
	for i := range 100 {
		fmt.Fprintf(&raw, "--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"file%02d.bin\"\r\n"+
			"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n", i, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("content %02d\n", i))))
	}
	raw.WriteString("--XYZ--\r\n")
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", []byte(raw.String()))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // liveness bound
	defer cancel()
	m, err := c.Next(ctx, func(el *testenv.Element) bool {
		return el.Name.Local == "message" && strings.Contains(body(el), "A hundred files.")
	})
	if err != nil {
		t.Fatalf("the mail did not arrive: %v", err)
	}
	var links []string
	for _, ch := range m.Children {
		if ch.Name.Space == "jabber:x:oob" && ch.Name.Local == "x" {
			links = append(links, ch.ChildText("jabber:x:oob", "url"))
		}
	}
	if len(links) != 10 {
		t.Fatalf("%d files linked, want 10:\n%s", len(links), body(m))
	}
	for _, l := range links {
		if !strings.Contains(body(m), l) {
			t.Errorf("the body lacks the link %s", l)
		}
	}
	var rest string
	for _, line := range strings.Split(body(m), "\n") {
		if strings.HasPrefix(line, "[90 more files not uploaded (at most 10 per message): file10.bin, file11.bin, ") {
			rest = line
		}
	}
	if rest == "" || !strings.HasSuffix(rest, ", …]") || len(rest) > 450 {
		t.Errorf("the files not uploaded are not named in one short line (%q):\n%s", rest, body(m))
	}
	if strings.Contains(body(m), "attachment not delivered") {
		t.Errorf("an upload failed:\n%s", body(m))
	}
	// The first link is the first file.
	resp, err := http.Get(links[0])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "content 00\n" {
		t.Errorf("downloaded %q", got)
	}
}
