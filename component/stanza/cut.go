package stanza

import "unicode/utf8"

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
