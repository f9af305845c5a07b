package irc

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

func TestParseID(t *testing.T) {
	const def = "irc.libera.chat"
	for _, tc := range []struct {
		id   transports.ID
		def  string
		want Target
		kind transports.IDKind
		// short is t.ID(def) when it differs from id.
		short transports.ID
	}{
		{id: "#go-nuts%irc.libera.chat", def: def, want: Target{Server: "irc.libera.chat", Channel: "#go-nuts"}, kind: transports.KindRoom, short: "#go-nuts"},
		{id: "#go-nuts%irc.libera.chat", want: Target{Server: "irc.libera.chat", Channel: "#go-nuts"}, kind: transports.KindRoom},
		{id: "#Go-Nuts%IRC.Libera.Chat", want: Target{Server: "irc.libera.chat", Channel: "#Go-Nuts"}, kind: transports.KindRoom, short: "#Go-Nuts%irc.libera.chat"},
		{id: "#go-nuts", def: def, want: Target{Server: "irc.libera.chat", Channel: "#go-nuts"}, kind: transports.KindRoom},
		{id: "#go-nuts", def: "IRC.Libera.Chat", want: Target{Server: "irc.libera.chat", Channel: "#go-nuts"}, kind: transports.KindRoom},
		{id: "#go-nuts%irc.oftc.net", def: def, want: Target{Server: "irc.oftc.net", Channel: "#go-nuts"}, kind: transports.KindRoom},
		{id: "&local%irc.example.net", want: Target{Server: "irc.example.net", Channel: "&local"}, kind: transports.KindRoom},
		{id: "+modeless", def: def, want: Target{Server: def, Channel: "+modeless"}, kind: transports.KindRoom},
		{id: "!ABCDEsafe", def: def, want: Target{Server: def, Channel: "!ABCDEsafe"}, kind: transports.KindRoom},
		{id: "#a.b.c", def: def, want: Target{Server: def, Channel: "#a.b.c"}, kind: transports.KindRoom},
		{id: "#50%off%irc.example.net", def: "irc.example.net", want: Target{Server: "irc.example.net", Channel: "#50%off"}, kind: transports.KindRoom},
		{id: "#ünïcödé:colon%irc.example.net", want: Target{Server: "irc.example.net", Channel: "#ünïcödé:colon"}, kind: transports.KindRoom},
		{id: "##", def: def, want: Target{Server: def, Channel: "##"}, kind: transports.KindRoom},
		{id: transports.ID("#" + strings.Repeat("x", 199)), def: def, want: Target{Server: def, Channel: "#" + strings.Repeat("x", 199)}, kind: transports.KindRoom},
		{id: "alice%irc.libera.chat", def: def, want: Target{Server: def, Nick: "alice"}, kind: transports.KindContact, short: "alice"},
		{id: "alice", def: def, want: Target{Server: def, Nick: "alice"}, kind: transports.KindContact},
		{id: "[Bot]`_^{|}\\-9", def: def, want: Target{Server: def, Nick: "[Bot]`_^{|}\\-9"}, kind: transports.KindContact},
		{id: "localhost", def: def, want: Target{Server: def, Nick: "localhost"}, kind: transports.KindContact},
		{id: transports.ID(strings.Repeat("n", 64)), def: def, want: Target{Server: def, Nick: strings.Repeat("n", 64)}, kind: transports.KindContact},
		{id: "bob%localhost", want: Target{Server: "localhost", Nick: "bob"}, kind: transports.KindContact},
		{id: "bob%127.0.0.1", def: "127.0.0.1", want: Target{Server: "127.0.0.1", Nick: "bob"}, kind: transports.KindContact, short: "bob"},
		{id: "irc.libera.chat", want: Target{Server: "irc.libera.chat"}, kind: transports.KindServer},
		{id: "irc.libera.chat", def: def, want: Target{Server: "irc.libera.chat"}, kind: transports.KindServer},
		{id: "IRC.OFTC.NET", def: def, want: Target{Server: "irc.oftc.net"}, kind: transports.KindServer, short: "irc.oftc.net"},
		{id: "%irc.oftc.net", want: Target{Server: "irc.oftc.net"}, kind: transports.KindServer, short: "irc.oftc.net"},
		{id: "%localhost", def: "localhost", want: Target{Server: "localhost"}, kind: transports.KindServer},
		{id: "10.0.0.1", want: Target{Server: "10.0.0.1"}, kind: transports.KindServer},
		{id: "xn--bcher-kva.example", want: Target{Server: "xn--bcher-kva.example"}, kind: transports.KindServer},
	} {
		got, err := ParseID(tc.id, tc.def)
		if err != nil {
			t.Errorf("ParseID(%q, %q): %v", tc.id, tc.def, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseID(%q, %q) = %+v, want %+v", tc.id, tc.def, got, tc.want)
		}
		if k := got.Kind(); k != tc.kind {
			t.Errorf("ParseID(%q, %q).Kind() = %v, want %v", tc.id, tc.def, k, tc.kind)
		}
		want := tc.short
		if want == "" {
			want = tc.id
		}
		if id := got.ID(tc.def); id != want {
			t.Errorf("ParseID(%q, %q).ID() = %q, want %q", tc.id, tc.def, id, want)
		}
		checkIDRoundTrip(t, got, tc.def)
		checkIDRoundTrip(t, got, "")
		checkIDRoundTrip(t, got, "other.example")
	}
}

func TestParseIDErrors(t *testing.T) {
	const def = "irc.libera.chat"
	for _, tc := range []struct {
		id  transports.ID
		def string
		// text is part of the error message.
		text string
	}{
		{"", def, "empty address"},
		{"", "", "empty address"},
		{"%", def, "no IRC server after %"},
		{"#chan%", def, "no IRC server after %"},
		{"#chan", "", "no IRC server given: use #chan%irc.example.net"},
		{"alice", "", "no IRC server given: use nick%irc.example.net"},
		{"alice", "bad server!", "default IRC server"},
		{"#", def, "not a channel name"},
		{"#%irc.example.net", "", "not a channel name"},
		{"#a b", def, "contains"},
		{"#a,b", def, "contains"},
		{"#a\ab", def, "contains"},
		{"#a\x00b", def, "contains"},
		{"#a\rb", def, "contains"},
		{"#a\nb", def, "contains"},
		{"#a\xffb", def, "not valid UTF-8"},
		{transports.ID("#" + strings.Repeat("x", 200)), def, "longer than 200"},
		{transports.ID(strings.Repeat("n", 65)), def, "longer than 64"},
		{"9lives", def, "must not start with"},
		{"-dash", def, "must not start with"},
		{"a@b", def, "must not contain"},
		{"a!b", def, "must not contain"},
		{"a b", def, "must not contain"},
		{"a/b", def, "must not contain"},
		{"ünï", def, "must not contain"},
		{"a%b%irc.example.net", "", "must not contain"},
		{"a.b%irc.example.net", "", "must not contain"},
		{"alice%irc..net", "", "empty label"},
		{"alice%.irc.net", "", "empty label"},
		{"irc.net.", def, "empty label"},
		{"alice%irc.example.net:6697", "", "port"},
		{"alice%-irc.net", "", "'-'"},
		{"alice%irc_x.net", "", "must not contain"},
		{"alice%ïrc.net", "", "must not contain"},
		{"alice%[::1]", "", "must not contain"},
		{"1.2.3", "", "not an IPv4 address"},
		{"alice%300.1.1.1", "", "not an IPv4 address"},
		{"alice%1234", "", "not an IPv4 address"},
		{transports.ID("alice%" + strings.Repeat("a", 64) + ".net"), "", "longer than 63"},
		{transports.ID("alice%" + strings.Repeat("abcdefg.", 32) + "net"), "", "longer than 253"},
	} {
		got, err := ParseID(tc.id, tc.def)
		if err == nil {
			t.Errorf("ParseID(%q, %q) = %+v, want an error", tc.id, tc.def, got)
			continue
		}
		if !errors.Is(err, transports.ErrInvalidInput) {
			t.Errorf("ParseID(%q, %q) error %v does not wrap ErrInvalidInput", tc.id, tc.def, err)
		}
		if !strings.Contains(err.Error(), tc.text) {
			t.Errorf("ParseID(%q, %q) error %q, want it to contain %q", tc.id, tc.def, err, tc.text)
		}
	}
}

func TestTargetID(t *testing.T) {
	for _, tc := range []struct {
		t    Target
		def  string
		want transports.ID
	}{
		{Target{Server: "irc.libera.chat", Channel: "#go"}, "irc.libera.chat", "#go"},
		{Target{Server: "irc.libera.chat", Channel: "#go"}, "IRC.Libera.Chat", "#go"},
		{Target{Server: "irc.libera.chat", Channel: "#go"}, "", "#go%irc.libera.chat"},
		{Target{Server: "irc.libera.chat", Channel: "#go"}, "irc.oftc.net", "#go%irc.libera.chat"},
		{Target{Server: "irc.libera.chat", Channel: "#50%off"}, "irc.libera.chat", "#50%off%irc.libera.chat"},
		{Target{Server: "irc.libera.chat", Nick: "alice"}, "irc.libera.chat", "alice"},
		{Target{Server: "irc.libera.chat", Nick: "alice"}, "", "alice%irc.libera.chat"},
		{Target{Server: "irc.libera.chat"}, "irc.libera.chat", "irc.libera.chat"},
		{Target{Server: "irc.libera.chat"}, "", "irc.libera.chat"},
		{Target{Server: "localhost"}, "localhost", "%localhost"},
		{Target{Server: "irc.libera.chat", Channel: "#go", Nick: "alice"}, "", "#go%irc.libera.chat"},
	} {
		if got := tc.t.ID(tc.def); got != tc.want {
			t.Errorf("%+v.ID(%q) = %q, want %q", tc.t, tc.def, got, tc.want)
		}
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		t    Target
		want transports.IDKind
	}{
		{Target{Server: "s.net", Channel: "#c"}, transports.KindRoom},
		{Target{Server: "s.net", Nick: "n"}, transports.KindContact},
		{Target{Server: "s.net"}, transports.KindServer},
	} {
		if got := tc.t.Kind(); got != tc.want {
			t.Errorf("%+v.Kind() = %v, want %v", tc.t, got, tc.want)
		}
	}
}

func TestFoldName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"alice", "alice"},
		{"Alice", "alice"},
		{"#Go-Nuts", "#go-nuts"},
		{"[Foo]\\Bar~", "{foo}|bar^"},
		{"{foo}|bar^", "{foo}|bar^"},
		{"ÄÖÜ", "ÄÖÜ"},
		{"MiXeD123_", "mixed123_"},
	} {
		if got := FoldName(tc.in); got != tc.want {
			t.Errorf("FoldName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"Alice", "aLICE", true},
		{"[foo]", "{FOO}", true},
		{"a\\b~", "A|B^", true},
		{"alice", "alice_", false},
		{"alice", "bob", false},
		{"Ä", "ä", false},
	} {
		if got := EqualFold(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = FoldName("already{folded}") }); n != 0 {
		t.Errorf("FoldName of folded name allocates %v times", n)
	}
}

// checkIDRoundTrip checks that t, a Target ParseID returned, survives
// ParseID(t.ID(def), def) unchanged, and that t is well formed.
func checkIDRoundTrip(t *testing.T, tg Target, def string) {
	t.Helper()
	if tg.Channel != "" && tg.Nick != "" {
		t.Errorf("%+v has both a channel and a nick", tg)
	}
	if tg.Server == "" || tg.Server != strings.ToLower(tg.Server) {
		t.Errorf("%+v: server empty or not lower case", tg)
	}
	id := tg.ID(def)
	back, err := ParseID(id, def)
	if err != nil {
		t.Errorf("%+v.ID(%q) = %q, which does not parse: %v", tg, def, id, err)
		return
	}
	if back != tg {
		t.Errorf("%+v.ID(%q) = %q, which parses as %+v", tg, def, id, back)
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"#go-nuts%irc.libera.chat", "#go-nuts", "alice", "alice%irc.oftc.net",
		"irc.libera.chat", "%localhost", "#50%off%irc.example.net", "a%b%c",
		"1.2.3.4", "bob%300.1.1.1", "#a b", "[x]`_^{|}-", "%", "", "x%irc.net:6697",
	} {
		f.Add(s, "irc.libera.chat")
		f.Add(s, "")
	}
	f.Add("#chan", "Localhost")
	f.Add("nick%k", "\u212a")
	f.Fuzz(func(t *testing.T, id, def string) {
		tg, err := ParseID(transports.ID(id), def)
		if err != nil {
			if !errors.Is(err, transports.ErrInvalidInput) {
				t.Fatalf("ParseID(%q, %q): error %v does not wrap ErrInvalidInput", id, def, err)
			}
			return
		}
		checkIDRoundTrip(t, tg, def)
		checkIDRoundTrip(t, tg, "")
		// The parts are valid on their own.
		if _, err := parseIDServer(tg.Server); err != nil {
			t.Errorf("ParseID(%q, %q) = %+v: bad server: %v", id, def, tg, err)
		}
		if tg.Channel != "" && checkIDChannel(tg.Channel) != nil || tg.Nick != "" && checkIDNick(tg.Nick) != nil {
			t.Errorf("ParseID(%q, %q) = %+v: bad name", id, def, tg)
		}
		for _, name := range []string{tg.Channel, tg.Nick} {
			if strings.ContainsAny(name, " ,\a\x00\r\n") {
				t.Errorf("ParseID(%q, %q) = %+v: name unsafe for IRC", id, def, tg)
			}
		}
	})
}
