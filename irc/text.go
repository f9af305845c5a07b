package irc

import (
	"strings"
	"unicode/utf8"
)

// Text handling between XMPP and IRC. Everything here is a pure function:
// what goes to IRC is made safe to put in one protocol line (no CR, LF or
// NUL can reach the wire, so user text can never inject a command) and cut
// to the 512-byte line limit; what comes from IRC is made valid UTF-8 and
// stripped of formatting codes, since XMPP needs valid Unicode and has no
// use for mIRC colours.

// ActionOverhead is how many bytes a CTCP ACTION ("/me") adds to a message
// text: "\x01ACTION " before it and "\x01" after it. Subtract it from
// LineBudget before calling SplitMessage for an action.
const ActionOverhead = 9

// Worst-case lengths assumed by LineBudget for the parts of the prefix the
// caller does not know: USERLEN and HOSTLEN of common IRC servers.
const (
	worstUserLen = 10
	worstHostLen = 63
)

// ircLineLimit is the IRC line limit (RFC 1459), CR LF included, tags excluded.
const ircLineLimit = 512

// sanitizeKeeps reports whether Sanitize keeps the C0 control c: the
// CTCP delimiter and the mIRC formatting codes, which are text on IRC, not
// protocol.
func sanitizeKeeps(c byte) bool {
	switch c {
	case 0x01, // CTCP delimiter
		0x02, // bold
		0x03, // colour
		0x0f, // reset
		0x11, // monospace
		0x16, // reverse
		0x1d, // italic
		0x1e, // strikethrough
		0x1f: // underline
		return true
	}
	return false
}

// Sanitize returns s made safe to be sent as the trailing (last, ':'-
// prefixed) parameter of one IRC line: nicks, topics, kick reasons, away
// texts and message texts. Without it, a CR or LF in user text would end
// the line and let the rest be read as a command of its own.
//
// It removes CR, LF, NUL and every other C0 control character except the
// CTCP delimiter \x01 and the mIRC formatting codes \x02 (bold), \x03
// (colour), \x0f (reset), \x11 (monospace), \x16 (reverse), \x1d (italic),
// \x1e (strikethrough) and \x1f (underline); a TAB becomes a space. DEL and
// C1 controls are kept (they are harmless to the protocol). Each byte that
// is not part of valid UTF-8 becomes U+FFFD, so the result is always valid
// UTF-8. A string that needs no change is returned as is, without
// allocating.
//
// The result may contain spaces and start with ':', so it is not fit for a
// middle parameter; callers validate nicks and channels with ParseID.
func Sanitize(s string) string {
	// Fast path: nothing to change.
	clean, ascii := true, true
	for i := 0; i < len(s) && clean; i++ {
		c := s[i]
		clean = c >= 0x20 || sanitizeKeeps(c)
		ascii = ascii && c < utf8.RuneSelf
	}
	if clean && (ascii || utf8.ValidString(s)) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\t':
				b.WriteByte(' ')
			case c >= 0x20 || sanitizeKeeps(c):
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// SplitMessage turns an XMPP message body into the texts of IRC messages
// (PRIVMSG or NOTICE), each of which must be sent as the trailing
// parameter of a line of its own. IRC has no multi-line messages and a
// 512-byte line limit; XMPP has both.
//
// The body is split into lines at LF, CR LF or a lone CR. Each line is
// passed through Sanitize; lines that are then empty or only white space
// are dropped (IRC refuses empty messages), so a body of only white space
// yields no texts at all (nil). A line longer than max bytes is cut into
// pieces of at most max bytes, never inside a UTF-8 sequence: where the
// last quarter of the window holds a space the cut is made just after the
// last such space (word wrap), otherwise at the last rune boundary that
// fits.
//
// No byte of a sanitised line is lost: the space at a wrap point stays at
// the end of the earlier piece, so concatenating the pieces cut from one
// line gives that line back exactly. A piece may therefore end in a space,
// and a run of spaces longer than the window can yield a piece of only
// spaces. Formatting codes are not carried over from one piece to the
// next, and a cut may fall between a base character and its combining
// marks. The CTCP delimiter \x01 is kept, like any formatting code; a
// caller that wraps the pieces in a CTCP ACTION should remove it from the
// body first.
//
// max is the byte budget of one text, usually LineBudget(...) (minus
// ActionOverhead for an action); a max below 4 is taken as 4, so that any
// rune fits. Pieces are substrings of the sanitised body: a body that
// needs no sanitising costs one allocation, the result slice.
func SplitMessage(body string, max int) []string {
	if max < utf8.UTFMax {
		max = utf8.UTFMax
	}
	if blankText(body) {
		return nil
	}
	// One allocation in the common case: room for every line and for the
	// pieces long lines are cut into.
	out := make([]string, 0, strings.Count(body, "\n")+strings.Count(body, "\r")+1+len(body)/(max-max/4))
	for len(body) > 0 {
		var line string
		if i := strings.IndexAny(body, "\r\n"); i >= 0 {
			line = body[:i]
			if body[i] == '\r' && i+1 < len(body) && body[i+1] == '\n' {
				i++
			}
			body = body[i+1:]
		} else {
			line, body = body, ""
		}
		line = Sanitize(line)
		if blankText(line) {
			continue
		}
		out = splitMessageLine(out, line, max)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// splitMessageLine appends to out the pieces of the sanitised, valid
// UTF-8 line, each at most max (>= 4) bytes long.
func splitMessageLine(out []string, line string, max int) []string {
	for len(line) > max {
		// The longest prefix that fits and ends on a rune boundary.
		// line is valid UTF-8 and max >= UTFMax, so cut > 0.
		cut := max
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		// Prefer the last space in the last quarter of the window.
		if lo := max - max/4; lo < cut {
			if i := strings.LastIndexByte(line[lo:cut], ' '); i >= 0 {
				cut = lo + i + 1
			}
		}
		out = append(out, line[:cut])
		line = line[cut:]
	}
	return append(out, line)
}

// blankText reports whether s is empty or only white space.
func blankText(s string) bool {
	return strings.TrimSpace(s) == ""
}

// LineBudget returns how many bytes of message text fit in the line
//
//	:nick!user@host COMMAND target :text\r\n
//
// within IRC's 512-byte limit. The budget is computed for the line as the
// server relays it to the other clients, with the sender's prefix, because
// that is the longest form: a text within the budget reaches everyone
// whole. An empty user or host means the caller does not know it (the
// server may have cloaked the host); the worst case is assumed, 10 bytes
// of user name and 63 bytes of host name. IRCv3 message tags have a budget
// of their own and are not counted. The result is never negative; it is 0
// when the names alone fill the line.
func LineBudget(nick, user, host, command, target string) int {
	ul, hl := len(user), len(host)
	if user == "" {
		ul = worstUserLen
	}
	if host == "" {
		hl = worstHostLen
	}
	// ":" nick "!" user "@" host " " command " " target " :" text "\r\n"
	used := 1 + len(nick) + 1 + ul + 1 + hl + 1 + len(command) + 1 + len(target) + 2 + 2
	if used >= ircLineLimit {
		return 0
	}
	return ircLineLimit - used
}

// cp1252 maps the bytes 0x80 to 0x9F to their Windows-1252 characters. The
// five bytes Windows-1252 leaves undefined map to the C1 control of the
// same value, as in Latin-1 (and the WHATWG Encoding Standard). Bytes 0xA0
// to 0xFF are the same in Windows-1252, Latin-1 and Unicode.
var cp1252 = [32]rune{
	'\u20ac', '\u0081', '\u201a', '\u0192', '\u201e', '\u2026', '\u2020', '\u2021',
	'\u02c6', '\u2030', '\u0160', '\u2039', '\u0152', '\u008d', '\u017d', '\u008f',
	'\u0090', '\u2018', '\u2019', '\u201c', '\u201d', '\u2022', '\u2013', '\u2014',
	'\u02dc', '\u2122', '\u0161', '\u203a', '\u0153', '\u009d', '\u017e', '\u0178',
}

// DecodeText turns text received from IRC into valid UTF-8. IRC carries
// bytes, not characters: most clients send UTF-8, but older ones still
// send Windows-1252 or Latin-1, and XMPP accepts only valid Unicode.
//
// Valid UTF-8 is returned unchanged (without allocating). Otherwise every
// byte that is not part of a valid UTF-8 sequence is decoded as
// Windows-1252 (Latin-1 for the five bytes Windows-1252 leaves undefined),
// so "caf\xe9" becomes "café", while the valid UTF-8 sequences of a mixed
// string are kept as they are. Overlong forms and encoded surrogates count
// as invalid. NUL bytes are removed in every case, after decoding, so they
// never join the bytes around them into one character. Windows-1252 text
// that happens to be valid UTF-8 ("Ã©") cannot be told apart and is read
// as UTF-8. The result is always valid UTF-8 and contains no NUL.
func DecodeText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c != 0 {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if c < 0xa0 {
				b.WriteRune(cp1252[c-0x80])
			} else {
				b.WriteRune(rune(c))
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// StripFormatting removes the mIRC formatting codes from text received
// from IRC, to show it in XMPP, which has no use for them: \x02 (bold),
// \x03 with its optional colour numbers ("\x034", "\x0304,12"), \x04 with
// its optional hex colours ("\x04FF0000" or "\x04FF0000,00FF00"), \x0f
// (reset), \x11 (monospace), \x16 (reverse), \x1d (italic), \x1e
// (strikethrough) and \x1f (underline). A comma after a colour is only
// part of the code when a colour follows it ("\x034,text" keeps ",text").
// Other bytes, including the CTCP delimiter \x01, are kept; text without
// codes is returned as is, without allocating. Call it after DecodeText:
// it removes only ASCII bytes, so valid UTF-8 stays valid.
func StripFormatting(s string) string {
	i := 0
	for i < len(s) && !isFormatCode(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if !isFormatCode(c) {
			b.WriteByte(c)
			i++
			continue
		}
		i++
		switch c {
		case 0x03:
			if n := colourDigits(s[i:], 2); n > 0 {
				i += n
				if i+1 < len(s) && s[i] == ',' {
					if n := colourDigits(s[i+1:], 2); n > 0 {
						i += 1 + n
					}
				}
			}
		case 0x04:
			if hexColour(s[i:]) {
				i += 6
				if i+1 < len(s) && s[i] == ',' && hexColour(s[i+1:]) {
					i += 7
				}
			}
		}
	}
	return b.String()
}

// isFormatCode reports whether c is one of the formatting codes
// StripFormatting removes.
func isFormatCode(c byte) bool {
	switch c {
	case 0x02, 0x03, 0x04, 0x0f, 0x11, 0x16, 0x1d, 0x1e, 0x1f:
		return true
	}
	return false
}

// colourDigits returns how many ASCII digits s starts with, at most max.
func colourDigits(s string, max int) int {
	n := 0
	for n < max && n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// hexColour reports whether s starts with six hex digits.
func hexColour(s string) bool {
	if len(s) < 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
