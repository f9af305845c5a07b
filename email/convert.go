// Conversion of received mail into what the XMPP user is shown (Parse;
// the MIME structure is walked in walk.go). Together with compose.go this
// is the network-free half of the email transport: bytes in, bytes out,
// no network and no XMPP; the only I/O is the spool files that hold a
// mail's attachments (spool.go).

package email

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset" // legacy charsets (KOI8-R, ISO-2022-JP, windows-125x, …)
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	htmlcharset "golang.org/x/net/html/charset"

	"github.com/switchboard-im/switchboard/transports"
)

// Default limits, used for zero (or negative) fields of Limits.
const (
	DefaultMaxBody       = 64 << 10 // 64 KiB of text: more is unreadable in a chat window
	DefaultMaxAttachment = 25 << 20 // 25 MiB: what common providers accept per mail
	DefaultMaxMessage    = 50 << 20 // 50 MiB read at most, whatever the message claims
	// DefaultMaxAttachments is how many attachments of one mail keep
	// their data: the component uploads a few files per mail, and a mail
	// with a thousand parts must not hold a thousand decoded payloads.
	DefaultMaxAttachments = 10
)

// Bounds on the MIME structure, so hostile nesting cannot make Parse slow.
const (
	maxDepth = 20   // multipart levels descended into
	maxParts = 1000 // leaf parts looked at
)

// truncatedNote is appended to Incoming.Body when it was cut.
const truncatedNote = "\n\n[… message too long, the rest was cut]"

// Incoming is a received mail as the transport relays it to the XMPP user:
// decoded, flattened to text, with its attachments set apart in spool
// files, which Close releases.
type Incoming struct {
	// From is the (first) author address, nil if the mail has none that
	// can be made sense of.
	From *mail.Address
	// FromName is the author's display name, decoded; for XEP-0172 nick.
	FromName string
	// Subject is the decoded subject (RFC 2047), on one line.
	Subject string
	// Body is the readable text: text/plain preferred, else HTML
	// converted to text; charsets and transfer encodings decoded, valid
	// UTF-8 without control characters other than \t and \n, line ends
	// normalised to \n.
	Body string
	// Thread is a stable ID shared by a mail and its replies: the root of
	// References, else In-Reply-To, else the mail's own Message-ID
	// (without <>). Empty when the mail has none of them.
	Thread string
	// MessageID is the mail's Message-ID without <>.
	MessageID string
	// InReplyTo is the Message-ID (without <>) this mail answers.
	InReplyTo string
	// References lists the thread's Message-IDs (without <>), oldest first.
	References []string
	// Date is the Date header; zero when missing or unparseable.
	Date time.Time
	// Attachments are the parts that are files rather than text.
	Attachments []Attachment
	// Truncated is true when Body was cut at Limits.MaxBody or the mail
	// was larger than Limits.MaxMessage; a note then ends Body.
	Truncated bool
}

// Attachment is one file carried by a mail: a part with Content-Disposition
// attachment, or any inline part that is not text/plain or text/html (inline
// images, calendar invitations, …).
//
// Its content is never in memory: a kept attachment was decoded, while the
// mail was read, into a temporary file of the spool (see spool.go), which
// Open reads once and the Incoming's Close releases.
type Attachment struct {
	// Name is a file name safe to show and to use as a base name (no
	// directories, no control characters); generated when the mail gave
	// none.
	Name string
	// ContentType is the media type without parameters ("image/png").
	ContentType string
	// Size is the decoded size in bytes, counted whether or not the
	// content was kept.
	Size int64
	// TooLarge is true when Size exceeds Limits.MaxAttachment: the
	// content is not kept (what was spooled of it is released as soon
	// as the limit is passed).
	TooLarge bool
	// OverCount is true when the mail had Limits.MaxAttachments kept
	// files before this one: its content is not kept either, and the
	// file can only be named to the user.
	OverCount bool

	kept bool       // the content is held (file, or empty)
	file *spoolFile // nil for an empty kept file, or when not kept
	err  error      // why a file that was to be kept is not readable
}

// Kept reports whether the attachment's content was kept, so that Open
// gives it (or the error that made spooling it fail).
func (a *Attachment) Kept() bool { return a.kept }

// Open returns a reader of the attachment's decoded content, from its
// start. The content is read once: closing the reader, or reading it to
// the end, releases the temporary file, and a later Open fails. It does
// local file I/O only. An attachment that was not kept (TooLarge,
// OverCount), or whose spooling failed (disk full, a spool directory that
// is not writable), has an error wrapping transports.ErrUnavailable.
func (a *Attachment) Open() (io.ReadCloser, error) {
	switch {
	case !a.kept:
		return nil, fmt.Errorf("%w: the attachment %q was not kept", transports.ErrUnavailable, a.Name)
	case a.err != nil:
		return nil, fmt.Errorf("%w: the attachment %q could not be stored: %w", transports.ErrUnavailable, a.Name, a.err)
	case a.file == nil:
		return io.NopCloser(strings.NewReader("")), nil
	}
	return a.file.open()
}

// Close releases the temporary files of in's attachments that were not
// read to the end yet. It may be called more than once; a reader handed
// out by Open before fails afterwards.
func (in *Incoming) Close() error {
	for _, a := range in.Attachments {
		if a.file != nil {
			a.file.release()
		}
	}
	return nil
}

// Limits bound what Parse reads and keeps. Zero fields take the defaults.
//
// Only MaxBody is a key of the configuration file ([email]
// max_body_bytes); the attachment limits come from [security].
type Limits struct {
	// MaxBody is the most bytes of Body text (DefaultMaxBody).
	MaxBody int `toml:"max_body_bytes"`
	// MaxAttachment is the largest attachment whose content is kept
	// (DefaultMaxAttachment).
	MaxAttachment int64 `toml:"-"`
	// MaxMessage is the most bytes read from the input
	// (DefaultMaxMessage); the rest is ignored and Truncated set. The
	// IMAP adapter also skips, with a notice, mail whose announced size
	// exceeds it, and never reads more than it of a message.
	MaxMessage int64 `toml:"-"`
	// MaxAttachments is how many attachments keep their content
	// (DefaultMaxAttachments); later ones are listed without it.
	MaxAttachments int `toml:"-"`
}

func (l Limits) withDefaults() Limits {
	if l.MaxBody <= 0 {
		l.MaxBody = DefaultMaxBody
	}
	if l.MaxAttachment <= 0 {
		l.MaxAttachment = DefaultMaxAttachment
	}
	if l.MaxMessage <= 0 {
		l.MaxMessage = DefaultMaxMessage
	}
	if l.MaxAttachments <= 0 {
		l.MaxAttachments = DefaultMaxAttachments
	}
	return l
}

// errReading wraps the error of the reader Parse reads from: the mail
// was not read to its end (a connection that failed), as opposed to a
// mail that was read and is unusable.
var errReading = errors.New("email: reading message")

// Parse reads one mail (RFC 5322 with MIME) from r and converts it to what
// the XMPP user is shown, spooling kept attachments to temporary files in
// os.TempDir(); see parse. The caller must Close the result once its
// attachments are read (an Incoming dropped without Close keeps disk
// space until the garbage collector closes its files).
func Parse(r io.Reader, lim Limits) (*Incoming, error) {
	return parse(r, lim, defaultSpool)
}

// defaultSpool is the spool of Parse.
var defaultSpool = newSpool("")

// parse reads one mail from r as it arrives (a streaming MIME walker,
// walk.go): memory stays within a few line buffers and the bounded text
// whatever the size of the attachments, which are decoded straight into
// temporary files of sp. It never panics on its input: malformed
// headers, broken multipart structure, unknown charsets (read as
// Latin-1) and corrupt transfer encodings all degrade to best-effort
// text. It returns an error only when reading r fails (wrapping
// errReading), or (wrapping transports.ErrInvalidInput) when nothing
// usable — no sender, subject, text or attachment — is found; either way
// every file it spooled is released before it returns.
//
// It uses its own lenient MIME walker rather than go-message's reader
// because the latter gives up on the first malformed header line or part,
// which real mail has plenty of.
func parse(r io.Reader, lim Limits, sp *spool) (_ *Incoming, err error) {
	lim = lim.withDefaults()
	src := &capReader{r: r, left: lim.MaxMessage}
	w := newWalker(src, lim, sp)
	defer func() {
		if v := recover(); v != nil {
			w.releaseAll()
			panic(v)
		}
		if err != nil {
			w.releaseAll()
		}
	}()
	text, _, h := w.mail()
	if w.err != nil {
		return nil, fmt.Errorf("%w: %w", errReading, w.err)
	}
	in := &Incoming{}
	in.readHeader(h)
	in.Attachments = w.atts

	cut := src.cut || w.textCut
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

	if in.From == nil && in.Subject == "" && strings.TrimSpace(in.Body) == "" && len(in.Attachments) == 0 {
		return nil, fmt.Errorf("email: nothing readable in the message: %w", transports.ErrInvalidInput)
	}
	return in, nil
}

// capReader reads at most left bytes of r; cut records that r had more.
type capReader struct {
	r    io.Reader
	left int64
	cut  bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(c.r, one[:]); n > 0 {
			c.cut = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// readHeader fills the header-derived fields of in.
func (in *Incoming) readHeader(h header) {
	in.Subject = cleanLine(decodeWords(h.get("Subject")))
	in.From, in.FromName = parseFrom(h.get("From"))
	if ids := msgIDs(h.get("Message-Id")); len(ids) > 0 {
		in.MessageID = ids[0]
	}
	if ids := msgIDs(h.get("In-Reply-To")); len(ids) > 0 {
		in.InReplyTo = ids[0]
	}
	in.References = msgIDs(h.get("References"))
	switch {
	case len(in.References) > 0:
		in.Thread = in.References[0]
	case in.InReplyTo != "":
		in.Thread = in.InReplyTo
	default:
		in.Thread = in.MessageID
	}
	if d := strings.TrimSpace(h.get("Date")); d != "" {
		if t, err := mail.ParseDate(d); err == nil {
			in.Date = t
		}
	}
}

// ---- headers ----

// field is one unfolded header field; the value is raw (not decoded).
type field struct{ key, value string }

// header is a parsed header block, in order.
type header []field

// get returns the first value of key (case-insensitive), trimmed.
func (h header) get(key string) string {
	for _, f := range h {
		if strings.EqualFold(f.key, key) {
			return strings.TrimSpace(f.value)
		}
	}
	return ""
}

func validKey(k []byte) bool {
	for _, c := range k {
		if c < '!' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// wordDecoder decodes RFC 2047 encoded words; charsets it does not know are
// read as Latin-1 so a word never stays encoded.
var wordDecoder = &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
	if dr, err := charset.Reader(cs, r); err == nil {
		return dr, nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(latin1(b)), nil
}}

// decodeWords turns a raw header value into UTF-8 text: raw 8-bit bytes that
// are not UTF-8 are read as Latin-1, then encoded words are decoded.
func decodeWords(v string) string {
	v = toUTF8(v)
	if !strings.Contains(v, "=?") {
		return v
	}
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// parseFrom extracts the author address and display name, falling back to
// the text in <> (or the first word with an @) when the field is not valid
// RFC 5322.
func parseFrom(v string) (*mail.Address, string) {
	v = toUTF8(v)
	if v == "" {
		return nil, ""
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	if list, err := p.ParseList(v); err == nil && len(list) > 0 {
		a := list[0]
		a.Name = cleanLine(decodeWords(a.Name)) // also "=?…?=" inside quotes (Outlook)
		return a, a.Name
	}
	// Best effort for broken fields: "Name <addr", "addr (Name)", …
	var name, addr string
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		addr = v[i+1:]
		if j := strings.IndexByte(addr, '>'); j >= 0 {
			addr = addr[:j]
		}
		name = strings.Trim(strings.TrimSpace(v[:i]), `"'`)
	} else {
		for _, w := range strings.Fields(v) {
			if strings.Contains(w, "@") {
				addr = strings.Trim(w, `"'<>(),;`)
				break
			}
		}
	}
	a, err := mail.ParseAddress(strings.TrimSpace(addr))
	if err != nil {
		return nil, ""
	}
	a.Name = cleanLine(decodeWords(name))
	return a, a.Name
}

// msgIDs extracts message IDs (without <>) from a Message-ID, In-Reply-To or
// References value. It takes every <…> token, ignoring the comments and
// phrases some mailers add; values without <> are split on whitespace.
func msgIDs(v string) []string {
	v = toUTF8(v)
	var ids []string
	add := func(id string) {
		id = strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' {
				return -1
			}
			return r
		}, id)
		if id != "" {
			ids = append(ids, id)
		}
	}
	if !strings.Contains(v, "<") {
		for _, w := range strings.Fields(v) {
			add(w)
		}
		return ids
	}
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return ids
		}
		v = v[i+1:]
		j := strings.IndexByte(v, '>')
		if j < 0 {
			add(v)
			return ids
		}
		add(v[:j])
		v = v[j+1:]
	}
}

// ---- MIME structure ----

// mediaType is a parsed Content-Type or Content-Disposition.
type mediaType struct {
	value  string // lower case, no parameters
	params map[string]string
}

// parseMediaType parses a Content-Type / Content-Disposition value, falling
// back to a lenient scan when mime.ParseMediaType rejects it (duplicate or
// malformed parameters are common).
func parseMediaType(v string) mediaType {
	v = toUTF8(v)
	mt, params, err := mime.ParseMediaType(v)
	if err == nil || errors.Is(err, mime.ErrInvalidMediaParameter) && mt != "" {
		if params == nil {
			params = lenientParams(v)
		}
		return mediaType{value: mt, params: params}
	}
	value, _, _ := strings.Cut(v, ";")
	value = strings.ToLower(strings.TrimSpace(value))
	if f := strings.Fields(value); len(f) > 0 {
		value = f[0]
	}
	return mediaType{value: value, params: lenientParams(v)}
}

// lenientParams finds the few parameters Parse needs in a value that
// mime.ParseMediaType refused.
func lenientParams(v string) map[string]string {
	params := map[string]string{}
	lower := strings.ToLower(v)
	for _, key := range []string{"boundary", "charset", "name", "filename", "format", "delsp"} {
		i := 0
		for {
			j := strings.Index(lower[i:], key+"=")
			if j < 0 {
				break
			}
			j += i
			// Must be a whole parameter name, not the tail of another.
			if j > 0 && !strings.ContainsRune("; \t", rune(lower[j-1])) {
				i = j + 1
				continue
			}
			val := v[j+len(key)+1:]
			if strings.HasPrefix(val, `"`) {
				val = val[1:]
				if k := strings.IndexByte(val, '"'); k >= 0 {
					val = val[:k]
				}
			} else if k := strings.IndexAny(val, "; \t"); k >= 0 {
				val = val[:k]
			}
			if _, dup := params[key]; !dup && val != "" {
				params[key] = val
			}
			break
		}
	}
	return params
}

// commonExt gives the usual extension of frequent types, where the
// system's MIME table may list an odd one first (".jfif" for JPEG).
var commonExt = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
	"application/pdf": ".pdf", "text/calendar": ".ics", "message/rfc822": ".eml",
	"text/plain": ".txt", "text/html": ".html", "application/zip": ".zip",
}

// extension returns a file extension for a media type, or "".
func extension(ct string) string {
	if e, ok := commonExt[ct]; ok {
		return e
	}
	if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// safeFileName keeps the last path element of name, without control
// characters, at most 255 bytes.
func safeFileName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base(cleanLine(name))
	if name == "." || name == "/" || name == ".." {
		return ""
	}
	if len(name) > 255 {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		name = cutUTF8(name, 255-len(ext)) + ext
	}
	return name
}

// ---- transfer encodings and charsets ----

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// decodeCharset converts text in charset cs to UTF-8. A missing charset
// means UTF-8 when the bytes are valid UTF-8 (else the <meta> of an HTML
// part, else Latin-1); an unknown charset is read as Latin-1.
func decodeCharset(data []byte, cs string, isHTML bool) string {
	cs = strings.ToLower(strings.Trim(strings.TrimSpace(cs), `"'`))
	switch cs {
	case "utf-8", "utf8":
		return strings.ToValidUTF8(string(data), "\uFFFD")
	case "", "us-ascii", "ascii", "unknown-8bit", "x-unknown":
		if utf8.Valid(data) {
			return string(data)
		}
		if isHTML && cs == "" {
			if enc, _, _ := htmlcharset.DetermineEncoding(data, "text/html"); enc != nil {
				if out, err := enc.NewDecoder().Bytes(data); err == nil {
					return strings.ToValidUTF8(string(out), "\uFFFD")
				}
			}
		}
		return latin1(data)
	}
	r, err := charset.Reader(cs, bytes.NewReader(data))
	if err != nil {
		return latin1(data)
	}
	out, err := io.ReadAll(r)
	if err != nil && len(out) == 0 {
		return latin1(data)
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// latin1 reads b as ISO-8859-1, which maps every byte to a character.
func latin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// toUTF8 returns s unchanged when it is UTF-8, else read as Latin-1 (raw
// 8-bit header values).
func toUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return latin1([]byte(s))
}

// ---- text clean-up ----

func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// xmlUnsafe reports characters XMPP (XML 1.0) cannot carry or that only
// confuse a chat window.
func xmlUnsafe(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' || r == 0x7F || r == 0xFFFE || r == 0xFFFF
}

// cleanBody makes text valid UTF-8 with \n line ends and no control
// characters other than \t and \n, without trailing blanks on lines.
func cleanBody(s string) string {
	s = normalizeNewlines(strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.Map(func(r rune) rune {
		if xmlUnsafe(r) {
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "-- " { // the signature separator keeps its space
			lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// cleanLine makes s a single line of valid UTF-8: control characters become
// spaces, runs of white space one space, and invisible format characters
// (see hiddenFormat) are dropped.
func cleanLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF:
			return ' '
		case hiddenFormat(r):
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// hiddenFormat reports the invisible format characters (Unicode category
// Cf) that a sender's name, a subject or a file name must not carry: bidi
// embeddings, overrides, isolates and marks (U+202A–U+202E, U+2066–U+2069,
// U+200E, U+200F, U+061C), which make "invoice\u202Efdp.exe" display as
// "invoiceexe.pdf", and the zero-width and tag characters that hide text.
// The zero-width joiner and non-joiner stay: emoji sequences and Persian
// words need them, and they reorder nothing.
func hiddenFormat(r rune) bool {
	return unicode.Is(unicode.Cf, r) && r != '\u200C' && r != '\u200D'
}

// cutUTF8 returns at most n bytes of s, not splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// unflow joins the soft line breaks of format=flowed text (RFC 3676): a
// line ending in a space continues on the next line of the same quote depth.
func unflow(s string, delsp bool) string {
	var out strings.Builder
	prevSoft, prevDepth := false, 0
	for i, l := range strings.Split(s, "\n") {
		depth := 0
		for depth < len(l) && l[depth] == '>' {
			depth++
		}
		content := strings.TrimPrefix(l[depth:], " ") // space-stuffing
		if i == 0 || !prevSoft || depth != prevDepth {
			if i > 0 {
				out.WriteByte('\n')
			}
			if depth > 0 {
				out.WriteString(strings.Repeat(">", depth) + " ")
			}
		}
		soft := strings.HasSuffix(content, " ") && content != "-- "
		if soft && delsp {
			content = content[:len(content)-1]
		}
		out.WriteString(content)
		prevSoft, prevDepth = soft, depth
	}
	return out.String()
}

// ---- HTML to text ----

// htmlToText renders HTML as readable plain text: blocks and <br> become
// line breaks, list items "- " (or "1. "), links "text <url>", blockquotes
// "> "; <head>, <script>, <style> and <template> are skipped.
func htmlToText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var t textWriter
	t.lineStart = true
	skip, pre := 0, 0
	inHead := false
	type link struct {
		href  string
		start int
	}
	var links []link
	type list struct {
		ordered bool
		n       int
	}
	var lists []list
	endLink := func() {
		l := links[len(links)-1]
		links = links[:len(links)-1]
		if l.href == "" {
			return
		}
		text := strings.TrimSpace(t.b.String()[min(l.start, t.b.Len()):])
		if sameLink(text, l.href) {
			return
		}
		t.space()
		t.word("<" + l.href + ">")
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			for len(links) > 0 {
				endLink()
			}
			return t.String()
		case html.TextToken:
			if skip == 0 && !inHead {
				t.text(string(z.Text()), pre > 0)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			selfClosing := tt == html.SelfClosingTagToken
			switch a {
			case atom.Head:
				inHead = !selfClosing
				continue
			case atom.Body:
				inHead = false
				continue
			case atom.Script, atom.Style, atom.Title, atom.Template:
				if !selfClosing {
					skip++
				}
				continue
			}
			if skip > 0 || inHead {
				continue
			}
			switch a {
			case atom.Br:
				t.lineBreak()
			case atom.Hr:
				t.block(2)
				t.word("----")
				t.block(2)
			case atom.Ul, atom.Ol:
				if len(lists) == 0 {
					t.block(2)
				} else {
					t.block(1)
				}
				lists = append(lists, list{ordered: a == atom.Ol})
			case atom.Li:
				t.block(1)
				marker := "- "
				indent := ""
				if len(lists) > 0 {
					l := &lists[len(lists)-1]
					if l.ordered {
						l.n++
						marker = strconv.Itoa(l.n) + ". "
					}
					indent = strings.Repeat("  ", min(len(lists)-1, 8))
				}
				t.word(indent + marker)
			case atom.Blockquote:
				t.block(2)
				t.quote++
			case atom.Pre:
				t.block(2)
				pre++
			case atom.A:
				if len(links) > 0 { // <a> does not nest: close the open one
					endLink()
				}
				links = append(links, link{href: usableHref(attrs["href"]), start: t.b.Len()})
			case atom.Img:
				if alt := cleanLine(attrs["alt"]); alt != "" {
					t.space()
					t.word("[" + alt + "]")
					t.space()
				}
			case atom.Td, atom.Th:
				t.space()
			default:
				if n := blockBreak(a); n > 0 {
					t.block(n)
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Head:
				inHead = false
				continue
			case atom.Script, atom.Style, atom.Title, atom.Template:
				if skip > 0 {
					skip--
				}
				continue
			}
			if skip > 0 || inHead {
				continue
			}
			switch a {
			case atom.A:
				if len(links) > 0 {
					endLink()
				}
			case atom.Ul, atom.Ol:
				if len(lists) > 0 {
					lists = lists[:len(lists)-1]
				}
				if len(lists) == 0 {
					t.block(2)
				} else {
					t.block(1)
				}
			case atom.Blockquote:
				t.block(2)
				if t.quote > 0 {
					t.quote--
				}
			case atom.Pre:
				if pre > 0 {
					pre--
				}
				t.block(2)
			case atom.Td, atom.Th:
				t.space()
			default:
				if n := blockBreak(a); n > 0 {
					t.block(n)
				}
			}
		}
	}
}

// blockBreak is how many line breaks surround a block element: 2 for
// paragraph-like ones, 1 for other blocks, 0 for inline elements.
func blockBreak(a atom.Atom) int {
	switch a {
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Table, atom.Dl, atom.Figure, atom.Address:
		return 2
	case atom.Div, atom.Li, atom.Dt, atom.Dd, atom.Tr, atom.Thead, atom.Tbody,
		atom.Tfoot, atom.Caption, atom.Section, atom.Article, atom.Header,
		atom.Footer, atom.Nav, atom.Aside, atom.Main, atom.Form, atom.Fieldset,
		atom.Figcaption, atom.Center, atom.Details, atom.Summary, atom.Html,
		atom.Body:
		return 1
	}
	return 0
}

// usableHref returns href if it is worth showing (not an in-page anchor,
// script or cid: reference).
func usableHref(href string) string {
	href = strings.TrimSpace(href)
	lower := strings.ToLower(href)
	if href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(lower, "javascript:") ||
		strings.HasPrefix(lower, "cid:") || strings.HasPrefix(lower, "data:") {
		return ""
	}
	return cleanLine(href)
}

// sameLink reports whether a link's text already says where it goes.
func sameLink(text, href string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		for _, p := range []string{"mailto:", "https://", "http://", "tel:"} {
			s = strings.TrimPrefix(s, p)
		}
		s = strings.TrimPrefix(s, "www.")
		return strings.TrimSuffix(s, "/")
	}
	return norm(text) == norm(href)
}

// textWriter accumulates rendered text, collapsing white space and
// deferring line breaks so that empty blocks leave no blank lines.
type textWriter struct {
	b         strings.Builder
	nl        int  // pending line breaks
	sp        bool // pending space
	lineStart bool // at the start of a line (quote prefix not written)
	lastSpace bool // the last byte written is a space
	quote     int  // blockquote depth
}

// block asks for at least n line breaks before the next text.
func (t *textWriter) block(n int) {
	if t.nl < n {
		t.nl = n
	}
	t.sp = false
}

// lineBreak adds one line break (<br>); at most one blank line results.
func (t *textWriter) lineBreak() {
	if t.nl < 2 {
		t.nl++
	}
	t.sp = false
}

// space asks for a space before the next text, unless a line starts there.
func (t *textWriter) space() {
	if t.b.Len() > 0 {
		t.sp = true
	}
}

// word writes s after any pending breaks or space.
func (t *textWriter) word(s string) {
	if t.b.Len() > 0 {
		if t.nl > 0 {
			t.b.WriteString(strings.Repeat("\n", t.nl))
			t.lineStart = true
		} else if t.sp && !t.lineStart && !t.lastSpace {
			t.b.WriteByte(' ')
		}
	}
	t.nl, t.sp = 0, false
	if t.lineStart && t.quote > 0 {
		t.b.WriteString(strings.Repeat(">", min(t.quote, 8)) + " ")
	}
	t.b.WriteString(s)
	t.lineStart = false
	t.lastSpace = strings.HasSuffix(s, " ")
}

// text writes a text node: white space collapsed, or kept inside <pre>.
func (t *textWriter) text(s string, pre bool) {
	if pre {
		for i, l := range strings.Split(normalizeNewlines(s), "\n") {
			if i > 0 {
				t.nl++
			}
			if l != "" {
				t.word(l)
			}
		}
		return
	}
	for len(s) > 0 {
		i := strings.IndexAny(s, " \t\n\r\f")
		switch {
		case i == 0:
			t.space()
			s = strings.TrimLeft(s, " \t\n\r\f")
		case i < 0:
			t.word(s)
			return
		default:
			t.word(s[:i])
			s = s[i:]
		}
	}
}

// String returns the text with trailing blanks trimmed.
func (t *textWriter) String() string {
	lines := strings.Split(t.b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
