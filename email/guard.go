package email

import (
	"errors"
	"net"
)

// errBadCapability is what capGuard's Read returns for a capability list
// that would hang go-imap.
var errBadCapability = errors.New("email: malformed capability list")

// capGuard sits between go-imap and a server's plaintext and refuses a
// response go-imap cannot survive: in go-imap v2.0.0-beta.8,
// readCapabilities loops forever, at full CPU and without reading, when a
// capability list (* CAPABILITY, [CAPABILITY …], * ENABLED) holds a "("
// (imapwire.Decoder.SP accepts "(" without consuming it). Any server can
// send that, in its greeting even. capGuard follows the stream just
// enough to know where such a list is — outside quoted strings and
// literals, which it skips — and fails the read carrying the "(", so
// the decoder never sees it and the connection ends.
type capGuard struct {
	net.Conn
	err error

	word      []byte // the current unquoted word, upper case, cut
	long      bool   // the word is longer than any keyword
	idx       int    // words ended on this line
	star      bool   // the line's first word is "*"
	inCap     bool   // inside a capability list
	inQuote   bool
	escape    bool
	brace     bool  // inside {n}
	num       int64 // n so far
	announced bool  // "{n}" ended; a literal starts after the line end
	lit       int64 // literal bytes still to pass through
}

const maxWord = 16

// Read reads from the connection; a read that would hand go-imap a
// capability list with "(" fails instead, and so does every later one.
func (g *capGuard) Read(b []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.Conn.Read(b)
	if !g.scan(b[:n]) {
		g.err = errBadCapability
		return 0, g.err
	}
	return n, err
}

// scan follows p; false when it holds a "(" in a capability list.
func (g *capGuard) scan(p []byte) bool {
	for i := 0; i < len(p); i++ {
		if g.lit > 0 {
			skip := min(g.lit, int64(len(p)-i))
			g.lit -= skip
			i += int(skip) - 1
			continue
		}
		c := p[i]
		if g.inQuote {
			switch {
			case g.escape:
				g.escape = false
			case c == '\\':
				g.escape = true
			case c == '"':
				g.inQuote = false
			case c == '\n':
				g.inQuote = false
				g.endLine()
			}
			continue
		}
		if g.announced && c != '\r' && c != '\n' {
			g.announced = false
		}
		switch {
		case g.brace && c >= '0' && c <= '9':
			if g.num < 1<<40 {
				g.num = g.num*10 + int64(c-'0')
			}
		case g.brace && c == '+':
		case g.brace && c == '}':
			g.brace, g.announced = false, true
		case c == '{':
			g.endWord()
			g.brace, g.num = true, 0
		case c == '"':
			g.endWord()
			g.brace = false
			g.inQuote = true
		case c == '\n':
			announced, n := g.announced, g.num
			g.endLine()
			if announced {
				g.lit = n
			}
		case c == '\r':
		case c == '(':
			if g.endWord() || g.inCap {
				return false
			}
			g.brace = false
		case c == ' ':
			if g.endWord() {
				g.inCap = true
			}
			g.brace = false
		case c == ']':
			g.endWord()
			g.inCap, g.brace = false, false
		default:
			g.brace = false
			if len(g.word) < maxWord {
				if 'a' <= c && c <= 'z' {
					c -= 'a' - 'A'
				}
				g.word = append(g.word, c)
			} else {
				g.long = true
			}
		}
	}
	return true
}

// endWord ends the current word and reports whether it introduces a
// capability list where go-imap reads one: the response type of an
// untagged CAPABILITY or ENABLED response ("* CAPABILITY"), or the
// response code of a status response ("* OK [CAPABILITY",
// "T1 OK [CAPABILITY").
func (g *capGuard) endWord() bool {
	if len(g.word) == 0 && !g.long {
		return false
	}
	w := string(g.word)
	if g.long {
		w = ""
	}
	kw := false
	switch g.idx {
	case 0:
		g.star = w == "*"
	case 1:
		kw = g.star && (w == "CAPABILITY" || w == "ENABLED")
	case 2:
		kw = w == "[CAPABILITY"
	}
	g.idx++
	g.word, g.long = g.word[:0], false
	return kw
}

func (g *capGuard) endLine() {
	g.word, g.long = g.word[:0], false
	g.idx, g.star = 0, false
	g.inCap, g.brace, g.announced, g.escape = false, false, false, false
}
