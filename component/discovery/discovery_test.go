package discovery

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
)

const nsRSMTest = "http://jabber.org/protocol/rsm"

// hashS is the XEP-0115 §5.1 step 7-8: SHA-1 of S, base64.
func hashS(s string) string {
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestVer: the verification string follows XEP-0115 §5.1, whatever order
// the identities and features are given in, and leaves that order alone.
func TestVer(t *testing.T) {
	tests := []struct {
		name string
		info Info
		// want is the verification string; the XEP's worked example
		// gives it, the other cases give S, the string hashed.
		want, s string
	}{
		{name: "XEP-0115 §5.2 simple example",
			info: Info{
				Identities: []info.Identity{{Category: "client", Type: "pc", Name: "Exodus 0.9.1"}},
				Features: Features("http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
					"http://jabber.org/protocol/muc", "http://jabber.org/protocol/caps"),
			},
			want: "QgayPKawpkPSDYmwT/WM94uAlu0="},
		{name: "identities sorted by category, then type",
			info: Info{
				Identities: []info.Identity{
					{Category: "gateway", Type: "irc", Name: "IRC"},
					{Category: "conference", Type: "text", Name: "IRC"},
					{Category: "conference", Type: "irc", Name: "IRC"},
				},
				Features: Features("urn:b", "urn:a"),
			},
			s: "conference/irc//IRC<conference/text//IRC<gateway/irc//IRC<urn:a<urn:b<"},
		{name: "identities sorted by xml:lang (XEP-0115 §5.3 identities)",
			info: Info{
				Identities: []info.Identity{
					{Category: "client", Type: "pc", Lang: "en", Name: "Psi 0.11"},
					{Category: "client", Type: "pc", Lang: "el", Name: "Ψ 0.11"},
				},
				Features: Features("http://jabber.org/protocol/muc", "http://jabber.org/protocol/disco#info",
					"http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/caps"),
			},
			s: "client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<" +
				"http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<"},
		{name: "no name, no features",
			info: Info{Identities: []info.Identity{{Category: "gateway", Type: "smtp"}}},
			s:    "gateway/smtp//<"},
		{name: "the node is not hashed",
			info: Info{Node: CapsNode + "#x", Identities: []info.Identity{{Category: "gateway", Type: "smtp"}}},
			s:    "gateway/smtp//<"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = hashS(tt.s)
			}
			ids, fs := slices.Clone(tt.info.Identities), slices.Clone(tt.info.Features)
			if got := tt.info.Ver(); got != want {
				t.Errorf("Ver() = %q, want %q", got, want)
			}
			if !slices.Equal(tt.info.Identities, ids) || !slices.Equal(tt.info.Features, fs) {
				t.Errorf("Ver() reordered the answer: %v %v, was %v %v", tt.info.Identities, tt.info.Features, ids, fs)
			}
		})
	}
}

// TestInfoXML: the answer is a disco#info query with the node asked, one
// identity and one feature element per entry, in the disco#info namespace.
func TestInfoXML(t *testing.T) {
	in := Info{
		Node: "http://jabber.org/protocol/commands",
		Identities: []info.Identity{
			{Category: "automation", Type: "command-list", Name: "Commands"},
			{Category: "gateway", Type: "irc", Lang: "en"},
		},
		Features: Features(NSInfo, NSItems),
	}
	for _, v := range []any{in, &in} {
		b, err := xml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), NSInfo); n != 2 { // the query's xmlns and one feature
			t.Errorf("%T: the namespace is written %d times: %s", v, n, b)
		}
		q := xmltreetest.Parse(t, string(b))
		if !q.Is(NSInfo, "query") || q.Attr("node") != in.Node {
			t.Fatalf("%T: answer %s, want a disco#info query on node %q", v, q, in.Node)
		}
		if !q.Children[0].Is(NSInfo, "identity") || !q.Children[1].Is(NSInfo, "identity") {
			t.Errorf("%T: identities do not come first: %s", v, q)
		}
		var ids []info.Identity
		for _, el := range q.ChildrenNamed(NSInfo, "identity") {
			ids = append(ids, info.Identity{Category: el.Attr("category"), Type: el.Attr("type"), Name: el.Attr("name"), Lang: el.Attr("lang")})
		}
		var fs []string
		for _, el := range q.ChildrenNamed(NSInfo, "feature") {
			fs = append(fs, el.Attr("var"))
		}
		if !slices.Equal(ids, in.Identities) || !slices.Equal(fs, []string{NSInfo, NSItems}) {
			t.Errorf("%T: identities %v, features %v in %s", v, ids, fs, q)
		}
		if n := len(q.Children); n != 4 {
			t.Errorf("%T: %d children, want 4: %s", v, n, q)
		}
	}
}

// TestItemsXML: items are disco#items elements with jid, node and name;
// the result set says where the page sits, and an empty page has only its
// count.
func TestItemsXML(t *testing.T) {
	gw := jid.MustParse("gw.example")
	tests := []struct {
		name  string
		items Items
		// want: jid|node|name per item; set: first index, first, last,
		// count ("" when there is no set).
		want []string
		set  string
	}{
		{"empty", Items{}, nil, ""},
		{"commands", Items{Node: "http://jabber.org/protocol/commands", Items: []items.Item{
			{JID: gw, Node: "settings", Name: "Settings"}, {JID: gw, Node: "reconnect", Name: "Reconnect"}}},
			[]string{"gw.example|settings|Settings", "gw.example|reconnect|Reconnect"}, ""},
		{"page", Items{Items: []items.Item{{JID: jid.MustParse("#a%irc.example@gw.example"), Name: "#a (3)"}},
			Set: &Set{First: &First{Index: 4, Key: "#a%irc.example@gw.example"}, Last: "#a%irc.example@gw.example", Count: 9}},
			[]string{"#a%irc.example@gw.example||#a (3)"}, "4 #a%irc.example@gw.example #a%irc.example@gw.example 9"},
		{"empty page", Items{Set: &Set{Count: 9}}, nil, "count 9 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := xmltreetest.Marshal(t, &tt.items)
			if !q.Is(NSItems, "query") || q.Attr("node") != tt.items.Node {
				t.Fatalf("answer %s, want a disco#items query on node %q", q, tt.items.Node)
			}
			var got []string
			for _, el := range q.ChildrenNamed(NSItems, "item") {
				got = append(got, el.Attr("jid")+"|"+el.Attr("node")+"|"+el.Attr("name"))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("items %q, want %q", got, tt.want)
			}
			set := q.Child(nsRSMTest, "set")
			var gotSet string
			switch {
			case set == nil:
			case set.Child("", "first") == nil && set.Child("", "last") == nil && len(set.Children) == 1:
				gotSet = "count " + set.ChildText("", "count") + " only"
			default:
				gotSet = set.Child("", "first").Attr("index") + " " + set.ChildText("", "first") + " " +
					set.ChildText("", "last") + " " + set.ChildText("", "count")
			}
			if gotSet != tt.set {
				t.Errorf("set %q, want %q: %s", gotSet, tt.set, q)
			}
			if n := len(q.Children) - len(got); n != 0 && (n != 1 || set == nil) {
				t.Errorf("unexpected children: %s", q)
			}
		})
	}
}

// TestItemsDeclareTheNamespaceOnce: a page of hundreds of rooms names the
// disco#items namespace once, on the query, not on every item.
func TestItemsDeclareTheNamespaceOnce(t *testing.T) {
	q := Items{Items: make([]items.Item, 300)}
	for i := range q.Items {
		q.Items[i] = items.Item{JID: jid.MustParse("#r@gw.example"), Name: "#r (1)"}
	}
	b, err := xml.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), NSItems); n != 1 {
		t.Errorf("the namespace is written %d times", n)
	}
	if got := len(xmltreetest.Marshal(t, q).ChildrenNamed(NSItems, "item")); got != 300 {
		t.Errorf("%d items read back, want 300", got)
	}
}
