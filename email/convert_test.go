package email

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

// att is the expected shape of an attachment.
type att struct {
	name, contentType string
	size              int64
	prefix            string
}

func parseFile(t testing.TB, name string, lim Limits) *Incoming {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	in, err := Parse(bytes.NewReader(raw), lim)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return in
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file      string
		from      string
		fromName  string
		subject   string
		body      string
		thread    string
		messageID string
		date      string // RFC 3339, "" for zero
		atts      []att
	}{{
		file:      "plain_utf8.eml",
		from:      "anna@example.org",
		fromName:  "Anna Müller",
		subject:   "Grüße aus Köln",
		body:      "Hallo Bob,\n\nschöne Grüße aus Köln! Das Wetter ist 12 °C und sonnig ☀️.\n\n-- \nAnna",
		thread:    "20250114091200.abc123@example.org",
		messageID: "20250114091200.abc123@example.org",
		date:      "2025-01-14T09:12:00+01:00",
	}, {
		file:      "latin1_qp.eml",
		from:      "jean.dupont@example.fr",
		fromName:  "Dupont, Jean",
		subject:   "Réunion à Noël",
		body:      "Bonjour Éloïse,\n\nLe café coûte 2,50 EUR, très cher.\nÀ bientôt, garçon !",
		thread:    "5f1e2d3c.fr@example.fr",
		messageID: "5f1e2d3c.fr@example.fr",
		date:      "2024-12-16T17:45:10+01:00",
	}, {
		file:      "cp1252_base64.eml",
		from:      "user@corp.example",
		fromName:  "Outlook User",
		subject:   "Quotes test",
		body:      "Hi Bob,\n\n“Smart quotes” — and an en dash – plus € 5 and ™.",
		thread:    "BN8PR12MB0001.namprd12.prod.outlook.com",
		messageID: "BN8PR12MB0001.namprd12.prod.outlook.com",
		date:      "2025-01-15T10:00:00-05:00",
	}, {
		file:     "html_only.eml",
		from:     "news@shop.example",
		fromName: "Newsletter",
		subject:  "Your weekly deals",
		body: "Weekly deals\n\nHello\u00a0Bob, here are this week’s best offers:\n\n- Coffee & tea\n- Cheese\n\n" +
			"Visit our shop <https://shop.example/deals> or write to help@shop.example.\nThanks!\n\n> Quoted line",
		thread:    "news-2025-03@shop.example",
		messageID: "news-2025-03@shop.example",
		date:      "2025-01-16T08:00:00Z",
	}, {
		file:      "alternative.eml",
		from:      "carol@example.net",
		fromName:  "Carol",
		subject:   "Lunch?",
		body:      "Lunch at noon?",
		thread:    "alt-1@example.net",
		messageID: "alt-1@example.net",
		date:      "2025-01-17T11:30:00+01:00",
	}, {
		file:      "mixed_pdf_inline.eml",
		from:      "dave@example.com",
		fromName:  "Dave",
		subject:   "Invoice and photo",
		body:      "See the invoice attached and the photo below.",
		thread:    "mixed-1@example.com",
		messageID: "mixed-1@example.com",
		date:      "2025-01-18T14:00:00Z",
		atts: []att{
			{"photo.png", "image/png", 45, "\x89PNG\r\n\x1a\n"},
			{"Rechnung März.pdf", "application/pdf", 69, "%PDF-1.4\n"},
		},
	}, {
		file:      "subject_iso2022jp.eml",
		from:      "yamada@example.jp",
		fromName:  "山田太郎",
		subject:   "会議の件",
		body:      "よろしくお願いします。",
		thread:    "jp-1@example.jp",
		messageID: "jp-1@example.jp",
		date:      "2025-01-19T09:00:00+09:00",
	}, {
		file:      "subject_koi8r.eml",
		from:      "ivan@example.ru",
		fromName:  "Иван Петров",
		subject:   "Привет из Москвы",
		body:      "Как дела?",
		thread:    "ru-1@example.ru",
		messageID: "ru-1@example.ru",
		date:      "2025-01-20T12:00:00+03:00",
	}, {
		// No charset parameter, 8-bit Latin-1 bytes: read as Latin-1.
		file:      "missing_charset.eml",
		from:      "old@legacy.example",
		subject:   "No charset",
		body:      "Café crème, naïve.",
		thread:    "legacy-1@legacy.example",
		messageID: "legacy-1@legacy.example",
		date:      "2025-01-21T08:00:00Z",
	}, {
		// Unknown charsets in the body and in an encoded word: Latin-1.
		file:      "unknown_charset.eml",
		from:      "odd@example.com",
		subject:   "Straße",
		body:      "Grüße",
		thread:    "odd-1@example.com",
		messageID: "odd-1@example.com",
	}, {
		// Junk inside base64 is skipped, the rest decodes.
		file:      "broken_base64.eml",
		from:      "broken@example.com",
		subject:   "Broken base64",
		body:      "Hello world! This is truncated",
		thread:    "broken-1@example.com",
		messageID: "broken-1@example.com",
	}, {
		// mbox From line, unbalanced quote in From, duplicate charset,
		// no blank line between header and body.
		file:     "malformed.eml",
		from:     "broken@example.com",
		fromName: "Broken Header",
		subject:  "Missing blank line",
		body:     "This line should have been preceded by a blank line.\nSecond line.",
	}, {
		file:      "unterminated_multipart.eml",
		from:      "cut@example.com",
		subject:   "Cut off",
		body:      "First part is complete.\n\nThe second part never ends and the closing delimiter is missing",
		thread:    "cut-1@example.com",
		messageID: "cut-1@example.com",
	}}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			in := parseFile(t, tc.file, Limits{})
			if in.From == nil || in.From.Address != tc.from {
				t.Errorf("From = %v, want %s", in.From, tc.from)
			}
			if in.FromName != tc.fromName {
				t.Errorf("FromName = %q, want %q", in.FromName, tc.fromName)
			}
			if in.Subject != tc.subject {
				t.Errorf("Subject = %q, want %q", in.Subject, tc.subject)
			}
			if in.Body != tc.body {
				t.Errorf("Body =\n%q\nwant\n%q", in.Body, tc.body)
			}
			if in.Thread != tc.thread || in.MessageID != tc.messageID {
				t.Errorf("Thread, MessageID = %q, %q; want %q, %q", in.Thread, in.MessageID, tc.thread, tc.messageID)
			}
			var want time.Time
			if tc.date != "" {
				want, _ = time.Parse(time.RFC3339, tc.date)
			}
			if !in.Date.Equal(want) {
				t.Errorf("Date = %v, want %v", in.Date, want)
			}
			if in.Truncated {
				t.Error("Truncated")
			}
			if len(in.Attachments) != len(tc.atts) {
				t.Fatalf("%d attachments, want %d: %+v", len(in.Attachments), len(tc.atts), in.Attachments)
			}
			for i, w := range tc.atts {
				a := in.Attachments[i]
				data := content(t, &a)
				if a.Name != w.name || a.ContentType != w.contentType || a.Size != w.size || a.TooLarge ||
					int64(len(data)) != a.Size || !bytes.HasPrefix(data, []byte(w.prefix)) {
					t.Errorf("attachment %d = {%q %q %d %v %q…}, want %+v", i, a.Name, a.ContentType, a.Size, a.TooLarge, data[:min(len(data), 10)], w)
				}
			}
		})
	}
}

func TestParseReplySharesThread(t *testing.T) {
	orig := parseFile(t, "thread_original.eml", Limits{})
	reply := parseFile(t, "thread_reply.eml", Limits{})
	if orig.Thread == "" || reply.Thread != orig.Thread {
		t.Errorf("threads %q and %q differ", orig.Thread, reply.Thread)
	}
	if reply.InReplyTo != "reply-1@example.com" {
		t.Errorf("InReplyTo = %q (the comment after the ID must go)", reply.InReplyTo)
	}
	if want := []string{"root-42@example.org", "reply-1@example.com"}; strings.Join(reply.References, " ") != strings.Join(want, " ") {
		t.Errorf("References = %q, want %q", reply.References, want)
	}
	// format=flowed; delsp=yes: the soft break is joined.
	if want := "Friday works for me, but we should double-check the migration first.\n\n> Release on Friday?"; reply.Body != want {
		t.Errorf("Body = %q, want %q", reply.Body, want)
	}
	if SubjectForReply(reply.Subject) != SubjectForReply(orig.Subject) {
		t.Errorf("reply subjects differ: %q, %q", SubjectForReply(reply.Subject), SubjectForReply(orig.Subject))
	}
}

func TestParseThreadFallbacks(t *testing.T) {
	tests := []struct{ header, thread string }{
		{"Message-ID: <own@x>\r\nIn-Reply-To: <parent@x>\r\n", "parent@x"},
		{"Message-ID: <own@x>\r\n", "own@x"},
		{"Message-ID: <own@x>\r\nReferences: <root@x> <mid@x>\r\nIn-Reply-To: <mid@x>\r\n", "root@x"},
		{"Message-ID: no-brackets@x\r\n", "no-brackets@x"},
		{"Message-ID: <folded\r\n @x>\r\n", "folded@x"},
		{"", ""},
	}
	for _, tc := range tests {
		in, err := Parse(strings.NewReader("From: a@example.com\r\n"+tc.header+"\r\nhi\r\n"), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if in.Thread != tc.thread {
			t.Errorf("%q: Thread = %q, want %q", tc.header, in.Thread, tc.thread)
		}
	}
}

func TestParseHugeBodyTruncated(t *testing.T) {
	line := strings.Repeat("ä", 39) + "\r\n" // 80 bytes, 2-byte characters
	raw := "From: big@example.com\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat(line, 20000)
	lim := Limits{MaxBody: 1001}
	in, err := Parse(strings.NewReader(raw), lim)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Truncated || !strings.HasSuffix(in.Body, truncatedNote) {
		t.Fatalf("not truncated: Truncated=%v, body ends %q", in.Truncated, in.Body[max(0, len(in.Body)-60):])
	}
	text := strings.TrimSuffix(in.Body, truncatedNote)
	if len(text) > lim.MaxBody || !utf8.ValidString(in.Body) || len(text) < lim.MaxBody-100 {
		t.Errorf("text is %d bytes (limit %d), valid UTF-8: %v", len(text), lim.MaxBody, utf8.ValidString(in.Body))
	}

	// Default limit: 64 KiB.
	in, err = Parse(strings.NewReader(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !in.Truncated || len(in.Body) > DefaultMaxBody+len(truncatedNote) {
		t.Errorf("default limit: Truncated=%v, %d bytes", in.Truncated, len(in.Body))
	}
}

func TestParseMaxMessage(t *testing.T) {
	raw := "From: big@example.com\r\n\r\n" + strings.Repeat("x", 5000)
	in, err := Parse(strings.NewReader(raw), Limits{MaxMessage: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !in.Truncated || len(in.Body) > 1000+len(truncatedNote) {
		t.Errorf("Truncated=%v, %d bytes", in.Truncated, len(in.Body))
	}
}

func TestParseAttachmentTooLarge(t *testing.T) {
	in := parseFile(t, "mixed_pdf_inline.eml", Limits{MaxAttachment: 50})
	if len(in.Attachments) != 2 {
		t.Fatalf("%d attachments", len(in.Attachments))
	}
	png, pdf := in.Attachments[0], in.Attachments[1]
	if data := content(t, &png); png.TooLarge || len(data) != 45 {
		t.Errorf("png: TooLarge=%v, %d bytes", png.TooLarge, len(data))
	}
	if data := content(t, &pdf); !pdf.TooLarge || pdf.Kept() || data != nil || pdf.Size != 69 {
		t.Errorf("pdf: TooLarge=%v, kept %v, %d bytes, Size %d", pdf.TooLarge, pdf.Kept(), len(data), pdf.Size)
	}
}

func TestParseEdgeCases(t *testing.T) {
	tests := []struct {
		name, raw, body string
		atts            []string // attachment names
	}{{
		name: "no header at all",
		raw:  "just some text\nand more",
		body: "just some text\nand more",
	}, {
		name: "multipart without boundary parameter",
		raw:  "From: a@x.org\r\nContent-Type: multipart/mixed\r\n\r\n--zzz\r\nContent-Type: text/plain\r\n\r\nsniffed\r\n--zzz--\r\n",
		body: "sniffed",
	}, {
		name: "multipart whose boundary never occurs",
		raw:  "From: a@x.org\r\nContent-Type: multipart/mixed; boundary=nope\r\n\r\nplain after all\r\n",
		body: "plain after all",
	}, {
		name: "text attachment is not body",
		raw: "From: a@x.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nbody\r\n--b\r\n" +
			"Content-Type: text/plain; name=notes.txt\r\nContent-Disposition: attachment; filename=\"../../etc/notes.txt\"\r\n\r\nnotes\r\n--b--\r\n",
		body: "body",
		atts: []string{"notes.txt"},
	}, {
		name: "nameless PDF gets a name, calendar is an attachment",
		raw: "From: a@x.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--b\r\n" +
			"Content-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\n--b--\r\n",
		atts: []string{"attachment-1.pdf", "attachment-2.ics"},
	}, {
		name: "HTML with meta charset and no MIME charset",
		raw:  "From: a@x.org\r\nContent-Type: text/html\r\n\r\n<meta charset=\"windows-1251\"><p>\xcf\xf0\xe8\xe2\xe5\xf2</p>",
		body: "Привет",
	}, {
		name: "signed message: signature is not an attachment",
		raw: "From: a@x.org\r\nContent-Type: multipart/signed; boundary=s; protocol=\"application/pgp-signature\"\r\n\r\n--s\r\n" +
			"Content-Type: text/plain\r\n\r\nsigned text\r\n--s\r\nContent-Type: application/pgp-signature; name=signature.asc\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n--s--\r\n",
		body: "signed text",
	}, {
		name: "control characters and NUL are removed",
		raw:  "From: a@x.org\r\nSubject: a\x00b\x1bc\r\n\r\nx\x00y\x07z\tend\rold mac\r\n",
		body: "xyz\tend\nold mac",
	}, {
		name: "raw 8-bit Latin-1 subject and name",
		raw:  "From: J\xf6rg <j@x.org>\r\nSubject: Gr\xfc\xdfe\r\n\r\nhi",
		body: "hi",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := Parse(strings.NewReader(tc.raw), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if in.Body != tc.body {
				t.Errorf("Body = %q, want %q", in.Body, tc.body)
			}
			var names []string
			for _, a := range in.Attachments {
				names = append(names, a.Name)
			}
			if strings.Join(names, "|") != strings.Join(tc.atts, "|") {
				t.Errorf("attachments %q, want %q", names, tc.atts)
			}
			checkIncoming(t, in, Limits{}.withDefaults())
		})
	}
	in, _ := Parse(strings.NewReader("From: J\xf6rg <j@x.org>\r\nSubject: Gr\xfc\xdfe\r\n\r\nhi"), Limits{})
	if in.FromName != "Jörg" || in.Subject != "Grüße" {
		t.Errorf("8-bit header: FromName %q, Subject %q", in.FromName, in.Subject)
	}
}

func TestParseNothingUsable(t *testing.T) {
	for _, raw := range []string{"", "\r\n\r\n", "X-Foo: bar\r\n\r\n   \r\n"} {
		_, err := Parse(strings.NewReader(raw), Limits{})
		if !errors.Is(err, transports.ErrInvalidInput) {
			t.Errorf("Parse(%q) error = %v, want ErrInvalidInput", raw, err)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestParseReadError(t *testing.T) {
	if _, err := Parse(failingReader{}, Limits{}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("error = %v", err)
	}
}

func TestHTMLToText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<p>a</p><p>b</p>", "a\n\nb"},
		{"a<br>b<br/><br>c", "a\nb\n\nc"},
		{"<div><div><div>deep</div></div></div><div>next</div>", "deep\nnext"},
		{"<ol><li>one</li><li>two<ul><li>sub</li></ul></li></ol>", "1. one\n2. two\n  - sub"},
		{`<a href="https://x.org/a">https://x.org/a</a>`, "https://x.org/a"},
		{`<a href="https://x.org/a">click   <b>here</b></a>!`, "click here <https://x.org/a>!"},
		{`<a href="#top">top</a> <a href="javascript:void(0)">js</a>`, "top js"},
		{`<a href="https://x.org/"><img src="cid:1" alt="Logo"></a>`, "[Logo] <https://x.org/>"},
		{"<pre>  indented\n    code</pre>after", "indented\n    code\n\nafter"},
		{"<style>.a{}</style><script>x()</script>shown<template>hidden</template>", "shown"},
		{"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", "a b\nc d"},
		{"<blockquote>q1<blockquote>q2</blockquote></blockquote>", "> q1\n\n>> q2"},
		{"x &lt;y&gt; &amp; &#8364; &euro;", "x <y> & € €"},
		{"<p>unclosed <a href='https://u.example'>link", "unclosed link <https://u.example>"},
		{"<html><head><title>T</title><meta charset=utf-8></head><body>b</body></html>", "b"},
		{"<hr>", "----"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := htmlToText(tc.in); got != tc.want {
			t.Errorf("htmlToText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodeQP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a=3Db", "a=b"},
		{"soft =\r\nbreak", "soft break"},
		{"trailing   \r\nspace", "trailing\r\nspace"},
		{"bad =ZZ escape =4", "bad =ZZ escape =4"},
		{"lower =c3=a4", "lower ä"},
	}
	for _, tc := range tests {
		if got := string(decodeQP([]byte(tc.in))); got != tc.want {
			t.Errorf("decodeQP(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// checkIncoming asserts the invariants Parse promises for any input.
func checkIncoming(t testing.TB, in *Incoming, lim Limits) {
	t.Helper()
	for name, s := range map[string]string{"Body": in.Body, "Subject": in.Subject, "FromName": in.FromName, "Thread": in.Thread} {
		if !utf8.ValidString(s) {
			t.Errorf("%s is not valid UTF-8: %q", name, s)
		}
		if strings.ContainsFunc(s, func(r rune) bool { return xmlUnsafe(r) || r == '\r' }) {
			t.Errorf("%s has control characters: %q", name, s)
		}
	}
	if strings.ContainsAny(in.Subject+in.FromName, "\n\t") {
		t.Errorf("Subject/FromName not on one line: %q %q", in.Subject, in.FromName)
	}
	if len(in.Body) > lim.MaxBody+len(truncatedNote) {
		t.Errorf("Body is %d bytes, limit %d", len(in.Body), lim.MaxBody)
	}
	for _, a := range in.Attachments {
		data := content(t, &a)
		if !utf8.ValidString(a.Name) || a.Name == "" || strings.ContainsAny(a.Name, "/\\") ||
			strings.ContainsFunc(a.Name, unicode.IsControl) {
			t.Errorf("bad attachment name %q", a.Name)
		}
		if int64(len(data)) > lim.MaxAttachment || a.TooLarge != (!a.Kept() && a.Size > lim.MaxAttachment) ||
			a.Kept() && int64(len(data)) != a.Size {
			t.Errorf("attachment %q: %d bytes, Size %d, TooLarge %v", a.Name, len(data), a.Size, a.TooLarge)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a--"))
	f.Add([]byte("Content-Type: text/html\r\n\r\n<a href=x><a href=y><pre><blockquote><li>"))
	lim := Limits{MaxBody: 512, MaxAttachment: 64, MaxMessage: 1 << 16}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := Parse(bytes.NewReader(raw), lim)
		if err != nil {
			if !errors.Is(err, transports.ErrInvalidInput) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		checkIncoming(t, in, lim)
	})
}
