package email

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// testSpool is a spool in a directory of the test's own, which must be
// empty, with every file released, when the test ends.
func testSpool(t testing.TB) *spool {
	t.Helper()
	sp := newSpool(t.TempDir())
	t.Cleanup(func() {
		if n := sp.Live(); n != 0 {
			t.Errorf("%d spool files not released", n)
		}
		if entries, _ := os.ReadDir(sp.dir); len(entries) != 0 {
			t.Errorf("%d files left in the spool directory", len(entries))
		}
	})
	return sp
}

// content reads a's content: nil when it was not kept.
func content(t testing.TB, a *Attachment) []byte {
	t.Helper()
	if !a.Kept() {
		return nil
	}
	rc, err := a.Open()
	if err != nil {
		t.Fatalf("Open %q: %v", a.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", a.Name, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// wantAtt is what a test expects of an attachment; data is checked when
// the attachment is kept.
type wantAtt struct {
	name, typ string
	size      int64
	tooLarge  bool
	overCount bool
	data      string
}

// mailOf builds a mail: a From header, the given header lines, and body,
// with CRLF line ends.
func mailOf(header, body string) string {
	return "From: a@example.org\r\n" + header + "\r\n" + strings.ReplaceAll(body, "\n", "\r\n")
}

// b64Lines is s in base64, cut into lines of n characters.
func b64Lines(s string, n int) string {
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	var b strings.Builder
	for len(enc) > n {
		b.WriteString(enc[:n] + "\n")
		enc = enc[n:]
	}
	b.WriteString(enc + "\n")
	return b.String()
}

// longLine is longer than the walker's line buffer, without a line end.
var longLine = strings.Repeat("0123456789abcdef", lineBuf/16*2+3)

// walkCases are crafted mails and what the walker must find in them.
var walkCases = []struct {
	name string
	raw  string
	lim  Limits
	body string
	atts []wantAtt
}{{
	name: "nested multiparts",
	raw: mailOf("Content-Type: multipart/mixed; boundary=outer\r\n", `preamble
--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

plain text
--alt
Content-Type: multipart/related; boundary=rel

--rel
Content-Type: text/html

<p>html text</p>
--rel
Content-Type: image/png
Content-Disposition: inline; filename=logo.png
Content-Transfer-Encoding: base64

`+b64Lines("PNG-BYTES", 76)+`--rel--
--alt--
--outer
Content-Type: application/pdf; name=report.pdf
Content-Transfer-Encoding: base64

`+b64Lines("%PDF-1.7 report", 8)+`--outer--
epilogue
`),
	body: "plain text",
	atts: []wantAtt{{name: "logo.png", typ: "image/png", size: 9, data: "PNG-BYTES"}, {name: "report.pdf", typ: "application/pdf", size: 15, data: "%PDF-1.7 report"}},
}, {
	name: "base64: LF ends, junk, padding restarts, URL alphabet",
	raw: mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\nContent-Type: application/octet-stream; name=x.bin\n"+
		"Content-Transfer-Encoding: BASE64\n\n"+"aGVs bG8=\n!!IHdv\ncmxk\n-_8=\n--b--\n"),
	atts: []wantAtt{{name: "x.bin", typ: "application/octet-stream", size: 13, data: "hello world\xfb\xff"}},
}, {
	name: "quoted-printable attachment: soft breaks, escapes, trailing blanks",
	raw: mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\nContent-Type: text/csv\nContent-Disposition: attachment; filename=t.csv\n"+
		"Content-Transfer-Encoding: quoted-printable\n\n"+"a=3Db,caf=C3=A9   \nlong =\nline =ZZ end\n--b--\n"),
	atts: []wantAtt{{name: "t.csv", typ: "text/csv", size: 28, data: "a=b,café\r\nlong line =ZZ end"}},
}, {
	name: "oversized: counted, not kept",
	raw: mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\n\nsee\n--b\nContent-Type: application/zip; name=big.zip\n"+
		"Content-Transfer-Encoding: base64\n\n"+b64Lines(strings.Repeat("z", 5000), 76)+"--b\nContent-Type: image/gif; name=small.gif\n\nGIF89a\n--b--\n"),
	lim:  Limits{MaxAttachment: 4096},
	body: "see",
	atts: []wantAtt{{name: "big.zip", typ: "application/zip", size: 5000, tooLarge: true}, {name: "small.gif", typ: "image/gif", size: 6, data: "GIF89a"}},
}, {
	name: "too many: the first kept, the others listed",
	raw: mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\nContent-Type: image/png; name=1.png\n\none\n"+
		"--b\nContent-Type: image/png; name=2.png\n\ntwo\n--b\nContent-Type: image/png; name=3.png\n\nthree\n--b--\n"),
	lim: Limits{MaxAttachments: 2},
	atts: []wantAtt{{name: "1.png", typ: "image/png", size: 3, data: "one"}, {name: "2.png", typ: "image/png", size: 3, data: "two"},
		{name: "3.png", typ: "image/png", size: 5, overCount: true}},
}, {
	name: "no closing boundary: the last part runs to the end",
	raw:  mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\n\ntext\n--b\nContent-Type: image/jpeg; name=cut.jpg\n\nJFIF"),
	body: "text",
	atts: []wantAtt{{name: "cut.jpg", typ: "image/jpeg", size: 4, data: "JFIF"}},
}, {
	name: "no boundary parameter: the first --x line",
	raw:  mailOf("Content-Type: multipart/mixed\r\n", "ignored\n--sniffed\n\nfound\n--sniffed\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n--sniffed--\n"),
	body: "found",
	atts: []wantAtt{{name: "attachment-1.ics", typ: "text/calendar", size: 15, data: "BEGIN:VCALENDAR"}},
}, {
	name: "boundary that never occurs: the body is text",
	raw:  mailOf("Content-Type: multipart/mixed; boundary=nope\r\n", "just text\n--other\nmore\n"),
	body: "just text\n--other\nmore",
}, {
	name: "boundary lines: blanks after, text after, and the outer one ends the inner part",
	raw: mailOf("Content-Type: multipart/mixed; boundary=o\r\n", "--o \t\nContent-Type: multipart/mixed; boundary=i\n\n--i\n"+
		"Content-Type: application/pdf; name=a.pdf\n\n--ixyz is data\n--o\nContent-Type: text/plain\n\nafter\n--o--\n"),
	body: "after",
	atts: []wantAtt{{name: "a.pdf", typ: "application/pdf", size: 14, data: "--ixyz is data"}},
}, {
	name: "the same boundary twice: the outer wins",
	raw: mailOf("Content-Type: multipart/mixed; boundary=a\r\n", "--a\nContent-Type: multipart/alternative; boundary=a\n\n"+
		"--a\nContent-Type: image/png; name=p.png\n\nPNG\n--a--\n"),
	atts: []wantAtt{{name: "p.png", typ: "image/png", size: 3, data: "PNG"}},
}, {
	name: "a part's header without its blank line",
	raw:  mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\nContent-Type: text/plain\nno blank line here\n--b--\n"),
	body: "no blank line here",
}, {
	name: "the same file in two alternatives is one",
	raw: mailOf("Content-Type: multipart/alternative; boundary=b\r\n", "--b\n\ntext\n--b\nContent-Type: image/png; name=i.png\n\nPNG\n"+
		"--b\nContent-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html\n\n<b>html</b>\n--r\nContent-Type: image/png; name=i.png\n\nPNG\n--r--\n--b--\n"),
	body: "text",
	atts: []wantAtt{{name: "i.png", typ: "image/png", size: 3, data: "PNG"}},
}, {
	name: "lines longer than the line buffer",
	raw: mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\nContent-Type: application/octet-stream; name=long.bin\n\n"+
		longLine+"\n"+longLine+"\n--b\nContent-Type: application/octet-stream; name=long64.bin\nContent-Transfer-Encoding: base64\n\n"+
		base64.StdEncoding.EncodeToString([]byte(longLine))+"\n--b--\n"),
	atts: []wantAtt{{name: "long.bin", typ: "application/octet-stream", size: int64(2*len(longLine) + 2), data: longLine + "\r\n" + longLine},
		{name: "long64.bin", typ: "application/octet-stream", size: int64(len(longLine)), data: longLine}},
}, {
	name: "a CR at the line buffer's end",
	raw: mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\nContent-Type: application/octet-stream; name=cr.bin\n\n"+
		strings.Repeat("c", lineBuf-1)+"\n--b--\n"),
	atts: []wantAtt{{name: "cr.bin", typ: "application/octet-stream", size: lineBuf - 1, data: strings.Repeat("c", lineBuf-1)}},
}, {
	name: "quoted-printable line longer than the line buffer",
	raw: mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\nContent-Type: text/plain; name=q.txt\nContent-Disposition: attachment\n"+
		"Content-Transfer-Encoding: quoted-printable\n\n"+strings.Repeat("=41b", lineBuf/2)+"   \n--b--\n"),
	atts: []wantAtt{{name: "q.txt", typ: "text/plain", size: lineBuf, data: strings.Repeat("Ab", lineBuf/2)}},
}, {
	name: "cut mid-attachment by the message limit",
	raw:  mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\n\nhi\n--b\nContent-Type: image/png; name=p.png\n\n"+strings.Repeat("p", 1000)+"\n--b--\n"),
	lim:  Limits{MaxMessage: 200},
	body: "hi\n\n[… message too long, the rest was cut]",
	atts: []wantAtt{{name: "p.png", typ: "image/png", size: 200 - 121, data: strings.Repeat("p", 200-121)}},
}}

// TestWalker: the streaming walker on crafted MIME finds the text and the
// attachments, with their bytes, the limits applied, and every spool file
// released once the mail is closed.
func TestWalker(t *testing.T) {
	for _, tc := range walkCases {
		t.Run(tc.name, func(t *testing.T) {
			sp := testSpool(t)
			in, err := parse(strings.NewReader(tc.raw), tc.lim, sp)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if in.Body != tc.body {
				t.Errorf("Body = %q, want %q", in.Body, tc.body)
			}
			if len(in.Attachments) != len(tc.atts) {
				t.Fatalf("%d attachments, want %d: %+v", len(in.Attachments), len(tc.atts), in.Attachments)
			}
			kept := 0
			for i, w := range tc.atts {
				a := &in.Attachments[i]
				if a.Name != w.name || a.ContentType != w.typ || a.Size != w.size || a.TooLarge != w.tooLarge || a.OverCount != w.overCount {
					t.Errorf("attachment %d = %q %q %d TooLarge=%v OverCount=%v, want %+v", i, a.Name, a.ContentType, a.Size, a.TooLarge, a.OverCount, w)
				}
				if a.Kept() != (!w.tooLarge && !w.overCount) {
					t.Errorf("attachment %d kept: %v", i, a.Kept())
				}
				if a.Kept() {
					kept++
				}
			}
			if sp.Live() != int64(kept) {
				t.Errorf("%d spool files for %d kept attachments", sp.Live(), kept)
			}
			for i, w := range tc.atts {
				if got := content(t, &in.Attachments[i]); in.Attachments[i].Kept() && string(got) != w.data {
					t.Errorf("attachment %d: %d bytes %.40q…, want %d bytes %.40q…", i, len(got), got, len(w.data), w.data)
				}
			}
		})
	}
}

// failAfter reads r, then fails with err once n bytes were read.
type failAfter struct {
	r   io.Reader
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestSpoolReleasedOnEveryPath: a mail cut by a failing connection in
// the middle of an attachment, one that ends unreadable, a reader closed
// before its end, and the attachments nobody opened all leave no file
// and no open descriptor; files are unlinked from their creation, so not
// even a crash leaves them behind.
func TestSpoolReleasedOnEveryPath(t *testing.T) {
	big := mailOf("Content-Type: multipart/mixed; boundary=b\r\n", "--b\nContent-Type: image/png; name=1.png\n\nfirst\n"+
		"--b\nContent-Type: application/zip; name=2.zip\nContent-Transfer-Encoding: base64\n\n"+b64Lines(strings.Repeat("x", 200000), 76)+"--b--\n")
	reset := errors.New("connection reset")
	t.Run("read error mid-attachment", func(t *testing.T) {
		sp := testSpool(t)
		_, err := parse(&failAfter{r: strings.NewReader(big), n: len(big) / 2, err: reset}, Limits{}, sp)
		if !errors.Is(err, errReading) || !errors.Is(err, reset) {
			t.Errorf("err = %v, want errReading wrapping the reset", err)
		}
	})
	t.Run("nothing readable", func(t *testing.T) {
		sp := testSpool(t)
		if _, err := parse(strings.NewReader("X-Foo: bar\r\n\r\n  \r\n"), Limits{}, sp); !errors.Is(err, transports.ErrInvalidInput) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("closed before the end, and never opened", func(t *testing.T) {
		sp := testSpool(t)
		in, err := parse(strings.NewReader(big), Limits{}, sp)
		if err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(sp.dir); sp.Live() != 2 || len(entries) != 0 {
			t.Fatalf("%d files open, %d named in the directory; want 2 and 0 (unlinked)", sp.Live(), len(entries))
		}
		rc, err := in.Attachments[1].Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if sp.Live() != 1 {
			t.Errorf("%d files open after a reader's Close, want 1", sp.Live())
		}
		in.Close()
		in.Close()
	})
	t.Run("directory not writable", func(t *testing.T) {
		sp := newSpool(filepath.Join(t.TempDir(), "missing"))
		in, err := parse(strings.NewReader(big), Limits{}, sp)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		for _, a := range in.Attachments {
			if _, err := a.Open(); !a.Kept() || !errors.Is(err, transports.ErrUnavailable) {
				t.Errorf("%s: kept %v, Open error %v", a.Name, a.Kept(), err)
			}
		}
		if sp.Live() != 0 {
			t.Errorf("%d files", sp.Live())
		}
	})
}

// TestSpoolSweptAtStart: New removes the spool files an earlier run left
// in the configured directory (creating it if need be), and nothing else.
func TestSpoolSweptAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	New(Config{TempDir: dir})
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("the directory was not created: %v", err)
	}
	for _, name := range []string{spoolPrefix + "123", spoolPrefix + "456", "other.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("left"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	New(Config{TempDir: dir})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if fmt.Sprint(names) != "[other.txt]" {
		t.Errorf("left in the directory: %v", names)
	}
}

// TestQPDecoderChunks: the quoted-printable and base64 decoders give
// the same bytes however their input is cut.
func TestQPDecoderChunks(t *testing.T) {
	inputs := []string{"a=3Db=\r\n=C3=A9  \r\nx=4", strings.Repeat("=41", 5000) + "=\n" + strings.Repeat(" ", 9000) + "z\n", "aGVs bG8=IHdv\ncmxk"}
	for _, enc := range []string{"quoted-printable", "base64"} {
		for _, in := range inputs {
			want := refDecodeTransfer(enc, []byte(in))
			for _, n := range []int{1, 2, 3, 7, 4096} {
				if got := decodeChunked(enc, []byte(in), n); !bytes.Equal(got, want) {
					t.Errorf("%s in chunks of %d: %.60q…, want %.60q…", enc, n, got, want)
				}
			}
		}
	}
}

// decodeChunked decodes b handed over n bytes at a time.
func decodeChunked(enc string, b []byte, n int) []byte {
	d := newDecoder(enc)
	var out []byte
	collect := func(p []byte) { out = append(out, p...) }
	for len(b) > 0 {
		k := min(n, len(b))
		d.write(b[:k], collect)
		b = b[k:]
	}
	d.flush(collect)
	return out
}

// FuzzDecoders: however the walker's lines cut an encoded body, the
// streaming decoders give what decoding it whole gives (a quoted-printable
// line of more than qpMaxLine blanks aside).
func FuzzDecoders(f *testing.F) {
	f.Add([]byte("a=3Db=\r\n=C3=A9  \r\nx=4"), uint8(3), true)
	f.Add([]byte("aGVs bG8=IHdv\ncmxk-_"), uint8(1), false)
	f.Fuzz(func(t *testing.T, in []byte, n uint8, qp bool) {
		enc := "base64"
		if qp {
			enc = "quoted-printable"
		}
		want := refDecodeTransfer(enc, in)
		if got := decodeChunked(enc, in, int(n)+1); !bytes.Equal(got, want) {
			t.Errorf("%s in chunks of %d: %q, want %q", enc, int(n)+1, got, want)
		}
	})
}
