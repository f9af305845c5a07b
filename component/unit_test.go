package component

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/transports"
)

func TestEscapeLocal(t *testing.T) {
	tests := []struct{ legacy, local string }{
		{"alice@example.com", `alice\40example.com`},
		{"#chan%irc.libera.chat", "#chan%irc.libera.chat"},
		{"space cadet", `space\20cadet`},
		{`call\me`, `call\me`},       // a lone backslash stays
		{`c:\5cool`, `c\3a\5c5cool`}, // a backslash that looks like an escape is escaped
		{`he said "hi" & <left>`, `he\20said\20\22hi\22\20\26\20\3cleft\3e`},
		{"d'artagnan/x", `d\27artagnan\2fx`},
		{"+15551234567", "+15551234567"},
	}
	for _, tt := range tests {
		if got := escapeLocal(tt.legacy); got != tt.local {
			t.Errorf("escapeLocal(%q) = %q, want %q", tt.legacy, got, tt.local)
		}
		if got := unescapeLocal(tt.local); got != tt.legacy {
			t.Errorf("unescapeLocal(%q) = %q, want %q", tt.local, got, tt.legacy)
		}
	}
}

func FuzzEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"alice@example.com", `a\40b`, `\5c`, "x y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := unescapeLocal(escapeLocal(s)); got != s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
		esc := escapeLocal(s)
		for c := range escapes {
			if c != '\\' && strings.IndexByte(esc, c) >= 0 {
				t.Fatalf("escapeLocal(%q) = %q still contains %q", s, esc, c)
			}
		}
	})
}

func TestCheckValues(t *testing.T) {
	fields := []transports.Field{
		{Name: "nick", Label: "Nickname", Required: true, MaxLen: 10},
		{Name: "password", Label: "Password", Kind: transports.FieldSecret},
		{Name: "tls", Label: "TLS", Kind: transports.FieldBool, Default: "true"},
		{Name: "mode", Label: "Mode", Kind: transports.FieldList, Options: []transports.Option{{Value: "a"}, {Value: "b"}}},
	}
	tests := []struct {
		name    string
		in      map[string]string
		want    map[string]string
		errCond string
		errText string
	}{
		{name: "ok", in: map[string]string{"nick": " bob ", "password": " p w ", "tls": "0", "mode": "b", "FORM_TYPE": "x"},
			want: map[string]string{"nick": "bob", "password": " p w ", "tls": "false", "mode": "b"}},
		{name: "defaults", in: map[string]string{"nick": "bob"}, want: map[string]string{"nick": "bob", "tls": "true"}},
		{name: "missing required", in: map[string]string{"password": "x"}, errCond: "not-acceptable", errText: "Nickname"},
		{name: "too long", in: map[string]string{"nick": "abcdefghijk"}, errCond: "not-acceptable", errText: "longer than 10"},
		{name: "newline", in: map[string]string{"nick": "a\r\nQUIT"}, errCond: "not-acceptable", errText: "single line"},
		{name: "nul in secret", in: map[string]string{"nick": "a", "password": "x\x00y"}, errCond: "not-acceptable"},
		{name: "bad utf8", in: map[string]string{"nick": "a\xff"}, errCond: "bad-request"},
		{name: "bad bool", in: map[string]string{"nick": "a", "tls": "maybe"}, errCond: "not-acceptable"},
		{name: "bad choice", in: map[string]string{"nick": "a", "mode": "c"}, errCond: "not-acceptable"},
		{name: "oversize default max", in: map[string]string{"nick": "a", "password": strings.Repeat("x", transports.DefaultMaxLen+1)}, errCond: "not-acceptable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkValues(fields, tt.in)
			if tt.errCond != "" {
				if err == nil || err.Condition != tt.errCond || !strings.Contains(err.Text, tt.errText) {
					t.Fatalf("err = %v, want %s containing %q", err, tt.errCond, tt.errText)
				}
				if strings.Contains(err.Text, "p w") {
					t.Error("error text echoes a value")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestBuildFormNeverPrefillsSecrets(t *testing.T) {
	fields := []transports.Field{
		{Name: "nick", Label: "Nickname"},
		{Name: "password", Label: "Password", Kind: transports.FieldSecret},
	}
	b, err := xml.Marshal(regform.Build("form", "t", "i", nsRegister, fields, map[string]string{"nick": "bob", "password": "hunter2"}))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "hunter2") {
		t.Errorf("form echoes the password: %s", s)
	}
	for _, want := range []string{`var="FORM_TYPE"`, `<value>jabber:iq:register</value>`, `type="text-private"`, `<value>bob</value>`} {
		if !strings.Contains(s, want) {
			t.Errorf("form lacks %s: %s", want, s)
		}
	}
}

// TestListingFitsAStanza: a page of a room listing stays within the
// default stanza limit whatever the rooms' topics, and names the rooms.
func TestListingFitsAStanza(t *testing.T) {
	c := &Component{domain: jid.MustParse("irc.example.org")}
	rooms := make([]transports.RoomInfo, 2*muc.ListPage)
	for i := range rooms {
		rooms[i] = transports.RoomInfo{ID: transports.ID(fmt.Sprintf("#room%d%%irc.example.net", i)), Members: i, Topic: strings.Repeat("ü", 400)}
	}
	for _, set := range []string{"", `<set xmlns="http://jabber.org/protocol/rsm"><max>100000</max></set>`} {
		var q *node
		if set != "" {
			n, err := parseXML(set)
			if err != nil {
				t.Fatal(err)
			}
			q = n
		}
		res, serr := muc.NewService(mucCore{c}).PageRooms(rooms, q)
		if serr != nil {
			t.Fatal(serr)
		}
		if len(res.Items) != muc.ListPage {
			t.Errorf("set %q: %d items, want a page of %d", set, len(res.Items), muc.ListPage)
		}
		b, err := xml.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > fitTarget(defaultMaxStanzaBytes) {
			t.Errorf("set %q: a page is %d bytes, over %d", set, len(b), fitTarget(defaultMaxStanzaBytes))
		}
		if !strings.HasPrefix(res.Items[0].Name, "#room0%irc.example.net (0) üü") || !strings.HasSuffix(res.Items[0].Name, "…") || !utf8.ValidString(res.Items[0].Name) {
			t.Errorf("first item named %q", res.Items[0].Name)
		}
	}
}
