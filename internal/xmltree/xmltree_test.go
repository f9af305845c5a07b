package xmltree

import (
	"encoding/xml"
	"strings"
	"testing"
)

func read(t *testing.T, s string, max int) (*Element, *xml.Decoder, error) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	tok, err := d.Token()
	if err != nil {
		t.Fatal(err)
	}
	el, err := Read(tok.(xml.StartElement), d, max)
	return el, d, err
}

func TestRead(t *testing.T) {
	el, _, err := read(t, `<message to="a@b" type="chat" xml:lang="en"><body>hi &amp; bye</body><x xmlns="jabber:x:data"><field var="v"><value>1</value></field></x></message>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if el.Attr("to") != "a@b" || el.Attr("lang") != "en" || el.ChildText("", "body") != "hi & bye" {
		t.Errorf("parsed %s", el)
	}
	if v := el.Find("{jabber:x:data}x", "field", "value"); v == nil || v.Text != "1" {
		t.Errorf("Find = %v", v)
	}
	if el.Child("jabber:x:data", "x") == nil || el.Child("other", "x") != nil || el.Child("", "x") != nil || el.Find("x") != nil {
		t.Error("Child does not respect namespaces")
	}
	if el.First().Name.Local != "body" {
		t.Errorf("First = %v", el.First())
	}
	s := el.String()
	for _, want := range []string{`<message to="a@b" type="chat" xml:lang="en">`, `<body>hi &amp; bye</body>`, `<x xmlns="jabber:x:data">`} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %s, lacks %s", s, want)
		}
	}
	var nilEl *Element
	if nilEl.Child("", "x") != nil || nilEl.Attr("a") != "" || nilEl.Find("a", "b") != nil {
		t.Error("nil element methods")
	}
}

func TestReadTooLargeKeepsStreamInStep(t *testing.T) {
	big := `<message><body>` + strings.Repeat("x", 1000) + `</body><y/></message><presence/>`
	_, d, err := read(t, big, 100)
	if err != ErrTooLarge {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	tok, err := d.Token()
	if se, ok := tok.(xml.StartElement); err != nil || !ok || se.Name.Local != "presence" {
		t.Fatalf("next token = %v, %v", tok, err)
	}
}

func TestValidUTF8(t *testing.T) {
	el := &Element{Text: "ok", Children: []*Element{{Attrs: []xml.Attr{{Name: xml.Name{Local: "a"}, Value: "\xff"}}}}}
	if el.ValidUTF8() {
		t.Error("invalid attribute value accepted")
	}
}

func TestChildIsNamespaceExact(t *testing.T) {
	const reg = "jabber:iq:register"
	tests := []struct {
		name, xml   string
		space, path string
		found       bool
	}{
		{"inherited namespace", `<query xmlns="jabber:iq:register"><username>u</username></query>`, "", "username", true},
		{"inherited namespace, named", `<query xmlns="jabber:iq:register"><username>u</username></query>`, reg, "username", true},
		{"undeclared namespace", `<query xmlns="jabber:iq:register"><username xmlns="">u</username></query>`, "", "username", false},
		{"undeclared namespace, named", `<query xmlns="jabber:iq:register"><username xmlns="">u</username></query>`, reg, "username", false},
		{"other namespace", `<query xmlns="jabber:iq:register"><username xmlns="urn:other">u</username></query>`, "", "username", false},
		{"prefixed namespace", `<query xmlns="jabber:iq:register" xmlns:r="jabber:iq:register"><r:username>u</r:username></query>`, reg, "username", true},
		{"stanza child", `<message xmlns="jabber:client"><body>hi</body></message>`, "", "body", true},
		{"stanza child, other namespace", `<message xmlns="jabber:client"><body xmlns="urn:x">hi</body></message>`, "", "body", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el, _, err := read(t, tt.xml, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := el.Child(tt.space, tt.path) != nil; got != tt.found {
				t.Errorf("Child(%q, %q) found = %v, want %v in %s", tt.space, tt.path, got, tt.found, tt.xml)
			}
			path := tt.path
			if tt.space != "" {
				path = "{" + tt.space + "}" + path
			}
			if got := el.Find(path) != nil; got != tt.found {
				t.Errorf("Find(%q) found = %v, want %v", path, got, tt.found)
			}
		})
	}
}

func TestReadCountsEveryToken(t *testing.T) {
	pad := strings.Repeat("x", 1000)
	tests := []struct{ name, body string }{
		{"comment", `<!--` + pad + `-->`},
		{"processing instruction", `<?pi ` + pad + `?>`},
		{"namespace URI", `<y xmlns="urn:` + pad + `"/>`},
		{"attribute", `<y a="` + pad + `"/>`},
		{"text", pad},
		{"root attribute", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := `<message>`
			if tt.body == "" {
				root = `<message a="` + pad + `">`
			}
			_, d, err := read(t, root+tt.body+`</message><presence/>`, 500)
			if err != ErrTooLarge {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			tok, err := d.Token()
			if se, ok := tok.(xml.StartElement); err != nil || !ok || se.Name.Local != "presence" {
				t.Fatalf("next token = %v, %v: the stream is out of step", tok, err)
			}
		})
	}
}

func TestReadCheckedStopsWhenOver(t *testing.T) {
	d := xml.NewDecoder(strings.NewReader(`<message><a/><b/><c/></message><presence/>`))
	tok, _ := d.Token()
	calls := 0
	_, err := ReadChecked(tok.(xml.StartElement), d, 0, func() bool { calls++; return calls > 2 })
	if err != ErrTooLarge {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if tok, err := d.Token(); err != nil || tok.(xml.StartElement).Name.Local != "presence" {
		t.Fatalf("next token = %v, %v", tok, err)
	}
}

func TestStringShowsUndeclaredNamespace(t *testing.T) {
	el, _, err := read(t, `<query xmlns="jabber:iq:register"><username xmlns="">u</username></query>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := el.String(); !strings.Contains(s, `<username xmlns="">`) {
		t.Errorf("String() = %s, hides the undeclared namespace", s)
	}
}

// FuzzRead reads random XML with a small limit, element after element,
// and uses what it returns: nothing may panic.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		`<message><body>hi</body></message><presence/>`,
		`<iq xmlns="jabber:component:accept"><query xmlns="jabber:iq:register"><username xmlns="">u</username></query></iq>`,
		`<a><!--c--><?pi x?><b xmlns:p="urn:p" p:x="1"/></a>`,
		`<a>` + strings.Repeat("x", 300) + `</a><b/>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d := xml.NewDecoder(strings.NewReader(in))
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			start, ok := tok.(xml.StartElement)
			if !ok {
				continue
			}
			el, err := Read(start, d, 200)
			if err != nil {
				return
			}
			_ = el.String()
			el.ValidUTF8()
			el.Find("{urn:x}a", "b")
		}
	})
}
