package email

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/mail"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"

	"github.com/switchboard-im/switchboard/transports"
)

// brokenUpload yields some bytes, then fails.
type brokenUpload struct{ sent bool }

func (r *brokenUpload) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "partial"), nil
	}
	return 0, errors.New("the upload server went away")
}

// TestComposeAttachments: with files, the mail is multipart/mixed, the
// text first, then one base64 attachment part per file with its name and
// type and the very bytes; go-message and the transport's own Parse both
// read it back. A type that is not a MIME type is sent as
// application/octet-stream; a name with a line break cannot add a header.
func TestComposeAttachments(t *testing.T) {
	binary := make([]byte, 3000)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	type file struct{ name, typ, wantName, wantType string }
	tests := []struct {
		name  string
		files []file
	}{
		{"one pdf", []file{{"report.pdf", "application/pdf", "report.pdf", "application/pdf"}}},
		{"two, one untyped", []file{{"a.png", "image/png", "a.png", "image/png"}, {"data.bin", "", "data.bin", "application/octet-stream"}}},
		{"non-ASCII name, bogus type", []file{{"Ärger über €.txt", "not a type", "Ärger über €.txt", "application/octet-stream"}}},
		{"header injection in name", []file{{"x.txt\r\nBcc: eve@example.org", "text/plain", "x.txt Bcc: eve@example.org", "text/plain"}}},
		{"multipart type refused", []file{{"m", "multipart/mixed", "m", "application/octet-stream"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Outgoing{From: mail.Address{Address: "alice@example.org"}, To: []mail.Address{{Address: "bob@example.org"}},
				Subject: "files", Body: "see the files"}
			for _, f := range tt.files {
				o.Attachments = append(o.Attachments, OutAttachment{Name: f.name, Type: f.typ, Content: bytes.NewReader(binary)})
			}
			raw, id, err := Compose(o)
			if err != nil {
				t.Fatal(err)
			}
			checkWireFormat(t, raw)
			head := strings.ToLower(headerBlock(t, raw))
			if strings.Contains(head, "\nbcc:") || !strings.Contains(head, "multipart/mixed") || !strings.Contains(head, "<"+strings.ToLower(id)+">") {
				t.Errorf("header:\n%s", head)
			}

			r, err := gomail.CreateReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			var text string
			var got []file
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
					if text != "" {
						t.Errorf("a second text part: %q", b)
					}
					text = string(b)
				case *gomail.AttachmentHeader:
					name, err := h.Filename()
					if err != nil {
						t.Errorf("file name: %v", err)
					}
					typ, _, _ := h.ContentType()
					if cte := h.Get("Content-Transfer-Encoding"); cte != "base64" {
						t.Errorf("%s: transfer encoding %q", name, cte)
					}
					got = append(got, file{wantName: name, wantType: typ})
					contents = append(contents, b)
				}
			}
			if strings.TrimSpace(text) != "see the files" {
				t.Errorf("text part %q", text)
			}
			if len(got) != len(tt.files) {
				t.Fatalf("%d attachments, want %d", len(got), len(tt.files))
			}
			for i, f := range tt.files {
				if got[i].wantName != f.wantName || got[i].wantType != f.wantType {
					t.Errorf("attachment %d: %q %q, want %q %q", i, got[i].wantName, got[i].wantType, f.wantName, f.wantType)
				}
				if !bytes.Equal(contents[i], binary) {
					t.Errorf("attachment %d: content differs", i)
				}
			}

			in, err := Parse(bytes.NewReader(raw), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Attachments) != len(tt.files) || in.Body != "see the files" {
				t.Fatalf("Parse: body %q, %d attachments", in.Body, len(in.Attachments))
			}
			for i := range tt.files {
				a := in.Attachments[i]
				if data := content(t, &a); !bytes.Equal(data, binary) || a.ContentType != got[i].wantType {
					t.Errorf("Parse attachment %d: %q %q, %d bytes", i, a.Name, a.ContentType, len(data))
				}
			}
		})
	}
}

// TestComposeWithoutAttachmentsUnchanged: without files the mail is the
// single text/plain part it always was.
func TestComposeWithoutAttachmentsUnchanged(t *testing.T) {
	raw, _, err := Compose(Outgoing{From: mail.Address{Address: "alice@example.org"}, To: []mail.Address{{Address: "bob@example.org"}}, Body: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	head := strings.ToLower(headerBlock(t, raw))
	if !strings.Contains(head, "content-type: text/plain; charset=utf-8") || strings.Contains(head, "multipart") {
		t.Errorf("header:\n%s", head)
	}
}

// TestMailWriteToFileFails: a file that fails while read makes WriteTo
// fail with its error, so the mail is not submitted.
func TestMailWriteToFileFails(t *testing.T) {
	m, err := NewMail(Outgoing{From: mail.Address{Address: "alice@example.org"}, To: []mail.Address{{Address: "bob@example.org"}},
		Body: "hi", Attachments: []OutAttachment{{Name: "a", Content: &brokenUpload{}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.WriteTo(io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the upload server went away") {
		t.Errorf("err = %v", err)
	}
}

// TestAttachmentOpen: a parsed mail's attachment reaches the component
// with an Open that gives its bytes once, from its spool file, which
// reading it to the end releases; one parse dropped has no Open, so the
// user is told its name and size instead.
func TestAttachmentOpen(t *testing.T) {
	sp := testSpool(t)
	in, err := parse(strings.NewReader("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"+
		"Content-Type: text/plain; name=a.txt\r\nContent-Disposition: attachment\r\n\r\nhello\r\n--b--\r\n"), Limits{}, sp)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if len(in.Attachments) != 1 || sp.Live() != 1 {
		t.Fatalf("%d attachments, %d spool files", len(in.Attachments), sp.Live())
	}
	kept := attachment(in.Attachments[0])
	if kept.Open == nil || kept.Size != 5 || kept.Name != "a.txt" || kept.Type != "text/plain" {
		t.Fatalf("kept: %+v", kept)
	}
	rc, err := kept.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" || sp.Live() != 0 {
		t.Errorf("read %q; %d spool files left", b, sp.Live())
	}
	if _, err := kept.Open(context.Background()); !errors.Is(err, transports.ErrUnavailable) {
		t.Errorf("second Open: %v, want ErrUnavailable", err)
	}
	dropped := attachment(Attachment{Name: "big.iso", Size: 1 << 40, TooLarge: true})
	if dropped.Open != nil || dropped.URL != "" || dropped.Size != 1<<40 {
		t.Errorf("dropped: %+v", dropped)
	}
}

// TestOpenFilesFailsEarly: a file that cannot be opened fails the send
// before the submission server is dialled, with Open's error.
func TestOpenFilesFailsEarly(t *testing.T) {
	opened := 0
	files := []transports.File{
		{Name: "ok", Open: func(context.Context) (io.ReadCloser, error) {
			opened++
			return io.NopCloser(strings.NewReader("x")), nil
		}},
		{Name: "gone", Open: func(context.Context) (io.ReadCloser, error) { return nil, transports.ErrUnavailable }},
		{Name: "never", Open: func(context.Context) (io.ReadCloser, error) {
			opened++
			return io.NopCloser(strings.NewReader("y")), nil
		}},
	}
	f, err := openFiles(context.Background(), files)
	defer f.close()
	if !errors.Is(err, transports.ErrUnavailable) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("err = %v", err)
	}
	if opened != 1 || len(f.closers) != 1 {
		t.Errorf("opened %d, kept %d to close", opened, len(f.closers))
	}
}

// FuzzComposeAttachment: whatever a client names and types a shared file,
// the mail stays well formed, its header has no field the file added, and
// the attachment reads back with a single-line name and the same bytes.
func FuzzComposeAttachment(f *testing.F) {
	f.Add("report.pdf", "application/pdf", []byte("%PDF"))
	f.Add("x.txt\r\nBcc: eve@example.org", "text/plain\r\nX: y", []byte{0, 1, 2, 255})
	f.Add("Ärger \"über\" €;.txt", "", []byte{})
	f.Add("\xff\xfe", "multipart/mixed; boundary=x", bytes.Repeat([]byte("ab\r\n.\r\n"), 100))
	f.Fuzz(func(t *testing.T, name, typ string, content []byte) {
		raw, _, err := Compose(Outgoing{From: mail.Address{Address: "alice@example.org"}, To: []mail.Address{{Address: "bob@example.org"}},
			Subject: "s", Body: "b", Attachments: []OutAttachment{{Name: name, Type: typ, Content: bytes.NewReader(content)}}})
		if err != nil {
			t.Fatal(err)
		}
		checkWireFormat(t, raw)
		allowed := map[string]int{"Date": 1, "From": 1, "To": 1, "Subject": 1, "Message-Id": 1, "References": 1, "Mime-Version": 1, "Content-Type": 1}
		for _, n := range fieldNames(t, raw) {
			allowed[n]--
			if allowed[n] < 0 {
				t.Fatalf("unexpected or repeated header field %q:\n%s", n, headerBlock(t, raw))
			}
		}
		r, err := gomail.CreateReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var atts int
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			h, ok := p.Header.(*gomail.AttachmentHeader)
			if !ok {
				continue
			}
			atts++
			b, err := io.ReadAll(p.Body)
			if err != nil || !bytes.Equal(b, content) {
				t.Fatalf("content: %v, %d bytes, want %d", err, len(b), len(content))
			}
			got, err := h.Filename()
			want := cleanLine(name)
			if want == "" {
				want = "attachment"
			}
			if err != nil || got != want {
				t.Fatalf("file name %q (%v), want %q", got, err, want)
			}
		}
		if atts != 1 {
			t.Fatalf("%d attachments", atts)
		}
	})
}

func TestFilesSubject(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"a.png"}, "a.png"},
		{[]string{"a.png", "b.png"}, "a.png and 1 more file"},
		{[]string{"a\r\nBcc: x", "b", "c"}, "a Bcc: x and 2 more files"},
		{[]string{""}, "A file"},
	}
	for _, tt := range tests {
		var files []transports.File
		for _, n := range tt.names {
			files = append(files, transports.File{Name: n})
		}
		if got := filesSubject(files); got != tt.want {
			t.Errorf("filesSubject(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}
