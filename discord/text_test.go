package discord

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitMessage(t *testing.T) {
	a1999 := strings.Repeat("a", 1999)
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"empty", "", 10, []string{""}},
		{"fits", "hello", 5, []string{"hello"}},
		{"hard cut", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"at space", "hello world again", 12, []string{"hello world", "again"}},
		{"at newline before space", "one two\nthree four", 12, []string{"one two", "three four"}},
		{"separator too early", "a bcdefghijk", 6, []string{"a bcde", "fghijk"}},
		{"runes not bytes", "ééééé", 2, []string{"éé", "éé", "é"}},
		{"discord limit", a1999 + " b", 2000, []string{a1999, "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitMessage(tt.in, tt.max)
			if !slices.Equal(got, tt.want) {
				t.Errorf("splitMessage(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func FuzzSplitMessage(f *testing.F) {
	f.Add("hello world", 3)
	f.Add("a\nb c", 1)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 1 || max > 100 || !utf8.ValidString(s) {
			return
		}
		parts := splitMessage(s, max)
		kept := 0
		for _, p := range parts {
			if n := utf8.RuneCountInString(p); n > max {
				t.Fatalf("piece of %d runes > %d", n, max)
			}
			kept += len(p)
		}
		// at most one separator is dropped between two pieces
		if kept > len(s) || kept < len(s)-(len(parts)-1) {
			t.Fatalf("pieces keep %d of %d bytes in %d pieces", kept, len(s), len(parts))
		}
	})
}

func TestReadable(t *testing.T) {
	nm := names{
		user:    func(id string) string { return map[string]string{"11": "alice", "12": "Bob B"}[id] },
		role:    func(id string) string { return map[string]string{"21": "mods"}[id] },
		channel: func(id string) string { return map[string]string{"31": "general"}[id] },
	}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"hi <@11>", "hi @alice"},
		{"hi <@!12>!", "hi @Bob B!"},
		{"<@&21> see <#31>", "@mods see #general"},
		{"unknown <@99> <#98> <@&97>", "unknown <@99> <#98> <@&97>"},
		{"nice <:blobcat:123456> <a:party:77>", "nice :blobcat: :party:"},
		{"<@11x>", "<@11x>"},
	}
	for _, tt := range tests {
		if got := readable(tt.in, nm); got != tt.want {
			t.Errorf("readable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMarkup(t *testing.T) {
	nicks := map[string]string{"alice": "11", "alice (al)": "13", "Bob B": "12"}
	tests := []struct{ in, want string }{
		{"no mention", "no mention"},
		{"@alice hi", "<@11> hi"},
		{"hi @alice (al): yes", "hi <@13>: yes"},
		{"@Bob B.", "<@12>."},
		{"mail alice@alice", "mail alice@alice"},
		{"@alicex", "@alicex"},
		{"@carol", "@carol"},
		{"@", "@"},
	}
	for _, tt := range tests {
		if got := markup(tt.in, nicks); got != tt.want {
			t.Errorf("markup(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzReadable: whatever a peer writes, mentions resolve without panic,
// and text without markup is left as it is.
func FuzzReadable(f *testing.F) {
	for _, s := range []string{"hi <@1>", "<@&2><#3>", "<a:x:1>", "<@!>", "<<@1>>", "plain"} {
		f.Add(s)
	}
	nm := names{
		user:    func(id string) string { return "u" + id },
		role:    func(string) string { return "" },
		channel: func(id string) string { return "c" + id },
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := readable(s, nm)
		if !strings.Contains(s, "<") && got != s {
			t.Fatalf("readable(%q) = %q without markup", s, got)
		}
		if strings.Contains(got, "<@1") && !strings.Contains(s, "<@1") && !strings.Contains(s, "<@!1") {
			t.Fatalf("readable(%q) = %q made a mention", s, got)
		}
	})
}

// FuzzMarkup: a user's text becomes mentions only of the room's nicks.
func FuzzMarkup(f *testing.F) {
	f.Add("@alice hi")
	f.Add("@@alice")
	f.Fuzz(func(t *testing.T, s string) {
		got := markup(s, map[string]string{"alice": "11", "al": "12"})
		plain := strings.NewReplacer("<@11>", "@alice", "<@12>", "@al").Replace(got)
		if !strings.Contains(s, "<@") && plain != s {
			t.Fatalf("markup(%q) = %q changes more than mentions", s, got)
		}
	})
}
