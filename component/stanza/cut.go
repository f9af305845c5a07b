package stanza

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

// CutUTF8 returns the longest prefix of s of at most n bytes that does not
// end in the middle of a UTF-8 sequence: how the gateway cuts text to fit
// a stanza size limit.
func CutUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	if n <= 0 {
		return ""
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	if !utf8.RuneStart(s[i]) {
		return s[:n] // not UTF-8 here anyway
	}
	return s[:i]
}

// ShortName is a name from a legacy network (a file's, a contact's) fit
// for one line of text: no control or format (bidi) characters, at most
// max runes, "attachment" when nothing is left.
func ShortName(name string, max int) string {
	name = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" {
		return "attachment"
	}
	if utf8.RuneCountInString(name) > max {
		r := []rune(name)
		name = string(r[:max-1]) + "…"
	}
	return name
}

// Links are the out-of-band elements (XEP-0066) of a legacy message's
// files that were uploaded for the user (those with a URL), one each, in
// order.
func Links(atts []transports.Attachment) []any {
	var oob []any
	for _, a := range atts {
		if a.URL != "" {
			oob = append(oob, &OOB{URL: a.URL, Desc: ShortName(a.Name, 200)})
		}
	}
	return oob
}
