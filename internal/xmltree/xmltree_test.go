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
	if v := el.Find("x", "field", "value"); v == nil || v.Text != "1" {
		t.Errorf("Find = %v", v)
	}
	if el.Child("jabber:x:data", "x") == nil || el.Child("other", "x") != nil {
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
