package irc

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"hello", "hello"},
		{"hi\r\nQUIT :x", "hiQUIT :x"},
		{"a\x00b\rc\nd", "abcd"},
		{"tab\there", "tab here"},
		{"\x01ACTION waves\x01", "\x01ACTION waves\x01"},
		{"\x02bold\x02 \x0304,12col\x03 \x0freset \x16rev \x1dit \x1fun \x11mono \x1estrike",
			"\x02bold\x02 \x0304,12col\x03 \x0freset \x16rev \x1dit \x1fun \x11mono \x1estrike"},
		{"bell\a esc\x1b[31m vt\v ff\f bs\b hex\x04FF0000", "bell esc[31m vt ff bs hexFF0000"},
		{"del\x7f c1\u0085", "del\x7f c1\u0085"},
		{"café ☕ 🎉", "café ☕ 🎉"},
		{"bad\xffutf8\xe2\x82", "bad\uFFFDutf8\uFFFD\uFFFD"},
		{":starts with colon", ":starts with colon"},
	} {
		if got := Sanitize(tc.in); got != tc.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSanitizeNoAlloc(t *testing.T) {
	s := strings.Repeat("plain café text \x02bold\x02 ", 20)
	if n := testing.AllocsPerRun(100, func() { _ = Sanitize(s) }); n != 0 {
		t.Errorf("Sanitize of clean text allocates %v times", n)
	}
}

func TestSplitMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		max  int
		want []string
	}{
		{"empty", "", 100, nil},
		{"only whitespace", " \n\t\r\n  \r \u00a0", 100, nil},
		{"one line", "hello", 100, []string{"hello"}},
		{"injection", "hi\r\nQUIT :x", 100, []string{"hi", "QUIT :x"}},
		{"lone CR", "a\rb", 100, []string{"a", "b"}},
		{"LF CR is two breaks", "a\n\rb", 100, []string{"a", "b"}},
		{"blank lines dropped", "a\n\n   \n\tb\n", 100, []string{"a", " b"}},
		{"NUL removed", "a\x00b", 100, []string{"ab"}},
		{"controls only", "\a\x1b\x00", 100, nil},
		{"exact fit", "abcd", 4, []string{"abcd"}},
		{"hard split", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"max below 4", "abcdefghij", 0, []string{"abcd", "efgh", "ij"}},
		{"negative max", "abcde", -5, []string{"abcd", "e"}},
		{"rune boundary", "aé€🎉", 4, []string{"aé", "€", "🎉"}},
		{"four-byte runes", "🎉🎉🎉", 5, []string{"🎉", "🎉", "🎉"}},
		{"word wrap", "the quick brown fox jumps", 10, []string{"the quick ", "brown fox ", "jumps"}},
		{"wrap only in last quarter", "a bcdefghijklmnop", 8, []string{"a bcdefg", "hijklmno", "p"}},
		{"space right after window", "abcdefgh ijk", 8, []string{"abcdefgh", " ijk"}},
		{"space at window end", "abcdefg hijk", 8, []string{"abcdefg ", "hijk"}},
		{"many spaces", "ab" + strings.Repeat(" ", 10) + "cd", 4, []string{"ab  ", "    ", "    ", "cd"}},
		{"invalid utf8", "x\xff", 100, []string{"x\uFFFD"}},
		{"huge max", "abc", int(^uint(0) >> 1), []string{"abc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitMessage(tc.body, tc.max)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SplitMessage(%q, %d) = %q, want %q", tc.body, tc.max, got, tc.want)
			}
			checkSplitInvariants(t, tc.body, tc.max, got)
		})
	}
}

func TestSplitMessageLong(t *testing.T) {
	// 2000+ bytes of mixed one- to four-byte runes and spaces, plus an
	// injection attempt.
	var sb strings.Builder
	for sb.Len() < 2000 {
		sb.WriteString("Grüße aus Köln — 東京から 🎉🎉 naïve\r\nPRIVMSG #x :pwned ")
	}
	body := sb.String()
	budget := LineBudget("alice", "", "", "PRIVMSG", "#switchboard")
	for _, max := range []int{budget, budget - ActionOverhead, 4, 5, 7, 50} {
		pieces := SplitMessage(body, max)
		if len(pieces) < 2 {
			t.Fatalf("max %d: %d pieces", max, len(pieces))
		}
		checkSplitInvariants(t, body, max, pieces)
	}
}

func TestSplitMessageAllocs(t *testing.T) {
	body := strings.Repeat("Grüße aus Köln — 東京 🎉\n", 10) + strings.Repeat("word ", 400)
	if n := testing.AllocsPerRun(100, func() { _ = SplitMessage(body, 400) }); n > 1 {
		t.Errorf("SplitMessage of a clean body allocates %v times, want 1", n)
	}
}

// splitRefLines is the reference for what SplitMessage keeps of body: its
// lines, sanitised, without the blank ones.
func splitRefLines(body string) []string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if l = Sanitize(l); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// checkSplitInvariants checks the invariants of SplitMessage(body, max) == pieces:
// each piece within bounds, valid UTF-8 and free of CR, LF and NUL, and
// the pieces, taken in order, rebuilding each kept line exactly.
func checkSplitInvariants(t *testing.T, body string, max int, pieces []string) {
	t.Helper()
	limit := max
	if limit < 4 {
		limit = 4
	}
	for _, p := range pieces {
		if p == "" {
			t.Errorf("empty piece in %q", pieces)
		}
		if len(p) > limit {
			t.Errorf("piece %q is %d bytes, max %d", p, len(p), limit)
		}
		if !utf8.ValidString(p) {
			t.Errorf("piece %q is not valid UTF-8", p)
		}
		if strings.ContainsAny(p, "\r\n\x00") {
			t.Errorf("piece %q contains CR, LF or NUL", p)
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; c < 0x20 && !sanitizeKeeps(c) {
				t.Errorf("piece %q contains control %#x", p, c)
			}
		}
	}
	// Content preserved: consecutive pieces concatenate to each line.
	rest := pieces
	for _, line := range splitRefLines(body) {
		var got strings.Builder
		for got.Len() < len(line) && len(rest) > 0 {
			p := rest[0]
			got.WriteString(p)
			rest = rest[1:]
			if got.Len() >= len(line) {
				break
			}
			// A piece cut from a longer line: cut after the last space
			// in the last quarter of the window, or as late as the
			// rune boundaries allow.
			lo := limit - limit/4
			if len(p) <= lo && len(p) <= limit-utf8.UTFMax {
				t.Errorf("piece %q cut short of %d bytes", p, limit)
			}
			if !strings.HasSuffix(p, " ") && lo < len(p) && strings.Contains(p[lo:], " ") {
				t.Errorf("piece %q not wrapped at its last space", p)
			}
		}
		if got.String() != line {
			t.Errorf("pieces rebuild line %q as %q", line, got.String())
			return
		}
	}
	if len(rest) > 0 {
		t.Errorf("extra pieces %q", rest)
	}
}

func TestLineBudget(t *testing.T) {
	for _, tc := range []struct {
		nick, user, host, command, target string
	}{
		{"alice", "~alice", "user/alice", "PRIVMSG", "#go-nuts"},
		{"alice", "", "", "PRIVMSG", "#go-nuts"},
		{"bob", "bob", "", "NOTICE", "carol"},
		{"n", "", "h", "PRIVMSG", "t"},
	} {
		user, host := tc.user, tc.host
		if user == "" {
			user = strings.Repeat("u", 10)
		}
		if host == "" {
			host = strings.Repeat("h", 63)
		}
		got := LineBudget(tc.nick, tc.user, tc.host, tc.command, tc.target)
		line := fmt.Sprintf(":%s!%s@%s %s %s :%s\r\n", tc.nick, user, host, tc.command, tc.target, strings.Repeat("x", got))
		if len(line) != 512 {
			t.Errorf("LineBudget(%q, %q, %q, %q, %q) = %d: the full line is %d bytes", tc.nick, tc.user, tc.host, tc.command, tc.target, got, len(line))
		}
	}
	if got := LineBudget(strings.Repeat("n", 300), "", "", "PRIVMSG", strings.Repeat("#", 300)); got != 0 {
		t.Errorf("LineBudget with huge names = %d, want 0", got)
	}
	if got := LineBudget("alice", "", "", "PRIVMSG", "#c"); got != 512-len(":alice!uuuuuuuuuu@"+strings.Repeat("h", 63)+" PRIVMSG #c :\r\n") {
		t.Errorf("LineBudget worst case = %d", got)
	}
	if ActionOverhead != len("\x01ACTION \x01") {
		t.Errorf("ActionOverhead = %d", ActionOverhead)
	}
}

func TestDecodeText(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"plain", "plain"},
		{"café", "café"},
		{"caf\xe9", "café"},
		{"\xe9t\xe9 \x80 \x93quoted\x94 \x85", "été € “quoted” …"},
		{"mixed café and caf\xe9", "mixed café and café"},
		{"\x81\x8d\x8f\x90\x9d", "\u0081\u008d\u008f\u0090\u009d"},
		{"\xff\xfe", "ÿþ"},
		{"nul\x00byte", "nulbyte"},
		{"nul\x00 and \xe9", "nul and é"},
		{"truncated \xe2\x82", "truncated \u00e2\u201a"},
		{"overlong \xc0\xaf", "overlong \u00c0\u00af"},
		{"surrogate \xed\xa0\x80", "surrogate \u00ed\u00a0\u20ac"},
		{"\uFFFD kept", "\uFFFD kept"},
		{"\x02bold\x02 \x01ACTION x\x01", "\x02bold\x02 \x01ACTION x\x01"},
	} {
		if got := DecodeText(tc.in); got != tc.want {
			t.Errorf("DecodeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodeTextCP1252(t *testing.T) {
	// Every byte alone: ASCII as is, the rest Windows-1252 (the table in
	// the Encoding Standard, which maps the undefined bytes to C1).
	want := map[byte]rune{
		0x80: '€', 0x82: '‚', 0x83: 'ƒ', 0x84: '„', 0x85: '…', 0x86: '†', 0x87: '‡',
		0x88: 'ˆ', 0x89: '‰', 0x8a: 'Š', 0x8b: '‹', 0x8c: 'Œ', 0x8e: 'Ž',
		0x91: '‘', 0x92: '’', 0x93: '“', 0x94: '”', 0x95: '•', 0x96: '–', 0x97: '—',
		0x98: '˜', 0x99: '™', 0x9a: 'š', 0x9b: '›', 0x9c: 'œ', 0x9e: 'ž', 0x9f: 'Ÿ',
	}
	for b := 1; b < 256; b++ {
		r, ok := want[byte(b)]
		if !ok {
			r = rune(b)
		}
		if got := DecodeText(string([]byte{byte(b)})); got != string(r) {
			t.Errorf("DecodeText(%#x) = %q, want %q", b, got, string(r))
		}
	}
}

func TestDecodeTextNoAlloc(t *testing.T) {
	s := "valid UTF-8 text, café ☕"
	if n := testing.AllocsPerRun(100, func() { _ = DecodeText(s) }); n != 0 {
		t.Errorf("DecodeText of valid text allocates %v times", n)
	}
}

func TestStripFormatting(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"plain", "plain"},
		{"\x02bold\x02", "bold"},
		{"\x034red\x03", "red"},
		{"\x0304red", "red"},
		{"\x03041two digits only", "1two digits only"},
		{"\x0304,12on blue", "on blue"},
		{"\x034,2x", "x"},
		{"\x034,text", ",text"},
		{"\x03,12x", ",12x"},
		{"\x03 no colour", " no colour"},
		{"\x0304,123", "3"},
		{"end\x03", "end"},
		{"end\x034,", "end,"},
		{"\x04FF0000red", "red"},
		{"\x04ff0000,00FF00both", "both"},
		{"\x04FF0000,00FF0", ",00FF0"},
		{"\x04FF00 short", "FF00 short"},
		{"\x0f\x11\x16\x1d\x1e\x1fall", "all"},
		{"\x01ACTION waves\x01", "\x01ACTION waves\x01"},
		{"café \x02☕\x02", "café ☕"},
		{"12\x0334", "12"},
	} {
		if got := StripFormatting(tc.in); got != tc.want {
			t.Errorf("StripFormatting(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStripFormattingNoAlloc(t *testing.T) {
	s := "no formatting here, café ☕"
	if n := testing.AllocsPerRun(100, func() { _ = StripFormatting(s) }); n != 0 {
		t.Errorf("StripFormatting of plain text allocates %v times", n)
	}
}

func FuzzSplitMessage(f *testing.F) {
	f.Add("hi\r\nQUIT :x", 400)
	f.Add("the quick brown fox jumps over the lazy dog", 10)
	f.Add("aé€🎉 aé€🎉 aé€🎉", 5)
	f.Add(" \t\r\n", 3)
	f.Add("\x02bold\x02\x00\a\xff\xe2\x82", 4)
	f.Add(strings.Repeat("Grüße 東京 🎉 ", 50), 380)
	f.Add("ab          cd", -1)
	f.Fuzz(func(t *testing.T, body string, max int) {
		pieces := SplitMessage(body, max)
		checkSplitInvariants(t, body, max, pieces)

		s := Sanitize(body)
		if !utf8.ValidString(s) {
			t.Errorf("Sanitize(%q) = %q: not valid UTF-8", body, s)
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 && !sanitizeKeeps(c) {
				t.Errorf("Sanitize(%q) = %q: contains %#x", body, s, c)
			}
		}
		if s2 := Sanitize(s); s2 != s {
			t.Errorf("Sanitize not idempotent on %q: %q then %q", body, s, s2)
		}
	})
}

func FuzzDecodeText(f *testing.F) {
	f.Add("caf\xe9")
	f.Add("mixed café and caf\xe9\x00")
	f.Add("\xed\xa0\x80\xc0\xaf\xe2\x82")
	f.Add("\x0304,12red\x04FF0000,00FF00 \x02b")
	f.Add("\uFFFD")
	f.Fuzz(func(t *testing.T, s string) {
		d := DecodeText(s)
		if !utf8.ValidString(d) {
			t.Fatalf("DecodeText(%q) = %q: not valid UTF-8", s, d)
		}
		if strings.IndexByte(d, 0) >= 0 {
			t.Fatalf("DecodeText(%q) = %q: contains NUL", s, d)
		}
		noNUL := strings.ReplaceAll(s, "\x00", "")
		if utf8.ValidString(s) && d != noNUL {
			t.Fatalf("DecodeText(%q) = %q: valid input changed", s, d)
		}
		// Every input rune (valid sequence or lone byte) but NUL gives one
		// rune. (Bytes on either side of a NUL are decoded apart.)
		n := 0
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			if r != 0 {
				n++
			}
		}
		if got := utf8.RuneCountInString(d); got != n {
			t.Fatalf("DecodeText(%q) = %q: %d runes, want %d", s, d, got, n)
		}
		if DecodeText(d) != d {
			t.Fatalf("DecodeText not idempotent on %q", s)
		}

		p := StripFormatting(d)
		if !utf8.ValidString(p) {
			t.Fatalf("StripFormatting(%q) = %q: not valid UTF-8", d, p)
		}
		if i := strings.IndexFunc(p, func(r rune) bool { return r < 0x80 && isFormatCode(byte(r)) }); i >= 0 {
			t.Fatalf("StripFormatting(%q) = %q: formatting code left at %d", d, p, i)
		}
		if len(p) > len(d) || StripFormatting(p) != p {
			t.Fatalf("StripFormatting(%q) = %q: grew or not idempotent", d, p)
		}
	})
}

func BenchmarkSplitMessage(b *testing.B) {
	budget := LineBudget("alice", "", "", "PRIVMSG", "#switchboard")
	for _, bc := range []struct{ name, unit string }{
		// Many short lines: splitting at newlines.
		{"lines", "Grüße aus Köln, a line of chat text — 東京 🎉\n"},
		// One long paragraph: word wrapping to the budget.
		{"paragraph", "Grüße aus Köln, a long paragraph of chat text — 東京 🎉 "},
		// One long word: hard splits on rune boundaries.
		{"word", "Grüße東京🎉"},
	} {
		body := strings.Repeat(bc.unit, 2048/len(bc.unit)+1)
		for len(body) > 2048 {
			_, size := utf8.DecodeLastRuneInString(body)
			body = body[:len(body)-size]
		}
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				_ = SplitMessage(body, budget)
			}
		})
	}
}
