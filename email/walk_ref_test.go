package email

// The whole-message walker the streaming one replaced, kept as the
// reference the streaming walker is compared with (FuzzWalkerAgrees).

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/switchboard-im/switchboard/transports"
)

type refIncoming struct {
	Incoming
	atts []refAttachment
}

type refAttachment struct {
	Name, ContentType   string
	Size                int64
	Data                []byte
	TooLarge, OverCount bool
}

func refParse(r io.Reader, lim Limits) (*refIncoming, error) {
	lim = lim.withDefaults()
	n := lim.MaxMessage
	if n < math.MaxInt64 {
		n++
	}
	raw, err := io.ReadAll(io.LimitReader(r, n))
	if err != nil {
		return nil, fmt.Errorf("email: reading message: %w", err)
	}
	cut := int64(len(raw)) > lim.MaxMessage
	if cut {
		raw = raw[:lim.MaxMessage]
	}

	h, body := refSplitHeader(raw, true)
	in := &refIncoming{}
	in.Incoming.readHeader(h)

	w := refWalker{lim: lim}
	text, _ := w.entity(h, body, 0, "")
	in.atts = w.atts

	text = cleanBody(text)
	if len(text) > lim.MaxBody {
		text = strings.TrimRightFunc(cutUTF8(text, lim.MaxBody), unicode.IsSpace)
		cut = true
	}
	if cut {
		in.Truncated = true
		text += truncatedNote
	}
	in.Body = text

	if in.From == nil && in.Subject == "" && strings.TrimSpace(in.Body) == "" && len(in.atts) == 0 {
		return nil, fmt.Errorf("email: nothing readable in the message: %w", transports.ErrInvalidInput)
	}
	return in, nil
}

// splitHeader separates a header block from the body. It is lenient: the
// header ends at the first blank line, or at the first line that is neither
// a "Name: value" field nor a continuation (such a line starts the body).
// When top is set, a leading mbox "From " line is skipped.
func refSplitHeader(b []byte, top bool) (header, []byte) {
	var h header
	pos := 0
	if top && bytes.HasPrefix(b, []byte("From ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			pos = i + 1
		} else {
			return nil, nil
		}
	}
	// The value of the last field is built in val, so that many
	// continuation lines cost linear time.
	var val []byte
	done := func() {
		if len(h) > 0 {
			h[len(h)-1].value = string(val)
		}
	}
	for pos < len(b) {
		next := len(b)
		line := b[pos:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, next = line[:i], pos+i+1
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			done()
			return h, b[next:]
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) == 0 {
				return h, b[pos:]
			}
			val = append(val, line...)
			pos = next
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			done()
			return h, b[pos:]
		}
		key := bytes.TrimRight(line[:colon], " \t")
		if len(key) == 0 || !validKey(key) {
			done()
			return h, b[pos:]
		}
		done()
		h = append(h, field{key: string(key)})
		val = append(val[:0], line[colon+1:]...)
		pos = next
	}
	done()
	return h, nil
}

// refWalker walks the MIME tree, collecting attachments and counting parts.
type refWalker struct {
	lim    Limits
	atts   []refAttachment
	kept   int // attachments with Data
	leaves int
}

// entity returns the readable text of one MIME entity (whose body is still
// transfer-encoded) and whether that text came from HTML; attachments found
// on the way are collected in w.atts.
func (w *refWalker) entity(h header, body []byte, depth int, parent string) (string, bool) {
	ct := parseMediaType(h.get("Content-Type"))
	if ct.value == "" || !strings.Contains(ct.value, "/") {
		if parent == "multipart/digest" {
			ct.value = "message/rfc822"
		} else {
			ct.value = "text/plain"
		}
	}
	if !strings.HasPrefix(ct.value, "multipart/") {
		return w.leaf(h, ct, body, parent)
	}
	if depth >= maxDepth {
		return "", false
	}
	boundary := ct.params["boundary"]
	if boundary == "" {
		boundary = refSniffBoundary(body)
	}
	var parts [][]byte
	if boundary != "" {
		parts = refSplitMultipart(body, boundary)
	}
	if len(parts) == 0 {
		// A multipart without parts: show its body as text, it is all
		// there is.
		return w.leaf(nil, mediaType{value: "text/plain"}, body, parent)
	}
	if ct.value == "multipart/alternative" {
		return w.alternative(parts, depth)
	}
	// mixed, related, signed, report, digest, unknown: every part in order.
	var texts []string
	fromHTML := false
	for _, p := range parts {
		ph, pb := refSplitHeader(p, false)
		s, isHTML := w.entity(ph, pb, depth+1, ct.value)
		if strings.TrimSpace(s) != "" {
			texts = append(texts, strings.TrimSpace(s))
			fromHTML = fromHTML || isHTML
		}
	}
	return strings.Join(texts, "\n\n"), fromHTML
}

// alternative picks the text of the first alternative that has plain text,
// else the first that has any text. refAttachments of every alternative are
// kept (Apple Mail puts them in the HTML branch only).
func (w *refWalker) alternative(parts [][]byte, depth int) (string, bool) {
	var best string
	bestHTML, found := true, false
	for _, p := range parts {
		ph, pb := refSplitHeader(p, false)
		s, isHTML := w.entity(ph, pb, depth+1, "multipart/alternative")
		if strings.TrimSpace(s) == "" {
			continue
		}
		if !found || bestHTML && !isHTML {
			best, bestHTML, found = s, isHTML, true
		}
	}
	return best, bestHTML
}

// leaf handles a non-multipart entity: text/plain and text/html become
// text, everything else an attachment.
func (w *refWalker) leaf(h header, ct mediaType, body []byte, parent string) (string, bool) {
	w.leaves++
	if w.leaves > maxParts {
		return "", false
	}
	disp := parseMediaType(h.get("Content-Disposition"))
	name := disp.params["filename"]
	if name == "" {
		name = ct.params["name"]
	}
	isText := ct.value == "text/plain" || ct.value == "text/html"
	if isText && disp.value != "attachment" {
		data := refDecodeTransfer(h.get("Content-Transfer-Encoding"), body)
		s := decodeCharset(data, ct.params["charset"], ct.value == "text/html")
		if ct.value == "text/html" {
			return htmlToText(s), true
		}
		s = normalizeNewlines(s)
		if strings.EqualFold(ct.params["format"], "flowed") {
			s = unflow(s, strings.EqualFold(ct.params["delsp"], "yes"))
		}
		return s, false
	}
	switch ct.value {
	case "application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature":
		return "", false // signatures of multipart/signed: nothing to show
	}
	if name == "" && disp.value != "attachment" && parent == "multipart/related" {
		return "", false // a nameless resource embedded in HTML (logo, spacer)
	}
	w.attach(h, ct.value, name, body)
	return "", false
}

// attach decodes one attachment and adds it, once: a file found again (the
// same name, type and size in another alternative) is not repeated.
func (w *refWalker) attach(h header, ct, name string, body []byte) {
	data := refDecodeTransfer(h.get("Content-Transfer-Encoding"), body)
	name = safeFileName(decodeWords(name))
	if name == "" {
		name = "attachment-" + strconv.Itoa(len(w.atts)+1) + extension(ct)
	}
	a := refAttachment{Name: name, ContentType: ct, Size: int64(len(data))}
	for _, b := range w.atts {
		if b.Name == a.Name && b.ContentType == a.ContentType && b.Size == a.Size {
			return
		}
	}
	switch {
	case a.Size > w.lim.MaxAttachment:
		a.TooLarge = true
	case w.kept >= w.lim.MaxAttachments:
		a.OverCount = true
	default:
		a.Data = bytes.Clone(data) // don't pin the whole raw message
		w.kept++
	}
	w.atts = append(w.atts, a)
}

// sniffBoundary guesses the boundary of a multipart whose Content-Type has
// none: the first "--something" line.
func refSniffBoundary(body []byte) string {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) > 2 && bytes.HasPrefix(line, []byte("--")) && !bytes.HasSuffix(line, []byte("--")) {
			return string(line[2:])
		}
	}
	return ""
}

// splitMultipart returns the parts of a multipart body. A missing final
// delimiter (a cut message) keeps the last part as it is.
func refSplitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1
	for pos := 0; pos < len(body); {
		next := len(body)
		line := body[pos:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, next = line[:i], pos+i+1
		}
		if bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t\r")
			final := string(rest) == "--"
			if len(rest) == 0 || final {
				if start >= 0 {
					p := body[start:pos]
					p = bytes.TrimSuffix(p, []byte("\n"))
					p = bytes.TrimSuffix(p, []byte("\r"))
					parts = append(parts, p)
				}
				if final || len(parts) >= maxParts {
					return parts
				}
				start = next
			}
		}
		pos = next
	}
	if start >= 0 && start < len(body) {
		parts = append(parts, body[start:])
	}
	return parts
}

// decodeTransfer undoes a Content-Transfer-Encoding leniently: corrupt
// base64 and quoted-printable decode as far as they make sense.
func refDecodeTransfer(enc string, b []byte) []byte {
	enc = strings.ToLower(strings.Trim(strings.TrimSpace(enc), `"`))
	switch {
	case strings.HasPrefix(enc, "base64"):
		return refDecodeBase64(b)
	case strings.HasPrefix(enc, "quoted-printable"):
		return refDecodeQP(b)
	}
	return b
}

// decodeBase64 skips characters outside the alphabet and restarts after
// padding (some mailers concatenate encoded chunks).
func refDecodeBase64(b []byte) []byte {
	out := make([]byte, 0, len(b)*3/4)
	var q [4]byte
	n := 0
	flush := func() {
		switch n {
		case 2:
			out = append(out, q[0]<<2|q[1]>>4)
		case 3:
			out = append(out, q[0]<<2|q[1]>>4, q[1]<<4|q[2]>>2)
		}
		n = 0
	}
	for _, c := range b {
		if c == '=' {
			flush()
			continue
		}
		v := b64[c]
		if v == 0xFF {
			continue
		}
		q[n] = v
		n++
		if n == 4 {
			out = append(out, q[0]<<2|q[1]>>4, q[1]<<4|q[2]>>2, q[2]<<6|q[3])
			n = 0
		}
	}
	flush()
	return out
}

// decodeQP decodes quoted-printable, keeping invalid escapes literally.
func refDecodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		line, hasNL := b, false
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b, hasNL = b[:i], b[i+1:], true
		} else {
			b = nil
		}
		line = bytes.TrimRight(line, " \t\r")
		soft := bytes.HasSuffix(line, []byte("="))
		if soft {
			line = line[:len(line)-1]
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c == '=' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				out = append(out, unhex(line[i+1])<<4|unhex(line[i+2]))
				i += 2
				continue
			}
			out = append(out, c)
		}
		if hasNL && !soft {
			out = append(out, '\r', '\n')
		}
	}
	return out
}

// FuzzWalkerAgrees: on any mail whose lines fit the walker's line buffer
// (and whose text fits its budget), the streaming walker finds what the
// whole-message walker found: the same text, the same attachments with
// the same bytes, the same limits applied.
func FuzzWalkerAgrees(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, tc := range walkCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 16<<10 {
			return
		}
		for _, lim := range []Limits{{MaxBody: 512, MaxAttachment: 64, MaxAttachments: 2, MaxMessage: 8 << 10}, {}} {
			compareWalkers(t, raw, lim)
		}
	})
}

func compareWalkers(t *testing.T, raw []byte, lim Limits) {
	t.Helper()
	sp := testSpool(t)
	got, gerr := parse(bytes.NewReader(raw), lim, sp)
	want, werr := refParse(bytes.NewReader(raw), lim)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("errors differ: streaming %v, reference %v", gerr, werr)
	}
	if gerr != nil {
		return
	}
	defer got.Close()
	if got.Body != want.Body || got.Truncated != want.Truncated {
		t.Errorf("body differs:\nstreaming %q (truncated %v)\nreference %q (truncated %v)", got.Body, got.Truncated, want.Body, want.Truncated)
	}
	if len(got.Attachments) != len(want.atts) {
		t.Fatalf("%d attachments, reference %d:\n%+v\n%+v", len(got.Attachments), len(want.atts), got.Attachments, want.atts)
	}
	for i := range got.Attachments {
		g, w := &got.Attachments[i], want.atts[i]
		data := content(t, g)
		if g.Name != w.Name || g.ContentType != w.ContentType || g.Size != w.Size || g.TooLarge != w.TooLarge ||
			g.OverCount != w.OverCount || !bytes.Equal(data, w.Data) {
			t.Errorf("attachment %d differs:\nstreaming %q %q %d %v %v %q\nreference %q %q %d %v %v %q", i,
				g.Name, g.ContentType, g.Size, g.TooLarge, g.OverCount, data, w.Name, w.ContentType, w.Size, w.TooLarge, w.OverCount, w.Data)
		}
	}
}
