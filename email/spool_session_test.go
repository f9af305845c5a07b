package email

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// attachmentMail is a mail with a line of text and one base64 attachment
// of the given content.
func attachmentMail(content string) string {
	return mailOf("Subject: files\r\nContent-Type: multipart/mixed; boundary=b\r\n", "--b\n\nsee attached\n--b\n"+
		"Content-Type: application/octet-stream; name=data.bin\nContent-Transfer-Encoding: base64\n\n"+b64Lines(content, 76)+"--b--\n")
}

// scriptedNetwork is a network whose spool is in a directory of the
// test's own.
func scriptedNetwork(t *testing.T) *Network {
	return New(Config{Timeout: time.Second, AllowPlaintext: true, TempDir: t.TempDir()})
}

// scriptedDelivery delivers on n the new mail of a scripted IMAP server
// whose body fetch answers literal (announcing size bytes), and returns
// what deliverNew returned.
func scriptedDelivery(t *testing.T, n *Network, literal string, size int, sink transports.Sink) error {
	t.Helper()
	script := strings.Join([]string{
		"TAG OK [CAPABILITY IMAP4rev1] logged in",
		"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [UIDNEXT 2] x\r\nTAG OK [READ-WRITE] selected",
		"* SEARCH 1\r\nTAG OK searched",
		fmt.Sprintf("* 1 FETCH (UID 1 RFC822.SIZE %d ENVELOPE (NIL \"files\" ((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL NIL NIL))\r\nTAG OK", size),
		fmt.Sprintf("* 1 FETCH (UID 1 BODY[]<0> {%d}\r\n%s", size, literal),
		"TAG OK stored",
	}, "\x00")
	n.dialer = func(context.Context, string) (net.Conn, error) {
		client, server := net.Pipe()
		go serveScript(server, "* OK [CAPABILITY IMAP4rev1] ready", script)
		return client, nil
	}
	l, err := n.login(transports.Credentials{"address": "alice@example.org", "password": "pw",
		"imap_server": "imap.example.org:143", "smtp_server": "smtp.example.org:587", "security": SecurityPlain})
	if err != nil {
		t.Fatal(err)
	}
	a := newAdapter(n, transports.Account{User: "u", Store: &transportstest.Store{}, Settings: map[string]string{}}, l, sink)
	defer a.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := n.dialIMAP(ctx, a.ctx, a.acct.User, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.closeNow()
	if _, _, err := a.selectInbox(c); err != nil {
		t.Fatal(err)
	}
	last := imap.UID(0)
	_, err = a.deliverNew(c, 7, &last)
	return err
}

// spoolEmpty fails the test unless n's spool holds no file, open or
// named.
func spoolEmpty(t *testing.T, n *Network) {
	t.Helper()
	if l := n.spool.Live(); l != 0 {
		t.Errorf("%d spool files still open", l)
	}
	if entries, _ := os.ReadDir(n.spool.dir); len(entries) != 0 {
		t.Errorf("%d files in the spool directory", len(entries))
	}
}

// TestDeliveryReadsSpoolOnce: the attachment of a fetched mail reaches
// the sink as a reader of exactly its bytes, and its spool file is gone
// once Deliver returned, whether the sink read it or not.
func TestDeliveryReadsSpoolOnce(t *testing.T) {
	content := strings.Repeat("attached bytes\n", 3000)
	raw := attachmentMail(content)
	for _, read := range []bool{true, false} {
		t.Run(fmt.Sprintf("read=%v", read), func(t *testing.T) {
			var got []string
			var live int64
			var n *Network
			sink := transports.SinkFunc(func(ev transports.Event) {
				m, ok := ev.(*transports.MessageEvent)
				if !ok {
					return
				}
				live = n.spool.Live()
				for _, a := range m.Attachments {
					if !read {
						got = append(got, fmt.Sprintf("%s %d", a.Name, a.Size))
						continue
					}
					rc, err := a.Open(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, fmt.Sprintf("%s %d %x", a.Name, a.Size, sha256.Sum256(b)))
				}
			})
			n = scriptedNetwork(t)
			if err := scriptedDelivery(t, n, raw+")\r\nTAG OK", len(raw), sink); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("data.bin %d", len(content))
			if read {
				want += fmt.Sprintf(" %x", sha256.Sum256([]byte(content)))
			}
			if len(got) != 1 || got[0] != want || live != 1 {
				t.Errorf("attachments %q with %d spool files during Deliver; want [%q] with 1", got, live, want)
			}
			spoolEmpty(t, n)
		})
	}
}

// TestFetchCutMidAttachment: a server that stops in the middle of an
// attachment's literal and hangs up fails the delivery as a connection
// failure; nothing reaches the user, and what was spooled of the file
// is gone.
func TestFetchCutMidAttachment(t *testing.T) {
	raw := attachmentMail(strings.Repeat("0123456789", 20000))
	n := scriptedNetwork(t)
	delivered := 0
	err := scriptedDelivery(t, n, raw[:len(raw)/2], len(raw), transports.SinkFunc(func(transports.Event) { delivered++ }))
	if !errors.Is(err, transports.ErrUnavailable) || delivered != 0 {
		t.Errorf("err = %v, %d events; want ErrUnavailable and none", err, delivered)
	}
	spoolEmpty(t, n)
}
