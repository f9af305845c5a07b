package component

import (
	"errors"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// XEP-0106 JID escaping. mellium's jid.Unescape is wrong when an escape is
// preceded by two or more characters, so both directions live here.

// escapes maps the characters XEP-0106 escapes to their sequences.
var escapes = map[byte]string{
	' ': `\20`, '"': `\22`, '&': `\26`, '\'': `\27`, '/': `\2f`,
	':': `\3a`, '<': `\3c`, '>': `\3e`, '@': `\40`, '\\': `\5c`,
}

// escapeLocal turns a legacy ID into a JID localpart (XEP-0106 §4.2). A
// backslash is escaped only where it would otherwise read as an escape.
func escapeLocal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		seq, ok := escapes[c]
		switch {
		case c == '\\' && !isEscapeSeq(s[i:]):
			b.WriteByte(c)
		case ok:
			b.WriteString(seq)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeLocal reverses escapeLocal.
func unescapeLocal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && isEscapeSeq(s[i:]) {
			for c, seq := range escapes {
				if strings.EqualFold(s[i:i+3], seq) {
					b.WriteByte(c)
					break
				}
			}
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isEscapeSeq(s string) bool {
	if len(s) < 3 || s[0] != '\\' {
		return false
	}
	for _, seq := range escapes {
		if strings.EqualFold(s[:3], seq) {
			return true
		}
	}
	return false
}

var errNoLocal = errors.New("the address has no legacy part")

// legacyJID is the JID of a legacy contact or room.
func (c *Component) legacyJID(id transports.ID) (jid.JID, error) {
	return jid.New(escapeLocal(string(id)), c.domain.Domainpart(), "")
}

// legacyID is the legacy contact or room a JID of this domain stands for.
func legacyID(j jid.JID) (transports.ID, error) {
	l := j.Localpart()
	if l == "" {
		return "", errNoLocal
	}
	return transports.ID(unescapeLocal(l)), nil
}
