package discovery

import (
	"slices"
	"testing"

	"mellium.im/xmpp/disco/info"

	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
)

// softwareInfo is the extended-information form of XEP-0115 §5.3's
// complex example, its fields out of order.
var softwareInfo = Form{FormType: "urn:xmpp:dataforms:softwareinfo", Fields: []Field{
	{Var: "software", Values: []string{"Psi"}},
	{Var: "os", Values: []string{"Mac"}},
	{Var: "ip_version", Type: "text-multi", Values: []string{"ipv6", "ipv4"}},
	{Var: "software_version", Values: []string{"0.11"}},
	{Var: "os_version", Values: []string{"10.5.1"}},
}}

// TestVerForms: extended-information forms enter the verification string
// as XEP-0115 §5.1 says: forms sorted by FORM_TYPE, then each form's
// fields by var, then each field's values.
func TestVerForms(t *testing.T) {
	psi := []info.Identity{
		{Category: "client", Type: "pc", Lang: "en", Name: "Psi 0.11"},
		{Category: "client", Type: "pc", Lang: "el", Name: "Ψ 0.11"},
	}
	psiFeatures := Features("http://jabber.org/protocol/muc", "http://jabber.org/protocol/disco#info",
		"http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/caps")
	gwID := []info.Identity{{Category: "conference", Type: "text", Name: "r"}}
	tests := []struct {
		name string
		info Info
		// want is the verification string where the XEP publishes it;
		// otherwise s, the string hashed.
		want, s string
	}{
		{name: "XEP-0115 §5.3 complex example",
			info: Info{Identities: psi, Features: psiFeatures, Forms: []Form{softwareInfo}},
			want: "q07IKJEyjvHSyhy//CH0CxmKi8w="},
		{name: "forms sorted by FORM_TYPE",
			info: Info{Identities: gwID, Features: Features("urn:f"), Forms: []Form{
				{FormType: "urn:z", Fields: []Field{{Var: "b", Values: []string{"2"}}, {Var: "a", Values: []string{"y", "x"}}}},
				{FormType: "urn:a", Fields: []Field{{Var: "v", Values: []string{"1"}}}},
			}},
			s: "conference/text//r<urn:f<urn:a<v<1<urn:z<a<x<y<b<2<"},
		{name: "a field without values",
			info: Info{Identities: gwID, Forms: []Form{{FormType: NSRoomInfo, Fields: []Field{{Var: "empty"}}}}},
			s:    "conference/text//r<" + NSRoomInfo + "<empty<"},
		{name: "a room's muc#roominfo",
			info: WithRoomInfo(Room("#a"), RoomFacts{Name: "#a", Subject: "hi", Occupants: 3, HasOccupants: true}),
			s: "conference/text//#a<" + NSInfo + "<http://jabber.org/protocol/muc<muc_open<muc_public<" +
				"muc_semianonymous<muc_unmoderated<muc_unsecured<" + NSRoomInfo + "<" +
				"muc#roomconfig_roomname<#a<muc#roominfo_occupants<3<muc#roominfo_subject<hi<"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = hashS(tt.s)
			}
			forms := slices.Clone(tt.info.Forms)
			var fields [][]Field
			for _, f := range forms {
				fields = append(fields, slices.Clone(f.Fields))
			}
			if got := tt.info.Ver(); got != want {
				t.Errorf("Ver() = %q, want %q (S = %q)", got, want, tt.info.verInput())
			}
			for k, f := range tt.info.Forms {
				if f.FormType != forms[k].FormType || !slices.EqualFunc(f.Fields, fields[k], func(a, b Field) bool {
					return a.Var == b.Var && slices.Equal(a.Values, b.Values)
				}) {
					t.Errorf("Ver() reordered form %d: %v, was %v", k, f, forms[k])
				}
			}
		})
	}
}

// TestInfoXMLForms: the forms follow the features, each an XEP-0004
// result form in jabber:x:data whose first field is the hidden
// FORM_TYPE, then the fields with their values in order.
func TestInfoXMLForms(t *testing.T) {
	in := Info{Identities: []info.Identity{{Category: "client", Type: "pc"}}, Features: Features(NSInfo), Forms: []Form{softwareInfo}}
	q := xmltreetest.Marshal(t, in)
	if len(q.Children) != 3 || !q.Children[2].Is(NSData, "x") {
		t.Fatalf("answer %s, want identity, feature, form", q)
	}
	x := q.Children[2]
	if x.Attr("type") != "result" {
		t.Errorf("form type %q, want result", x.Attr("type"))
	}
	fields := x.ChildrenNamed(NSData, "field")
	if len(fields) != len(x.Children) || len(fields) != 6 {
		t.Fatalf("form %s: want 6 fields and nothing else", x)
	}
	if ft := fields[0]; ft.Attr("var") != "FORM_TYPE" || ft.Attr("type") != "hidden" || ft.ChildText(NSData, "value") != softwareInfo.FormType {
		t.Errorf("first field %s, want the hidden FORM_TYPE %s", ft, softwareInfo.FormType)
	}
	for k, f := range softwareInfo.Fields {
		el := fields[k+1]
		var vals []string
		for _, v := range el.ChildrenNamed(NSData, "value") {
			vals = append(vals, v.Text)
		}
		if el.Attr("var") != f.Var || el.Attr("type") != f.Type || !slices.Equal(vals, f.Values) {
			t.Errorf("field %d: %s, want %+v", k+1, el, f)
		}
	}
}

// TestRoomInfo: a room's muc#roominfo has the fields the gateway knows,
// and only those; knowing nothing, the room has no form.
func TestRoomInfo(t *testing.T) {
	tests := []struct {
		name  string
		facts RoomFacts
		want  []string // var=value, in order
	}{
		{"nothing known", RoomFacts{}, nil},
		{"name only (a listing without topic)", RoomFacts{Name: "general"}, []string{RoomInfoName + "=general"}},
		{"listed with a topic", RoomFacts{Name: "#go", Subject: "Go talk"}, []string{RoomInfoName + "=#go", RoomInfoSubject + "=Go talk"}},
		{"joined", RoomFacts{Name: "#go", Subject: "Go talk", Occupants: 12, HasOccupants: true},
			[]string{RoomInfoName + "=#go", RoomInfoSubject + "=Go talk", RoomInfoOccupants + "=12"}},
		{"joined, no topic", RoomFacts{Name: "#go", Occupants: 1, HasOccupants: true},
			[]string{RoomInfoName + "=#go", RoomInfoOccupants + "=1"}},
		{"a description", RoomFacts{Name: "d", Description: "about d"},
			[]string{RoomInfoName + "=d", RoomInfoDescription + "=about d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := WithRoomInfo(Room("r"), tt.facts)
			q := xmltreetest.Marshal(t, d)
			xs := q.ChildrenNamed(NSData, "x")
			if tt.want == nil {
				if len(xs) != 0 || len(d.Forms) != 0 {
					t.Errorf("a form for a room the gateway knows nothing of: %s", q)
				}
				return
			}
			if len(xs) != 1 {
				t.Fatalf("%d forms, want 1: %s", len(xs), q)
			}
			fields := xs[0].ChildrenNamed(NSData, "field")
			if fields[0].Attr("var") != "FORM_TYPE" || fields[0].ChildText(NSData, "value") != NSRoomInfo {
				t.Errorf("FORM_TYPE %s, want %s first", fields[0], NSRoomInfo)
			}
			var got []string
			for _, f := range fields[1:] {
				got = append(got, f.Attr("var")+"="+f.ChildText(NSData, "value"))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields %q, want %q", got, tt.want)
			}
		})
	}
}
