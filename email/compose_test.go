package email

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/switchboard-im/switchboard/transports"
)

// headerBlock returns the raw header of msg (up to the blank line).
func headerBlock(t testing.TB, raw []byte) string {
	t.Helper()
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no end of header in %q", raw)
	}
	return string(raw[:i+2])
}

// fieldNames lists the header field names in order, canonicalised.
func fieldNames(t testing.TB, raw []byte) []string {
	t.Helper()
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	var names []string
	for _, line := range strings.Split(headerBlock(t, raw), "\r\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("header line without colon: %q", line)
		}
		names = append(names, textproto.CanonicalMIMEHeaderKey(name))
	}
	if _, err := r.ReadMIMEHeader(); err != nil {
		t.Fatalf("header does not parse: %v", err)
	}
	return names
}

// checkWireFormat asserts CRLF line ends, ASCII-only header lines and
// body lines within the RFC 5322 limit.
func checkWireFormat(t testing.TB, raw []byte) {
	t.Helper()
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Errorf("message does not end in CRLF")
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(raw, []byte("\r\n")), []byte("\r\n")) {
		if bytes.ContainsAny(line, "\r\n\x00") {
			t.Errorf("line %d has a bare CR, LF or NUL: %q", i, line)
		}
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long", i, len(line))
		}
	}
	for _, c := range []byte(headerBlock(t, raw)) {
		if c >= 0x80 {
			t.Fatalf("8-bit byte in header:\n%s", headerBlock(t, raw))
		}
	}
}

func TestComposeRoundTrip(t *testing.T) {
	date := time.Date(2025, 1, 22, 15, 4, 5, 0, time.FixedZone("", 3600))
	o := Outgoing{
		From:       mail.Address{Name: `Doe, John "JD"`, Address: "john@example.org"},
		To:         []mail.Address{{Name: "Anna Müller", Address: "anna@example.de"}, {Address: "bob@example.com"}},
		Subject:    "Grüße über alles 🎉 — a rather long subject line that will need folding across lines",
		Body:       "Hi Anna,\r\n\r\nline two has trailing = signs == and a very long line " + strings.Repeat("wörd ", 40) + "\nlast line\n",
		InReplyTo:  "parent-1@example.de",
		References: []string{"<root-0@example.de>"},
		Links:      []string{"https://upload.example.org/abc/photo.jpg"},
		Date:       date,
		Domain:     "gateway.example.org",
	}
	raw, id, err := Compose(o)
	if err != nil {
		t.Fatal(err)
	}
	checkWireFormat(t, raw)
	if !strings.HasSuffix(id, "@gateway.example.org") || strings.ContainsAny(id, "<> ") {
		t.Errorf("message ID %q", id)
	}
	hdr := headerBlock(t, raw)
	for _, want := range []string{
		"MIME-Version: 1.0\r\n",
		"Content-Type: text/plain; charset=utf-8\r\n",
		"Content-Transfer-Encoding: quoted-printable\r\n",
		"Message-ID: <" + id + ">\r\n",
		"In-Reply-To: <parent-1@example.de>\r\n",
		"Date: Wed, 22 Jan 2025 15:04:05 +0100\r\n",
	} {
		if !strings.Contains(hdr, want) {
			t.Errorf("header lacks %q:\n%s", want, hdr)
		}
	}
	if got, want := fieldNames(t, raw), []string{"Date", "From", "To", "Subject", "Message-Id", "In-Reply-To", "References", "Mime-Version", "Content-Type", "Content-Transfer-Encoding"}; !slices.Equal(got, want) {
		t.Errorf("fields %q, want %q", got, want)
	}

	in, err := Parse(bytes.NewReader(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Subject != o.Subject {
		t.Errorf("Subject = %q, want %q", in.Subject, o.Subject)
	}
	if in.From.Address != "john@example.org" || in.FromName != `Doe, John "JD"` {
		t.Errorf("From = %q / %q", in.From.Address, in.FromName)
	}
	wantBody := "Hi Anna,\n\nline two has trailing = signs == and a very long line " + strings.TrimSpace(strings.Repeat("wörd ", 40)) +
		"\nlast line\n\nhttps://upload.example.org/abc/photo.jpg"
	if in.Body != wantBody {
		t.Errorf("Body =\n%q\nwant\n%q", in.Body, wantBody)
	}
	if in.MessageID != id || in.InReplyTo != "parent-1@example.de" || !in.Date.Equal(date) {
		t.Errorf("MessageID %q, InReplyTo %q, Date %v", in.MessageID, in.InReplyTo, in.Date)
	}
	if !slices.Equal(in.References, []string{"root-0@example.de", "parent-1@example.de"}) || in.Thread != "root-0@example.de" {
		t.Errorf("References %q, Thread %q", in.References, in.Thread)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Name != "Anna Müller" || to[0].Address != "anna@example.de" || to[1].Address != "bob@example.com" {
		t.Errorf("To = %v, %v", to, err)
	}
}

func TestComposeHeaderInjection(t *testing.T) {
	raw, _, err := Compose(Outgoing{
		From:    mail.Address{Name: "Eve\r\nBcc: evil2@x.example", Address: "eve@example.org"},
		To:      []mail.Address{{Name: "Bob\nCc: evil3@x.example", Address: "bob@example.com"}},
		Subject: "hi\r\nBcc: evil@x",
		Body:    "body\r\n\r\nBcc: not-a-header@x.example\r\n",
		Domain:  "example.org",
	})
	if err != nil {
		t.Fatal(err)
	}
	checkWireFormat(t, raw)
	names := fieldNames(t, raw)
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	if count["Subject"] != 1 || count["Bcc"] != 0 || count["Cc"] != 0 {
		t.Fatalf("fields %q:\n%s", names, raw)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" || msg.Header.Get("Cc") != "" {
		t.Errorf("Bcc %q, Cc %q", msg.Header.Get("Bcc"), msg.Header.Get("Cc"))
	}
	to, _ := msg.Header.AddressList("To")
	if len(to) != 1 || to[0].Address != "bob@example.com" {
		t.Errorf("To = %v", to)
	}
	in, err := Parse(bytes.NewReader(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Subject != "hi Bcc: evil@x" || in.FromName != "Eve Bcc: evil2@x.example" {
		t.Errorf("Subject %q, FromName %q", in.Subject, in.FromName)
	}
}

func TestComposeInvalidAddresses(t *testing.T) {
	good := mail.Address{Address: "a@example.org"}
	tests := []struct {
		name string
		o    Outgoing
	}{
		{"no recipients", Outgoing{From: good}},
		{"bad from", Outgoing{From: mail.Address{Address: "not an address"}, To: []mail.Address{good}}},
		{"injected from", Outgoing{From: mail.Address{Address: "a@example.org\r\nBcc: x@y.example"}, To: []mail.Address{good}}},
		{"injected to", Outgoing{From: good, To: []mail.Address{{Address: "b@example.org\nBcc: x@y.example"}}}},
		{"list in one address", Outgoing{From: good, To: []mail.Address{{Address: "b@example.org, c@example.org"}}}},
		{"name in address", Outgoing{From: good, To: []mail.Address{{Address: "Bob <b@example.org>"}}}},
		{"empty to", Outgoing{From: good, To: []mail.Address{{Name: "Nobody"}}}},
		{"bad domain", Outgoing{From: good, To: []mail.Address{good}, Domain: "exa mple.org"}},
		{"non-ASCII local part", Outgoing{From: good, To: []mail.Address{{Address: "jörg@example.de"}}}},
		{"invalid UTF-8 domain", Outgoing{From: good, To: []mail.Address{{Address: "a@\xff"}}}},
		{"local part of 65 octets", Outgoing{From: good, To: []mail.Address{{Address: strings.Repeat("m", 65) + "@example.org"}}}},
		{"address of 255 octets", Outgoing{From: good, To: []mail.Address{{Address: "m@" + longDomain(253)}}}},
		{"from of 255 octets", Outgoing{From: mail.Address{Address: "m@" + longDomain(253)}, To: []mail.Address{good}}},
	}
	for _, tc := range tests {
		if _, _, err := Compose(tc.o); !errors.Is(err, transports.ErrInvalidInput) {
			t.Errorf("%s: error %v, want ErrInvalidInput", tc.name, err)
		}
	}
	// The longest SMTP takes still goes, unfolded, to net/mail.
	longest := []mail.Address{
		{Address: strings.Repeat("m", 64) + "@example.org"},
		{Address: "m@" + longDomain(252)},
	}
	raw, _, err := Compose(Outgoing{From: good, To: longest})
	if err != nil {
		t.Fatalf("Compose with the longest addresses: %v", err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Address != longest[0].Address || to[1].Address != longest[1].Address {
		t.Errorf("To = %v, %v; want %v", to, err, longest)
	}
}

// longDomain returns a domain name of n (≥ 5) octets in labels of at most
// 63 octets.
func longDomain(n int) string {
	var b strings.Builder
	for b.Len() < n-4 {
		label := min(63, n-4-b.Len())
		b.WriteString(strings.Repeat("d", label))
		b.WriteByte('.')
	}
	b.WriteString("org")
	return b.String()
}

func TestComposeIDNDomain(t *testing.T) {
	raw, id, err := Compose(Outgoing{
		From: mail.Address{Address: "me@Bücher.example"},
		To:   []mail.Address{{Address: "you@münchen.example"}},
		Body: "servus",
	})
	if err != nil {
		t.Fatal(err)
	}
	checkWireFormat(t, raw)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if from, to := msg.Header.Get("From"), msg.Header.Get("To"); from != "<me@xn--bcher-kva.example>" || to != "<you@xn--mnchen-3ya.example>" {
		t.Errorf("From %q, To %q", from, to)
	}
	if !strings.HasSuffix(id, "@xn--bcher-kva.example") {
		t.Errorf("id %q", id)
	}
}

func TestComposeDefaults(t *testing.T) {
	long := "This is a fairly long first line that goes on and on beyond sixty characters for sure"
	raw, id, err := Compose(Outgoing{
		From: mail.Address{Address: "me@mail.example"},
		To:   []mail.Address{{Address: "you@example.com"}},
		Body: "\n\n  " + long + "\nsecond line",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(id, "@mail.example") {
		t.Errorf("id %q does not use the From domain", id)
	}
	in, err := Parse(bytes.NewReader(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "This is a fairly long first line that goes on and on beyond…"; in.Subject != want {
		t.Errorf("Subject = %q, want %q", in.Subject, want)
	}
	if time.Since(in.Date) > time.Minute {
		t.Errorf("Date %v is not now", in.Date)
	}
	if strings.Contains(string(raw), "In-Reply-To") || strings.Contains(string(raw), "References") {
		t.Errorf("reply headers in a new message:\n%s", raw)
	}
	_, id2, _ := Compose(Outgoing{From: mail.Address{Address: "me@mail.example"}, To: []mail.Address{{Address: "you@example.com"}}, Body: "x"})
	if id == id2 {
		t.Errorf("message IDs repeat: %q", id)
	}
}

func TestComposeSubjectFromBody(t *testing.T) {
	tests := []struct{ body, want string }{
		{"short", "short"},
		{"", ""},
		{strings.Repeat("x", 100), strings.Repeat("x", 60) + "…"},
		{"ÄÖÜ " + strings.Repeat("äöü ", 30), "ÄÖÜ " + strings.TrimSpace(strings.Repeat("äöü ", 14)) + "…"},
	}
	for _, tc := range tests {
		if got := subjectFromBody(tc.body); got != tc.want {
			t.Errorf("subjectFromBody(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestComposeLinks(t *testing.T) {
	links := []string{"https://up.example/a.jpg", "https://up.example/b.pdf", " "}
	body := composeBody("see https://up.example/a.jpg", links)
	if want := "see https://up.example/a.jpg\n\nhttps://up.example/b.pdf\n"; body != want {
		t.Errorf("composeBody = %q, want %q", body, want)
	}
	if body := composeBody("", links[:1]); body != "https://up.example/a.jpg\n" {
		t.Errorf("links only: %q", body)
	}
}

func TestComposeReferences(t *testing.T) {
	var refs []string
	for i := range 30 {
		refs = append(refs, "r"+string(rune('a'+i%26))+string(rune('0'+i/26))+"@x.example")
	}
	raw, _, err := Compose(Outgoing{
		From: mail.Address{Address: "me@x.example"}, To: []mail.Address{{Address: "you@x.example"}},
		Subject: "s", Body: "b", InReplyTo: "<last@x.example>",
		References: append(refs, "bad id@x", "<>", refs[3]),
	})
	if err != nil {
		t.Fatal(err)
	}
	checkWireFormat(t, raw)
	in, err := Parse(bytes.NewReader(raw), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.References) != maxReferences || in.References[0] != refs[0] || in.References[maxReferences-1] != "last@x.example" || in.Thread != refs[0] {
		t.Errorf("References = %q", in.References)
	}
	if in.InReplyTo != "last@x.example" {
		t.Errorf("InReplyTo = %q", in.InReplyTo)
	}
}

func TestSubjectForReply(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello", "Re: Hello"},
		{"Re: Hello", "Re: Hello"},
		{"RE: Hello", "Re: Hello"},
		{"re:Hello", "Re: Hello"},
		{"Aw: Re: AW: Hello", "Re: Hello"},
		{"Re[2]: Hello", "Re: Hello"},
		{"Re (3): Hello", "Re: Hello"},
		{"SV: Antw: Hello", "Re: Hello"},
		{"Fwd: Hello", "Re: Fwd: Hello"},
		{"Regarding: Hello", "Re: Regarding: Hello"},
		{"Re:", ""},
		{"  ", ""},
		{"Re: line\r\nBcc: x", "Re: line Bcc: x"},
	}
	for _, tc := range tests {
		if got := SubjectForReply(tc.in); got != tc.want {
			t.Errorf("SubjectForReply(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzCompose(f *testing.F) {
	f.Add("Jörg, \"JD\"", "jorg@example.de", "a@example.com", "b@example.org", "Grüße 🎉", "line1\nline2\r\n", "parent@example.de")
	f.Add("Eve\r\nBcc: x@y", "eve@example.org", "b@example.com\r\nBcc: z@y", "", "hi\r\nBcc: evil@x", "", "")
	f.Add("", "a@b.c", "d@e.f", "g@h.i", "=?utf-8?q?x?=", strings.Repeat("long line ", 200), "<id@x>")
	f.Add("", "a@b.c", "d@e.f", strings.Repeat("M", 2000)+"@h.i", "x", "", "")
	f.Fuzz(func(t *testing.T, fromName, fromAddr, to1, to2, subject, body, inReplyTo string) {
		o := Outgoing{
			From:      mail.Address{Name: fromName, Address: fromAddr},
			To:        []mail.Address{{Name: "First", Address: to1}},
			Subject:   subject,
			Body:      body,
			InReplyTo: inReplyTo,
			Domain:    "gw.example",
		}
		if to2 != "" {
			o.To = append(o.To, mail.Address{Address: to2})
		}
		raw, id, err := Compose(o)
		if err != nil {
			if !errors.Is(err, transports.ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		checkWireFormat(t, raw)
		allowed := map[string]int{"Date": 1, "From": 1, "To": 1, "Subject": 1, "Message-Id": 1, "In-Reply-To": 1,
			"References": 1, "Mime-Version": 1, "Content-Type": 1, "Content-Transfer-Encoding": 1}
		for _, n := range fieldNames(t, raw) {
			allowed[n]--
			if allowed[n] < 0 {
				t.Fatalf("unexpected or repeated header field %q:\n%s", n, headerBlock(t, raw))
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("net/mail cannot read the output: %v\n%s", err, raw)
		}
		to, err := msg.Header.AddressList("To")
		if err != nil || len(to) != len(o.To) {
			t.Fatalf("To = %v, %v; want %d recipients\n%s", to, err, len(o.To), headerBlock(t, raw))
		}
		for i, a := range to {
			want, _ := mail.ParseAddress(strings.TrimSpace(o.To[i].Address))
			if want == nil {
				t.Fatalf("recipient %d %q accepted by Compose but not by net/mail", i, o.To[i].Address)
			}
			at := strings.LastIndexByte(want.Address, '@')
			domain, _ := idna.Lookup.ToASCII(want.Address[at+1:])
			if a.Address != want.Address[:at+1]+domain && a.Address != want.Address {
				t.Fatalf("recipient %d is %q, want %v", i, a.Address, want)
			}
		}
		if _, err := io.ReadAll(msg.Body); err != nil {
			t.Fatal(err)
		}

		in, err := Parse(bytes.NewReader(raw), Limits{MaxBody: 1 << 20})
		if err != nil {
			t.Fatalf("Parse: %v\n%s", err, raw)
		}
		if in.MessageID != id {
			t.Errorf("MessageID %q, want %q", in.MessageID, id)
		}
		if want := cleanBody(body); in.Body != want {
			t.Errorf("Body %q, want %q", in.Body, want)
		}
		if want := cleanLine(subject); want != "" && !strings.Contains(subject, "=?") && in.Subject != want {
			t.Errorf("Subject %q, want %q", in.Subject, want)
		}
		if want := cleanLine(fromName); !strings.Contains(fromName, "=?") && in.FromName != want {
			t.Errorf("FromName %q, want %q", in.FromName, want)
		}
		if !utf8.ValidString(in.Subject) {
			t.Errorf("Subject not UTF-8")
		}
	})
}
