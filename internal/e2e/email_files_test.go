package e2e_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

// binaryFile is n bytes that are not text, the same every time.
func binaryFile(n int) []byte {
	b := make([]byte, n)
	x := uint32(2166136261)
	for i := range b {
		x = x*16777619 ^ uint32(i)
		b[i] = byte(x >> 13)
	}
	return b
}

// TestEmailFileLeavesAsAttachment: a file the user uploaded to their
// server (XEP-0363) and shared (XEP-0447 with an XEP-0066 fallback)
// arrives in the recipient's mailbox, through OpenSMTPD and Dovecot, as a
// MIME attachment part with the declared name and type and the very
// bytes; the mail's text is what the user wrote, without the link.
func TestEmailFileLeavesAsAttachment(t *testing.T) {
	s := newMailStack(t)
	c := s.registered(t)
	data := binaryFile(200 << 10)
	url := c.Upload(t, "upload.localhost", "IMG_0001.jpg", "image/jpeg", data)
	c.Send(t, `<message type="chat" to="bob\40localhost@`+emailGW+`"><body>here is the photo`+"\n"+url+`</body>`+
		`<file-sharing xmlns="urn:xmpp:sfs:0" disposition="inline"><file xmlns="urn:xmpp:file:metadata:0">`+
		`<media-type>image/jpeg</media-type><name>summit.jpg</name><size>204800</size></file>`+
		`<sources><url-data xmlns="http://jabber.org/protocol/url-data" target="`+url+`"/></sources></file-sharing>`+
		`<x xmlns="jabber:x:oob"><url>`+url+`</url></x></message>`)
	got := s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 1)
	r, err := gomail.CreateReader(bytes.NewReader(got[0].Raw))
	if err != nil {
		t.Fatal(err)
	}
	var text string
	var names, types []string
	var contents [][]byte
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch h := p.Header.(type) {
		case *gomail.InlineHeader:
			text += string(b)
		case *gomail.AttachmentHeader:
			name, _ := h.Filename()
			typ, _, _ := h.ContentType()
			names, types, contents = append(names, name), append(types, typ), append(contents, b)
		}
	}
	if strings.TrimSpace(text) != "here is the photo" {
		t.Errorf("text part %q, want the user's words without the link", text)
	}
	if len(contents) != 1 || names[0] != "summit.jpg" || types[0] != "image/jpeg" {
		t.Fatalf("attachments %v %v, want one summit.jpg image/jpeg", names, types)
	}
	if !bytes.Equal(contents[0], data) {
		t.Errorf("the attachment's %d bytes differ from the %d shared", len(contents[0]), len(data))
	}

	// A file sent alone (the link is the whole body): the mail is named
	// after it.
	url2 := c.Upload(t, "upload.localhost", "notes.txt", "text/plain", []byte("just the notes"))
	c.Send(t, `<message type="chat" to="bob\40localhost@`+emailGW+`"><body>`+url2+`</body><x xmlns="jabber:x:oob"><url>`+url2+`</url></x></message>`)
	got = s.mail.WaitMail(t, "bob@localhost", "bob-mail-pw", "INBOX", 2)
	r, err = gomail.CreateReader(bytes.NewReader(got[1].Raw))
	if err != nil {
		t.Fatal(err)
	}
	if subj, _ := r.Header.Subject(); subj != "notes.txt" {
		t.Errorf("subject %q, want the file's name", subj)
	}
}

// TestEmailBinaryAttachmentArrives: a binary attachment of a mail reaches
// the user as an OOB link to their own server whose content is the same
// bytes, and the link's description is the file's name.
func TestEmailBinaryAttachmentArrives(t *testing.T) {
	s := newMailStack(t)
	c := s.registered(t)
	data := binaryFile(300 << 10)
	enc := base64.StdEncoding.EncodeToString(data)
	var lines strings.Builder
	for len(enc) > 76 {
		lines.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	lines.WriteString(enc + "\r\n")
	raw := "From: Bob <bob@localhost>\r\nTo: alice@localhost\r\nSubject: Binary\r\nMessage-ID: <binary@localhost>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe archive.\r\n" +
		"--B\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"data.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		lines.String() + "--B--\r\n"
	s.mail.Deliver(t, "bob@localhost", "alice@localhost", []byte(raw))
	m := c.Expect(t, "mail with a binary attachment", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && strings.Contains(body(el), "The archive.")
	})
	oob := m.Child("jabber:x:oob", "x")
	if oob == nil || oob.ChildText("jabber:x:oob", "desc") != "data.zip" {
		t.Fatalf("no OOB link for data.zip: %s", m)
	}
	resp, err := http.Get(oob.ChildText("jabber:x:oob", "url"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Errorf("downloaded %d bytes that differ from the %d sent", len(got), len(data))
	}
}
