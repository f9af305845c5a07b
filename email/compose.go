package email

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/emersion/go-message/mail"
	"golang.org/x/net/idna"

	"github.com/switchboard-im/switchboard/transports"
)

// Outgoing is a chat message from the XMPP user, to be sent as a mail.
type Outgoing struct {
	// From is the user's mail identity.
	From mail.Address
	// To are the recipients; at least one.
	To []mail.Address
	// Subject is the XMPP <subject>. When empty, Compose uses the first
	// line of Body; callers replying in a thread pass
	// SubjectForReply(original subject) instead.
	Subject string
	// Body is the text the user wrote.
	Body string
	// InReplyTo is the Message-ID (without <>) this message answers.
	InReplyTo string
	// References are the thread's Message-IDs (without <>), oldest
	// first; InReplyTo is appended when missing.
	References []string
	// Links are URLs the user sent out of band (XEP-0066 / HTTP upload);
	// they are appended to the body, one per line, unless the body
	// already contains them.
	Links []string
	// Attachments are files sent as MIME attachment parts after the
	// text (multipart/mixed); none gives a single text/plain mail.
	Attachments []OutAttachment
	// Date is the Date header; zero means now.
	Date time.Time
	// Domain is the right-hand side of the generated Message-ID; empty
	// means the domain of From.
	Domain string
}

// subjectFromBodyLen is about how long a subject taken from the body gets.
const subjectFromBodyLen = 60

// maxReferences bounds the References header; the root (for threading) and
// the most recent IDs are kept, as RFC 5322 section 3.6.4 allows.
const maxReferences = 20

// Compose builds an RFC 5322 message from o: UTF-8 throughout, non-ASCII
// header text RFC 2047-encoded, the body text/plain; charset=utf-8 in
// quoted-printable with CRLF line ends. It returns the message and its new
// Message-ID (without <>), random over crypto/rand at o.Domain.
//
// Header injection is impossible: CR, LF, NUL and other control characters
// in the subject, display names and addresses become spaces before they
// reach a header, and addresses must then parse with net/mail as a bare
// addr-spec; otherwise Compose returns an error wrapping
// transports.ErrInvalidInput. Message-IDs in InReplyTo and References that
// could not be written safely are dropped, since the user cannot fix them.
//
// With Attachments, the mail is multipart/mixed: the text part first,
// then one base64 attachment part per file, read from its Content when
// the mail is written.
func Compose(o Outgoing) (raw []byte, messageID string, err error) {
	m, err := NewMail(o)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), m.MessageID, nil
}

// OutAttachment is a file sent with a mail.
type OutAttachment struct {
	// Name is the file name; it is made a single line, and written with
	// RFC 2231 encoding when it is not ASCII. Empty means "attachment".
	Name string
	// Type is the MIME type; anything that does not parse as one is sent
	// as application/octet-stream.
	Type string
	// Content is read once, when the mail is written.
	Content io.Reader
}

// Mail is a composed mail not written yet: its header is checked and its
// Message-ID chosen, and WriteTo streams it, attachments read as it goes.
type Mail struct {
	// MessageID is the new mail's Message-ID, without <>.
	MessageID string
	header    gomail.Header
	body      string
	atts      []OutAttachment
}

// NewMail checks o and builds its header as Compose does, without
// reading any attachment.
func NewMail(o Outgoing) (*Mail, error) {
	from, err := cleanAddress(o.From, "From")
	if err != nil {
		return nil, err
	}
	if len(o.To) == 0 {
		return nil, fmt.Errorf("email: no recipient: %w", transports.ErrInvalidInput)
	}
	to := make([]*mail.Address, 0, len(o.To))
	for _, a := range o.To {
		c, err := cleanAddress(a, "To")
		if err != nil {
			return nil, err
		}
		to = append(to, c)
	}

	domain := o.Domain
	if domain == "" {
		domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	}
	domain, err = messageIDDomain(domain)
	if err != nil {
		return nil, err
	}
	messageID := rand.Text() + "@" + domain

	body := composeBody(o.Body, o.Links)
	subject := cleanLine(o.Subject)
	if subject == "" {
		subject = subjectFromBody(body)
	}

	inReplyTo := cleanMsgID(o.InReplyTo)
	refs := make([]string, 0, len(o.References)+1)
	seen := map[string]bool{}
	for _, r := range o.References {
		if r = cleanMsgID(r); r != "" && !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	if inReplyTo != "" && !seen[inReplyTo] {
		refs = append(refs, inReplyTo)
	}
	if len(refs) > maxReferences {
		refs = append(refs[:1], refs[len(refs)-maxReferences+1:]...)
	}

	date := o.Date
	if date.IsZero() {
		date = time.Now()
	}

	// go-message writes fields last-added first: add them in reverse.
	var h gomail.Header
	if len(o.Attachments) == 0 {
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	}
	h.AddRaw([]byte("MIME-Version: 1.0\r\n")) // raw: go-message would spell it Mime-Version
	h.SetMsgIDList("References", refs)
	if inReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{inReplyTo})
	}
	h.AddRaw([]byte("Message-ID: <" + messageID + ">\r\n")) // safe: random text @ checked domain
	if subject != "" {
		h.SetSubject(subject)
	}
	h.SetAddressList("To", to)
	h.SetAddressList("From", []*mail.Address{from})
	h.SetDate(date)
	return &Mail{MessageID: messageID, header: h, body: body, atts: o.Attachments}, nil
}

// WriteTo writes the mail to w, reading each attachment's Content as it
// goes. An error reading an attachment is returned as it is (wrapped),
// and the mail written so far must then not be sent.
func (m *Mail) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	if len(m.atts) == 0 {
		tw, err := gomail.CreateSingleInlineWriter(cw, m.header)
		if err != nil {
			return cw.n, fmt.Errorf("email: writing header: %w", err)
		}
		if _, err := io.WriteString(tw, m.body); err != nil {
			return cw.n, fmt.Errorf("email: writing body: %w", err)
		}
		if err := tw.Close(); err != nil {
			return cw.n, fmt.Errorf("email: writing body: %w", err)
		}
		return cw.n, nil
	}
	mw, err := gomail.CreateWriter(cw, m.header)
	if err != nil {
		return cw.n, fmt.Errorf("email: writing header: %w", err)
	}
	var th gomail.InlineHeader
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	th.Set("Content-Transfer-Encoding", "quoted-printable")
	tw, err := mw.CreateSingleInline(th)
	if err != nil {
		return cw.n, fmt.Errorf("email: writing body: %w", err)
	}
	if _, err := io.WriteString(tw, m.body); err != nil {
		return cw.n, fmt.Errorf("email: writing body: %w", err)
	}
	if err := tw.Close(); err != nil {
		return cw.n, fmt.Errorf("email: writing body: %w", err)
	}
	for _, a := range m.atts {
		var ah gomail.AttachmentHeader
		typ := "application/octet-stream"
		if t, _, err := mime.ParseMediaType(a.Type); err == nil && strings.Count(t, "/") == 1 && !strings.HasPrefix(t, "multipart/") {
			typ = t
		}
		ah.SetContentType(typ, nil)
		name := cleanLine(a.Name)
		if name == "" {
			name = "attachment"
		}
		ah.SetFilename(name)
		aw, err := mw.CreateAttachment(ah)
		if err != nil {
			return cw.n, fmt.Errorf("email: writing attachment: %w", err)
		}
		if _, err := io.Copy(aw, a.Content); err != nil {
			return cw.n, fmt.Errorf("email: reading attachment %q: %w", name, err)
		}
		if err := aw.Close(); err != nil {
			return cw.n, fmt.Errorf("email: writing attachment: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return cw.n, fmt.Errorf("email: writing mail: %w", err)
	}
	return cw.n, nil
}

// countWriter counts what it passes on.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// SubjectForReply returns the subject of a reply to a mail with subject
// orig: "Re: " once, however many reply prefixes (Re:, RE:, Aw:, Sv:,
// Antw:, Re[2]:, …) orig already has. A blank orig gives "".
func SubjectForReply(orig string) string {
	s := cleanLine(orig)
	for {
		rest, ok := cutReplyPrefix(s)
		if !ok {
			break
		}
		s = rest
	}
	if s == "" {
		return ""
	}
	return "Re: " + s
}

// cutReplyPrefix removes one leading reply marker ("Re:", "AW :",
// "Re[3]:", "Re(2):") from s.
func cutReplyPrefix(s string) (string, bool) {
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	switch strings.ToLower(s[:i]) {
	case "re", "aw", "sv", "vs", "antw":
	default:
		return s, false
	}
	rest := strings.TrimLeft(s[i:], " ")
	if len(rest) > 0 && (rest[0] == '[' || rest[0] == '(') {
		closing := map[byte]byte{'[': ']', '(': ')'}[rest[0]]
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == 1 || j >= len(rest) || rest[j] != closing {
			return s, false
		}
		rest = rest[j+1:]
	}
	rest = strings.TrimLeft(rest, " ")
	if !strings.HasPrefix(rest, ":") {
		return s, false
	}
	return strings.TrimSpace(rest[1:]), true
}

// SMTP's limits on an address (RFC 5321 §4.5.3.1.1 and §4.5.3.1.3).
const (
	maxLocalPart = 64
	maxAddress   = 254
)

// cleanAddress makes an address safe for a header: the display name a
// single line, the address a bare addr-spec accepted by net/mail (control
// characters refused), with an internationalised domain in its ASCII
// (A-label) form. Non-ASCII local parts are refused: they cannot be
// written in a 7-bit header and need SMTPUTF8 end to end.
func cleanAddress(a mail.Address, field string) (*mail.Address, error) {
	addr := strings.TrimSpace(a.Address)
	if strings.ContainsFunc(addr, unicode.IsControl) {
		// Refused, not cleaned: a control character turned into a space
		// would make another address of it ("a@\x04b" → "a@b").
		return nil, fmt.Errorf("email: %s address: %w: it contains control characters", field, transports.ErrInvalidInput)
	}
	p, err := mail.ParseAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("email: %s address %q: %w: %w", field, addr, transports.ErrInvalidInput, err)
	}
	if p.Name != "" {
		return nil, fmt.Errorf("email: %s address %q is not a bare address: %w", field, addr, transports.ErrInvalidInput)
	}
	at := strings.LastIndexByte(p.Address, '@')
	local, domain := p.Address[:at], p.Address[at+1:]
	if !strings.HasPrefix(domain, "[") { // not an address literal
		if domain, err = idna.Lookup.ToASCII(domain); err != nil {
			return nil, fmt.Errorf("email: %s address %q: domain: %w: %w", field, addr, transports.ErrInvalidInput, err)
		}
	}
	// RFC 5321 §4.5.3.1: a local part has at most 64 octets and a path at
	// most 256 with its brackets. A longer one no server takes, and a
	// header writer would fold it mid-address.
	if len(local) > maxLocalPart || len(local)+1+len(domain) > maxAddress {
		return nil, fmt.Errorf("email: %s address: %w: longer than SMTP allows (local part %d octets, at most %d; address %d, at most %d)",
			field, transports.ErrInvalidInput, len(local), maxLocalPart, len(local)+1+len(domain), maxAddress)
	}
	for i := 0; i < len(local); i++ {
		if local[i] < ' ' || local[i] >= 0x7F {
			return nil, fmt.Errorf("email: %s address %q: non-ASCII local part needs SMTPUTF8: %w", field, addr, transports.ErrInvalidInput)
		}
	}
	return &mail.Address{Name: cleanLine(a.Name), Address: local + "@" + domain}, nil
}

// messageIDDomain checks (and converts to ASCII) the Message-ID domain.
func messageIDDomain(d string) (string, error) {
	d = strings.Trim(strings.TrimSpace(d), "[]")
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		d = a
	}
	ok := d != "" && !strings.HasPrefix(d, ".") && !strings.HasSuffix(d, ".") && !strings.Contains(d, "..")
	for i := 0; ok && i < len(d); i++ {
		c := d[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
	}
	if !ok {
		return "", fmt.Errorf("email: Message-ID domain %q: %w", d, transports.ErrInvalidInput)
	}
	return d, nil
}

// cleanMsgID returns id without <> and white space, or "" when it holds
// characters a msg-id cannot carry.
func cleanMsgID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	if id == "" {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7F || c == '<' || c == '>' {
			return ""
		}
	}
	return id
}

// composeBody normalises the text (UTF-8, \n line ends, no NUL) and appends
// the links not already in it.
func composeBody(body string, links []string) string {
	body = strings.ToValidUTF8(normalizeNewlines(body), "\uFFFD")
	body = strings.ReplaceAll(body, "\x00", "")
	body = strings.TrimRightFunc(body, unicode.IsSpace)
	var extra []string
	for _, l := range links {
		l = cleanLine(l)
		if l != "" && !strings.Contains(body, l) {
			extra = append(extra, l)
		}
	}
	if len(extra) > 0 {
		if body != "" {
			body += "\n\n"
		}
		body += strings.Join(extra, "\n")
	}
	if body != "" {
		body += "\n"
	}
	return body
}

// subjectFromBody takes the first non-blank line of body, cut to about
// subjectFromBodyLen characters at a word boundary.
func subjectFromBody(body string) string {
	var line string
	for l := range strings.SplitSeq(body, "\n") {
		if line = cleanLine(l); line != "" {
			break
		}
	}
	if utf8.RuneCountInString(line) <= subjectFromBodyLen {
		return line
	}
	runes := []rune(line)[:subjectFromBodyLen]
	cut := string(runes)
	if i := strings.LastIndexByte(cut, ' '); i >= subjectFromBodyLen/3 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:.-") + "…"
}
