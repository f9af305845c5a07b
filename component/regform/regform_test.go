package regform

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
	"github.com/switchboard-im/switchboard/transports"
)

// wireField is what a client sees of one <field/>.
type wireField struct {
	typ, label, desc string
	required         bool
	values           []string
	options          []string // "label=value"
}

func fieldsOf(t *testing.T, x *xmltree.Element) map[string]wireField {
	t.Helper()
	if !x.Is(NSData, "x") {
		t.Fatalf("form is %v, want {%s}x", x.Name, NSData)
	}
	out := make(map[string]wireField)
	for _, f := range x.ChildrenNamed(NSData, "field") {
		wf := wireField{typ: f.Attr("type"), label: f.Attr("label"), desc: f.ChildText(NSData, "desc"),
			required: f.Child(NSData, "required") != nil}
		for _, v := range f.ChildrenNamed(NSData, "value") {
			wf.values = append(wf.values, v.Text)
		}
		for _, o := range f.ChildrenNamed(NSData, "option") {
			wf.options = append(wf.options, o.Attr("label")+"="+o.ChildText(NSData, "value"))
		}
		out[f.Attr("var")] = wf
	}
	return out
}

func TestBuild(t *testing.T) {
	fields := []transports.Field{
		{Name: "nick", Label: "Nickname", Desc: "Your IRC nick", Required: true},
		{Name: "password", Label: "Password", Kind: transports.FieldSecret, Default: "dflt-secret"},
		{Name: "tls", Label: "TLS", Kind: transports.FieldBool, Default: "true"},
		{Name: "mode", Label: "Mode", Kind: transports.FieldList, Options: []transports.Option{{Label: "A", Value: "a"}, {Label: "B", Value: "b"}}},
		{Name: "realname", Label: "Real name", Default: "Anon"},
	}
	tests := []struct {
		name   string
		formNS string
		values map[string]string
		want   map[string]wireField
	}{
		{
			name:   "empty registration form",
			formNS: NSRegister,
			want: map[string]wireField{
				"FORM_TYPE": {typ: "hidden", values: []string{NSRegister}},
				"nick":      {typ: "text-single", label: "Nickname", desc: "Your IRC nick", required: true},
				"password":  {typ: "text-private", label: "Password"},
				"tls":       {typ: "boolean", label: "TLS", values: []string{"true"}},
				"mode":      {typ: "list-single", label: "Mode", options: []string{"A=a", "B=b"}},
				"realname":  {typ: "text-single", label: "Real name", values: []string{"Anon"}},
			},
		},
		{
			name:   "pre-filled, secret withheld, no FORM_TYPE",
			values: map[string]string{"nick": "bob", "password": "hunter2", "tls": "false", "mode": "b", "realname": ""},
			want: map[string]wireField{
				"nick":     {typ: "text-single", label: "Nickname", desc: "Your IRC nick", required: true, values: []string{"bob"}},
				"password": {typ: "text-private", label: "Password"},
				"tls":      {typ: "boolean", label: "TLS", values: []string{"false"}},
				"mode":     {typ: "list-single", label: "Mode", values: []string{"b"}, options: []string{"A=a", "B=b"}},
				"realname": {typ: "text-single", label: "Real name"}, // stored empty: not the default
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Build("form", "IRC registration", "Say who you are.", tt.formNS, fields, tt.values)
			x := xmltreetest.Marshal(t, f)
			if got := x.Attr("type"); got != "form" {
				t.Errorf("type = %q, want form", got)
			}
			if got := x.ChildText(NSData, "title"); got != "IRC registration" {
				t.Errorf("title = %q", got)
			}
			if got := x.ChildText(NSData, "instructions"); got != "Say who you are." {
				t.Errorf("instructions = %q", got)
			}
			if got := fieldsOf(t, x); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields:\n got %+v\nwant %+v", got, tt.want)
			}
			if s := x.String(); strings.Contains(s, "hunter2") || strings.Contains(s, "dflt-secret") {
				t.Errorf("form shows a secret: %s", s)
			}
			if f.Fields[0].Var != "FORM_TYPE" && tt.formNS != "" {
				t.Errorf("FORM_TYPE is not the first field: %+v", f.Fields)
			}
		})
	}
}

func TestBuildWithoutInstructions(t *testing.T) {
	x := xmltreetest.Marshal(t, Build("form", "Settings", "", "", nil, nil))
	if n := len(x.ChildrenNamed(NSData, "instructions")); n != 0 {
		t.Errorf("%d <instructions/>, want none: %s", n, x)
	}
}

func TestResult(t *testing.T) {
	x := xmltreetest.Marshal(t, Result("Statistics", [][2]string{{"users", "3"}, {"state", "connected"}}))
	if got := x.Attr("type"); got != "result" {
		t.Errorf("type = %q, want result", got)
	}
	want := map[string]wireField{
		"users": {typ: "text-single", label: "users", values: []string{"3"}},
		"state": {typ: "text-single", label: "state", values: []string{"connected"}},
	}
	if got := fieldsOf(t, x); !reflect.DeepEqual(got, want) {
		t.Errorf("fields:\n got %+v\nwant %+v", got, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want *Submitted
	}{
		{
			name: "no form",
			xml:  `<query xmlns="jabber:iq:register"><username>bob</username></query>`,
		},
		{
			name: "form in another namespace is not a form",
			xml:  `<query xmlns="jabber:iq:register"><x xmlns="jabber:x:oob"><field var="nick"><value>bob</value></field></x></query>`,
		},
		{
			name: "submit with a multi-valued field",
			xml: `<query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">` +
				`<field var="FORM_TYPE"><value>jabber:iq:register</value></field>` +
				`<field var="nick"><value>bob</value></field>` +
				`<field var="lines"><value>one</value><value>two</value></field>` +
				`<field var="empty"/></x></query>`,
			want: &Submitted{Type: "submit", Values: map[string]string{
				"FORM_TYPE": NSRegister, "nick": "bob", "lines": "one\ntwo", "empty": "",
			}},
		},
		{
			name: "fields and values of another namespace are not the form's",
			xml: `<query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">` +
				`<field var="nick"><value>bob</value><value xmlns="urn:example:other">mallory</value></field>` +
				`<field xmlns="urn:example:other" var="password"><value xmlns="jabber:x:data">stolen</value></field></x></query>`,
			want: &Submitted{Type: "submit", Values: map[string]string{"nick": "bob"}},
		},
		{
			name: "cancel",
			xml:  `<command xmlns="http://jabber.org/protocol/commands"><x xmlns="jabber:x:data" type="cancel"/></command>`,
			want: &Submitted{Type: "cancel", Values: map[string]string{}},
		},
		{
			name: "no type, prefixed namespace",
			xml:  `<query xmlns="jabber:iq:register"><d:x xmlns:d="jabber:x:data"><d:field var="nick"><d:value>bob</d:value></d:field></d:x></query>`,
			want: &Submitted{Type: "", Values: map[string]string{"nick": "bob"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(xmltreetest.Parse(t, tt.xml))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

var loginFields = []transports.Field{
	{Name: "nick", Label: "Nickname", Legacy: "username"},
	{Name: "password", Label: "Password", Kind: transports.FieldSecret, Legacy: "password"},
	{Name: "server", Label: "Server"}, // no legacy element
}

func TestLegacy(t *testing.T) {
	q := struct {
		XMLName xml.Name `xml:"jabber:iq:register query"`
		Legacy  []LegacyField
	}{Legacy: Legacy(loginFields, map[string]string{"nick": "bob", "password": "hunter2", "server": "irc.example"})}
	x := xmltreetest.Marshal(t, q)
	var got []string
	for _, c := range x.Children {
		got = append(got, c.Name.Space+" "+c.Name.Local+"="+c.Text)
	}
	want := []string{NSRegister + " username=bob", NSRegister + " password="}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("legacy fields = %q, want %q (%s)", got, want, x)
	}
}

func TestParseLegacy(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want map[string]string
	}{
		{
			name: "username and password",
			xml:  `<query xmlns="jabber:iq:register"><username>bob</username><password> p w </password></query>`,
			want: map[string]string{"nick": "bob", "password": " p w "},
		},
		{
			name: "a field not sent is absent, an empty one present",
			xml:  `<query xmlns="jabber:iq:register"><username/></query>`,
			want: map[string]string{"nick": ""},
		},
		{
			name: "elements in another namespace are not read",
			xml:  `<query xmlns="jabber:iq:register"><username xmlns="urn:example">bob</username><password>x</password></query>`,
			want: map[string]string{"password": "x"},
		},
		{
			name: "a field without a legacy element is not read",
			xml:  `<query xmlns="jabber:iq:register"><server>irc.example</server></query>`,
			want: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseLegacy(xmltreetest.Parse(t, tt.xml), loginFields); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseLegacy = %q, want %q", got, tt.want)
			}
		})
	}
}
