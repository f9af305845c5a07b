// The streaming MIME walker: one pass over a mail as it is read (from the
// IMAP literal), line by line through a fixed buffer. Text parts are kept
// (within a budget) to become the message's text; attachments are decoded
// (base64, quoted-printable) as their lines arrive and written straight
// into temporary files of the spool, so what a mail costs in memory does
// not depend on the size of its files.
//
// The walker reads MIME as leniently as the whole-message walker it
// replaced: a multipart's parts are cut at its boundary lines, the line
// end before a boundary belongs to the boundary, a boundary of an
// enclosing multipart ends every part inside it, a multipart without a
// boundary parameter takes the first "--x" line of its body, and one
// without any part shows its body as text.

package email

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

const (
	// lineBuf is how much of a line the walker looks at at once. A
	// longer line is read in fragments: its content is kept whole, but
	// it is never taken for a boundary, nor a header line's end.
	lineBuf = 64 << 10
	// spoolBuf buffers the writes of an attachment to its file.
	spoolBuf = 32 << 10
	// maxHeader is how many bytes of one entity's header are kept;
	// further fields are read and dropped.
	maxHeader = 256 << 10
	// minTextBudget is the least raw text (before decoding) kept of one
	// mail; the budget is 16 × Limits.MaxBody when that is more. Text
	// beyond it is dropped and the message marked Truncated.
	minTextBudget = 1 << 20
	// qpMaxLine is how much of a quoted-printable line waits for its
	// end before its start is decoded.
	qpMaxLine = 8 << 10
)

// line is one line of input, or a fragment of a line longer than
// lineBuf. b and eol are valid until the next read.
type line struct {
	b     []byte // without the line end
	eol   []byte // "\r\n", "\n", a lone "\r" at the end of input, or ""
	start bool   // b starts a line
	whole bool   // b ends its line (a line end follows, or the input ends)
}

// stop is how an entity's content ended: at a boundary line of one of the
// open multiparts, or at the end of the input.
type stop struct {
	level int   // index in walker.bounds of the boundary; -1: the end of the input
	final bool  // a closing boundary ("--b--")
	at    int64 // input bytes before the boundary line
	drop  int   // length of the line end before the boundary, which belongs to it
}

// walker reads one mail. It is used once, by parse.
type walker struct {
	lim Limits
	r   *bufio.Reader
	err error // a read error: the mail was not read to its end
	eof bool
	mid bool // the next read continues a line

	back    bool // backLn is read again next
	backLn  line
	backBuf []byte
	ended   *stop // a header ran into this: the body that follows is empty
	held    int   // line end of the blank line that ended a header
	read    int64 // input bytes consumed
	bounds  [][]byte
	// The line end and first boundary line of the multipart whose
	// preamble was read last, and that line's end.
	delim, delimEOL []byte

	// The part that entity is called for next: where its bytes start
	// and the level of its multipart (-1: the mail itself).
	partStart int64
	partLevel int

	sp       *spool
	out      *bufio.Writer // shared by the attachments, one at a time
	cur      *fileSink     // the attachment being read
	atts     []Attachment
	kept     int // attachments kept
	leaves   int
	textLeft int
	textCut  bool
}

func newWalker(r io.Reader, lim Limits, sp *spool) *walker {
	return &walker{lim: lim, r: bufio.NewReaderSize(r, lineBuf), sp: sp,
		out: bufio.NewWriterSize(io.Discard, spoolBuf), textLeft: max(16*lim.MaxBody, minTextBudget)}
}

// mail reads the whole input: the top header, and the text of the mail's
// entity; attachments are in w.atts.
func (w *walker) mail() (string, bool, header) {
	w.partStart, w.partLevel = -1, -1
	h := w.header(true)
	text, isHTML, _ := w.entity(h, 0, "")
	return text, isHTML, h
}

// releaseAll releases every file spooled so far.
func (w *walker) releaseAll() {
	if w.cur != nil {
		w.cur.stopWriting()
	}
	for _, a := range w.atts {
		if a.file != nil {
			a.file.release()
		}
	}
}

// ---- lines ----

// next reads the next line or fragment; false at the end of the input or
// on a read error (w.err).
func (w *walker) next() (line, bool) {
	if w.back {
		w.back = false
		return w.backLn, true
	}
	if w.eof || w.err != nil {
		return line{}, false
	}
	start := !w.mid
	b, err := w.r.ReadSlice('\n')
	w.read += int64(len(b))
	switch {
	case err == nil:
		w.mid = false
		n := len(b) - 1
		if n > 0 && b[n-1] == '\r' {
			n--
		}
		return line{b: b[:n], eol: b[n:], start: start, whole: true}, true
	case errors.Is(err, bufio.ErrBufferFull):
		// A "\r" at the end may start the line's "\r\n": it is read
		// again with what follows.
		if n := len(b); n > 1 && b[n-1] == '\r' && w.r.UnreadByte() == nil {
			b = b[:n-1]
			w.read--
		}
		w.mid = true
		return line{b: b, start: start}, true
	case err == io.EOF:
		w.eof = true
		if len(b) == 0 {
			return line{}, false
		}
		n := len(b)
		if b[n-1] == '\r' {
			n--
		}
		return line{b: b[:n], eol: b[n:], start: start, whole: true}, true
	}
	w.err = err
	return line{}, false
}

// pushBack makes ln the next line read.
func (w *walker) pushBack(ln line) {
	w.backBuf = append(append(w.backBuf[:0], ln.b...), ln.eol...)
	w.backLn = line{b: w.backBuf[:len(ln.b)], eol: w.backBuf[len(ln.b):], start: ln.start, whole: ln.whole}
	w.back = true
}

// delimiter reports whether ln is a boundary line of an open multipart,
// the outermost first (a boundary of an enclosing multipart ends the
// parts inside it), and whether it is a closing one.
func (w *walker) delimiter(ln line) (int, bool) {
	if !ln.start || !ln.whole {
		return -1, false
	}
	for i, d := range w.bounds {
		if !bytes.HasPrefix(ln.b, d) {
			continue
		}
		switch rest := bytes.TrimRight(ln.b[len(d):], " \t\r"); {
		case len(rest) == 0:
			return i, false
		case string(rest) == "--":
			return i, true
		}
	}
	return -1, false
}

// stopAt is the stop for the boundary line ln just read.
func (w *walker) stopAt(ln line, level int, final bool, drop int) stop {
	return stop{level: level, final: final, at: w.read - int64(len(ln.b)+len(ln.eol)), drop: drop}
}

// ---- headers ----

// header reads a header block. It is lenient: the header ends at the
// first blank line, or at the first line that is neither a "Name: value"
// field nor a continuation (that line starts the body), or at a boundary
// or the end of the input (the body is then empty). When top is set, a
// leading mbox "From " line is skipped.
func (w *walker) header(top bool) header {
	var h header
	// The value of the last field is built in val, so that many
	// continuation lines cost linear time.
	var val []byte
	size, inField, prevEOL := 0, false, 0
	done := func() {
		if len(h) > 0 {
			h[len(h)-1].value = string(val)
		}
	}
	for first := top; ; first = false {
		ln, ok := w.next()
		if !ok {
			done()
			w.ended = &stop{level: -1, at: w.read}
			return h
		}
		if lvl, final := w.delimiter(ln); lvl >= 0 {
			done()
			st := w.stopAt(ln, lvl, final, prevEOL)
			w.ended = &st
			return h
		}
		if first && bytes.HasPrefix(ln.b, []byte("From ")) {
			for !ln.whole {
				if ln, ok = w.next(); !ok {
					w.ended = &stop{level: -1, at: w.read}
					return nil
				}
			}
			prevEOL = len(ln.eol)
			continue
		}
		switch {
		case !ln.start: // the rest of a long field line
			if inField && size < maxHeader {
				val = append(val, ln.b...)
				size += len(ln.b)
			}
		case len(ln.b) == 0:
			done()
			w.held = len(ln.eol)
			return h
		case ln.b[0] == ' ' || ln.b[0] == '\t':
			if len(h) == 0 {
				w.pushBack(ln)
				return h
			}
			if inField && size < maxHeader {
				val = append(val, ln.b...)
				size += len(ln.b)
			}
		default:
			colon := bytes.IndexByte(ln.b, ':')
			var key []byte
			if colon > 0 {
				key = bytes.TrimRight(ln.b[:colon], " \t")
			}
			if len(key) == 0 || !validKey(key) {
				done()
				w.pushBack(ln)
				return h
			}
			done()
			inField = size < maxHeader
			if inField {
				h = append(h, field{key: string(key)})
				val = append(val[:0], ln.b[colon+1:]...)
				size += len(ln.b)
			}
		}
		prevEOL = len(ln.eol)
	}
}

// ---- bodies ----

// body reads an entity's content up to the boundary or end that ends it,
// handing every byte to sink (nil: dropped). The line end before a
// boundary belongs to the boundary and is not handed over.
func (w *walker) body(sink func([]byte)) stop {
	if st := w.ended; st != nil {
		w.ended, w.held = nil, 0
		return *st
	}
	held := w.held
	w.held = 0
	var pend [2]byte
	np := 0
	for {
		ln, ok := w.next()
		if !ok {
			if np > 0 && sink != nil {
				sink(pend[:np])
			}
			return stop{level: -1, at: w.read}
		}
		if lvl, final := w.delimiter(ln); lvl >= 0 {
			return w.stopAt(ln, lvl, final, max(np, held))
		}
		held = 0
		if sink != nil {
			if np > 0 {
				sink(pend[:np])
			}
			if len(ln.b) > 0 {
				sink(ln.b)
			}
		}
		np = copy(pend[:], ln.eol)
	}
}

// exists reports whether the part that started at start (in the
// multipart of level own) is one: a part a boundary of its own multipart
// ends always is, one cut by the end of the input or of an enclosing part
// only when it has a byte.
func (w *walker) exists(st stop, start int64, own int) bool {
	return start < 0 || st.level == own || st.at-start-int64(st.drop) > 0
}

// textSink returns a sink that appends to *buf within the mail's text
// budget.
func (w *walker) textSink(buf *[]byte) func([]byte) {
	return func(p []byte) {
		n := min(len(p), w.textLeft)
		if n < len(p) {
			w.textCut = true
		}
		*buf = append(*buf, p[:n]...)
		w.textLeft -= n
	}
}

// ---- MIME structure ----

// entity reads the body of the entity whose header is h, and returns its
// readable text and whether that came from HTML; attachments found on the
// way are added to w.atts.
func (w *walker) entity(h header, depth int, parent string) (string, bool, stop) {
	start, own := w.partStart, w.partLevel
	ct := parseMediaType(h.get("Content-Type"))
	if ct.value == "" || !strings.Contains(ct.value, "/") {
		if parent == "multipart/digest" {
			ct.value = "message/rfc822"
		} else {
			ct.value = "text/plain"
		}
	}
	if !strings.HasPrefix(ct.value, "multipart/") {
		return w.leaf(h, ct, parent, start, own)
	}
	if depth >= maxDepth {
		return "", false, w.body(nil)
	}
	return w.multipart(ct, depth)
}

// partText is what one part of a multipart shows.
type partText struct {
	s      string
	isHTML bool
}

// multipart reads a multipart's body: its parts in order (mixed, related,
// signed, report, digest, unknown: every part's text; alternative: the
// best one).
func (w *walker) multipart(ct mediaType, depth int) (string, bool, stop) {
	level := len(w.bounds)
	defer func() { w.bounds = w.bounds[:level] }()
	boundary := ct.params["boundary"]
	if boundary != "" {
		w.bounds = append(w.bounds, []byte("--"+boundary))
	}
	var pre []byte
	st := w.preamble(&pre, boundary == "", level)
	if st.level != level {
		// A multipart without parts: its body is all there is, shown
		// as text.
		if w.leaves++; w.leaves > maxParts {
			return "", false, st
		}
		return normalizeNewlines(decodeCharset(pre, "", false)), false, st
	}
	w.textLeft += len(pre) // the preamble is not shown, unless…
	delim := append(append([]byte(nil), w.delim...), w.delimEOL...)
	delimEOL := len(w.delimEOL)
	var texts []partText
	for n := 1; ; n++ {
		w.partStart, w.partLevel = w.read, level
		start := w.partStart
		h := w.header(false)
		s, isHTML, pst := w.entity(h, depth+1, ct.value)
		texts = append(texts, partText{s, isHTML})
		if st = pst; st.level != level {
			if n == 1 && !w.exists(st, start, level) {
				// …the boundary line is the body's last: no part
				// after all, and the body is the text.
				if w.leaves++; w.leaves > maxParts {
					return "", false, st
				}
				text := append(pre, delim...)
				if st.level >= 0 { // the boundary's line end went with the enclosing part
					text = text[:len(text)-delimEOL]
				}
				return normalizeNewlines(decodeCharset(text, "", false)), false, st
			}
			break
		}
		pre, delim = nil, nil
		if st.final || n >= maxParts {
			// The rest (the epilogue) is not shown.
			w.bounds = w.bounds[:level]
			st = w.body(nil)
			break
		}
	}
	if ct.value == "multipart/alternative" {
		// The first alternative that has plain text, else the first that
		// has any text. Attachments of every alternative are kept (Apple
		// Mail puts them in the HTML branch only).
		var best string
		bestHTML, found := true, false
		for _, t := range texts {
			if strings.TrimSpace(t.s) == "" {
				continue
			}
			if !found || bestHTML && !t.isHTML {
				best, bestHTML, found = t.s, t.isHTML, true
			}
		}
		return best, bestHTML, st
	}
	var out []string
	fromHTML := false
	for _, t := range texts {
		if s := strings.TrimSpace(t.s); s != "" {
			out = append(out, s)
			fromHTML = fromHTML || t.isHTML
		}
	}
	return strings.Join(out, "\n\n"), fromHTML, st
}

// preamble reads a multipart's body up to its first boundary line (level),
// keeping it in *pre in case none comes. With sniff (no boundary
// parameter), the first "--x" line is the boundary. A closing boundary
// before any part means the multipart has none: everything up to the end
// of its body is then its text.
func (w *walker) preamble(pre *[]byte, sniff bool, level int) stop {
	if st := w.ended; st != nil {
		w.ended, w.held = nil, 0
		return *st
	}
	held := w.held
	w.held = 0
	add := w.textSink(pre)
	var pend [2]byte
	np := 0
	for {
		ln, ok := w.next()
		if !ok {
			if np > 0 {
				add(pend[:np])
			}
			return stop{level: -1, at: w.read}
		}
		lvl, final := w.delimiter(ln)
		if lvl < 0 && sniff && ln.start && ln.whole {
			if t := bytes.TrimRight(ln.b, " \t\r"); len(t) > 2 && bytes.HasPrefix(t, []byte("--")) && !bytes.HasSuffix(t, []byte("--")) {
				w.bounds = append(w.bounds, bytes.Clone(t))
				sniff, lvl = false, level
			}
		}
		switch {
		case lvl == level && !final:
			// What the body is should no part follow.
			w.delim = append(append(w.delim[:0], pend[:np]...), ln.b...)
			w.delimEOL = append(w.delimEOL[:0], ln.eol...)
			return w.stopAt(ln, lvl, final, max(np, held))
		case lvl >= 0 && lvl < level:
			return w.stopAt(ln, lvl, final, max(np, held))
		case lvl == level: // closing before any part
			w.bounds = w.bounds[:level]
		}
		held = 0
		if np > 0 {
			add(pend[:np])
		}
		add(ln.b)
		np = copy(pend[:], ln.eol)
	}
}

// leaf reads a non-multipart entity: text/plain and text/html become
// text, everything else an attachment. start and own say which part it is
// (see exists): a part that turns out not to be one leaves no trace.
func (w *walker) leaf(h header, ct mediaType, parent string, start int64, own int) (string, bool, stop) {
	disp := parseMediaType(h.get("Content-Disposition"))
	name := disp.params["filename"]
	if name == "" {
		name = ct.params["name"]
	}
	isText := ct.value == "text/plain" || ct.value == "text/html"
	skip := func() (string, bool, stop) {
		st := w.body(nil)
		if w.exists(st, start, own) {
			w.leaves++
		}
		return "", false, st
	}
	switch {
	case w.leaves >= maxParts:
		return skip()
	case isText && disp.value != "attachment":
		var raw []byte
		st := w.body(w.textSink(&raw))
		if !w.exists(st, start, own) {
			return "", false, st
		}
		w.leaves++
		data := decodeTransfer(h.get("Content-Transfer-Encoding"), raw)
		s := decodeCharset(data, ct.params["charset"], ct.value == "text/html")
		if ct.value == "text/html" {
			return htmlToText(s), true, st
		}
		s = normalizeNewlines(s)
		if strings.EqualFold(ct.params["format"], "flowed") {
			s = unflow(s, strings.EqualFold(ct.params["delsp"], "yes"))
		}
		return s, false, st
	}
	switch ct.value {
	case "application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature":
		return skip() // signatures of multipart/signed: nothing to show
	}
	if name == "" && disp.value != "attachment" && parent == "multipart/related" {
		return skip() // a nameless resource embedded in HTML (logo, spacer)
	}
	fs := &fileSink{w: w, wanted: w.kept < w.lim.MaxAttachments}
	fs.keep = fs.wanted
	w.cur = fs
	dec := newDecoder(h.get("Content-Transfer-Encoding"))
	write := fs.write // one method value, not one per line
	st := w.body(func(p []byte) { dec.write(p, write) })
	dec.flush(write)
	w.cur = nil
	if !w.exists(st, start, own) {
		fs.stopWriting()
		return "", false, st
	}
	w.leaves++
	w.attach(ct.value, name, fs)
	return "", false, st
}

// attach adds the attachment fs read, once: a file found again (the same
// name, type and size in another alternative) is not repeated.
func (w *walker) attach(ct, name string, fs *fileSink) {
	name = safeFileName(decodeWords(name))
	if name == "" {
		name = "attachment-" + strconv.Itoa(len(w.atts)+1) + extension(ct)
	}
	a := Attachment{Name: name, ContentType: ct, Size: fs.size}
	for _, b := range w.atts {
		if b.Name == a.Name && b.ContentType == a.ContentType && b.Size == a.Size {
			fs.stopWriting()
			return
		}
	}
	switch {
	case a.Size > w.lim.MaxAttachment:
		a.TooLarge = true
		fs.stopWriting()
	case !fs.wanted:
		a.OverCount = true
		fs.stopWriting()
	default:
		a.kept = true
		a.file, a.err = fs.finish()
		w.kept++
	}
	w.atts = append(w.atts, a)
}

// fileSink writes one attachment's decoded content to a spool file,
// created at its first byte, while it is within Limits.MaxAttachment;
// past it, or when the file cannot be written, the file is released and
// only the size is counted on.
type fileSink struct {
	w      *walker
	wanted bool // the count of kept attachments allows this one
	keep   bool // still writing
	f      *spoolFile
	size   int64
	err    error
}

func (s *fileSink) write(p []byte) {
	s.size += int64(len(p))
	if !s.keep {
		return
	}
	if s.size > s.w.lim.MaxAttachment {
		s.stopWriting()
		return
	}
	if s.f == nil {
		f, err := s.w.sp.create()
		if err != nil {
			s.err = err
			s.stopWriting()
			return
		}
		s.f = f
		s.w.out.Reset(f.f)
	}
	if _, err := s.w.out.Write(p); err != nil {
		s.err = err
		s.stopWriting()
	}
}

// stopWriting drops what was written and releases the file.
func (s *fileSink) stopWriting() {
	s.keep = false
	s.w.out.Reset(io.Discard)
	if s.f != nil {
		s.f.release()
		s.f = nil
	}
}

// finish flushes the file and hands it over: nil for an empty
// attachment, or the error that made writing it fail.
func (s *fileSink) finish() (*spoolFile, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.f == nil {
		return nil, nil
	}
	if err := s.w.out.Flush(); err != nil {
		s.stopWriting()
		return nil, err
	}
	s.w.out.Reset(io.Discard)
	f := s.f
	f.size, s.f = s.size, nil
	return f, nil
}

// ---- transfer encodings ----

// decoder undoes a Content-Transfer-Encoding on a stream: write decodes
// what it can of p, handing the result to out (which must not keep the
// slice), and flush the rest at the end.
type decoder interface {
	write(p []byte, out func([]byte))
	flush(out func([]byte))
}

// newDecoder returns the lenient decoder of enc: corrupt base64 and
// quoted-printable decode as far as they make sense; anything else is
// taken as it is.
func newDecoder(enc string) decoder {
	enc = strings.ToLower(strings.Trim(strings.TrimSpace(enc), `"`))
	switch {
	case strings.HasPrefix(enc, "base64"):
		return &b64Decoder{}
	case strings.HasPrefix(enc, "quoted-printable"):
		return &qpDecoder{}
	}
	return identity{}
}

// decodeTransfer decodes a whole (text) body.
func decodeTransfer(enc string, b []byte) []byte {
	d := newDecoder(enc)
	if _, ok := d.(identity); ok {
		return b
	}
	out := make([]byte, 0, len(b))
	collect := func(p []byte) { out = append(out, p...) }
	d.write(b, collect)
	d.flush(collect)
	return out
}

// decodeQP decodes quoted-printable, keeping invalid escapes literally.
func decodeQP(b []byte) []byte { return decodeTransfer("quoted-printable", b) }

type identity struct{}

func (identity) write(p []byte, out func([]byte)) { out(p) }
func (identity) flush(func([]byte))               {}

// b64 maps base64 characters (standard and URL alphabets) to their value,
// everything else to 0xFF.
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

// b64Decoder skips characters outside the alphabet and restarts after
// padding (some mailers concatenate encoded chunks).
type b64Decoder struct {
	q   [4]byte
	n   int
	buf []byte
}

func (d *b64Decoder) write(p []byte, out func([]byte)) {
	d.buf = d.buf[:0]
	for _, c := range p {
		if c == '=' {
			d.pad()
			continue
		}
		v := b64[c]
		if v == 0xFF {
			continue
		}
		d.q[d.n] = v
		d.n++
		if d.n == 4 {
			d.buf = append(d.buf, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2, d.q[2]<<6|d.q[3])
			d.n = 0
		}
	}
	if len(d.buf) > 0 {
		out(d.buf)
	}
}

// pad ends a quantum early: the bytes its characters complete.
func (d *b64Decoder) pad() {
	switch d.n {
	case 2:
		d.buf = append(d.buf, d.q[0]<<2|d.q[1]>>4)
	case 3:
		d.buf = append(d.buf, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2)
	}
	d.n = 0
}

func (d *b64Decoder) flush(out func([]byte)) {
	d.buf = d.buf[:0]
	d.pad()
	if len(d.buf) > 0 {
		out(d.buf)
	}
}

// qpDecoder decodes quoted-printable line by line: trailing blanks are
// dropped, "=" at the end is a soft line break, a hard one becomes CRLF,
// invalid escapes stay as they are. A line longer than qpMaxLine has its
// start decoded before its end arrives (up to any blanks or "=" that its
// end may still give a meaning; more than twice that many blanks are then
// taken as text).
type qpDecoder struct {
	line []byte
	buf  []byte
}

func (d *qpDecoder) write(p []byte, out func([]byte)) {
	d.buf = d.buf[:0]
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.line = append(d.line, p...)
			if len(d.line) > qpMaxLine {
				d.partial()
			}
			break
		}
		d.line = append(d.line, p[:i]...)
		d.endLine(true)
		p = p[i+1:]
	}
	if len(d.buf) > 0 {
		out(d.buf)
	}
}

func (d *qpDecoder) flush(out func([]byte)) {
	d.buf = d.buf[:0]
	if len(d.line) > 0 {
		d.endLine(false)
	}
	if len(d.buf) > 0 {
		out(d.buf)
	}
}

func (d *qpDecoder) endLine(hasNL bool) {
	l := bytes.TrimRight(d.line, " \t\r")
	soft := bytes.HasSuffix(l, []byte("="))
	if soft {
		l = l[:len(l)-1]
	}
	d.buf = appendQP(d.buf, l)
	if hasNL && !soft {
		d.buf = append(d.buf, '\r', '\n')
	}
	d.line = d.line[:0]
}

// partial decodes the start of a long line: up to its trailing blanks,
// and before an "=" whose escape (or soft break) may not be complete.
func (d *qpDecoder) partial() {
	k := len(bytes.TrimRight(d.line, " \t\r"))
	for j := max(0, k-2); j < k; j++ {
		if d.line[j] == '=' {
			k = j
			break
		}
	}
	if k == 0 {
		if len(d.line) <= 2*qpMaxLine {
			return
		}
		k = len(d.line) - 2
	}
	d.buf = appendQP(d.buf, d.line[:k])
	d.line = d.line[:copy(d.line, d.line[k:])]
}

// appendQP appends the decoded escapes of l (no line ends) to out.
func appendQP(out, l []byte) []byte {
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '=' && i+2 < len(l) && isHex(l[i+1]) && isHex(l[i+2]) {
			out = append(out, unhex(l[i+1])<<4|unhex(l[i+2]))
			i += 2
			continue
		}
		out = append(out, c)
	}
	return out
}
