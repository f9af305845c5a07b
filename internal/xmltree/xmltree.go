// Package xmltree is a small parsed XML element: enough to route stanzas
// on and to read payloads from without a struct per extension. The
// component reads incoming stanzas into it; the test harness reads what
// the XMPP server sends to test clients.
package xmltree

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// ErrTooLarge is returned by Read for an element over the size limit; the
// element has then been consumed, so the stream stays in step.
var ErrTooLarge = errors.New("xml element too large")

// Element is a parsed XML element.
type Element struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Children []*Element
	Text     string // character data directly inside the element
}

// Read reads the element that start opened from r, including its end
// token (a reader that ends with io.EOF instead of the end token is
// accepted). max bounds the bytes of names, attributes and text; 0 means
// no bound.
func Read(start xml.StartElement, r xml.TokenReader, max int) (*Element, error) {
	root := &Element{Name: start.Name, Attrs: copyAttrs(start.Attr)}
	stack := []*Element{root}
	texts := []*strings.Builder{{}}
	size := 0
	for len(stack) > 0 {
		tok, err := r.Token()
		if err == io.EOF && len(stack) == 1 {
			root.Text = texts[0].String()
			return root, nil
		}
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			size += len(t.Name.Local) + 2
			for _, a := range t.Attr {
				size += len(a.Name.Local) + len(a.Value) + 4
			}
			el := &Element{Name: t.Name, Attrs: copyAttrs(t.Attr)}
			top := stack[len(stack)-1]
			top.Children = append(top.Children, el)
			stack = append(stack, el)
			texts = append(texts, &strings.Builder{})
		case xml.EndElement:
			stack[len(stack)-1].Text = texts[len(texts)-1].String()
			stack = stack[:len(stack)-1]
			texts = texts[:len(texts)-1]
		case xml.CharData:
			size += len(t)
			texts[len(texts)-1].Write(t)
		}
		if max > 0 && size > max {
			return nil, drain(r, len(stack))
		}
	}
	return root, nil
}

// drain consumes the rest of an element depth levels deep.
func drain(r xml.TokenReader, depth int) error {
	for depth > 0 {
		tok, err := r.Token()
		if err != nil {
			if err == io.EOF && depth == 1 {
				return ErrTooLarge
			}
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return ErrTooLarge
}

func copyAttrs(a []xml.Attr) []xml.Attr {
	if len(a) == 0 {
		return nil
	}
	return append([]xml.Attr(nil), a...)
}

// Attr returns the value of the attribute with the given local name (in no
// namespace, or xml:lang), or "".
func (e *Element) Attr(local string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attrs {
		if a.Name.Local == local && (a.Name.Space == "" || a.Name.Space == "xml" || a.Name.Space == "http://www.w3.org/XML/1998/namespace") {
			return a.Value
		}
	}
	return ""
}

// Child returns the first child with the given name; space "" matches any
// namespace. It returns nil when there is none (or e is nil).
func (e *Element) Child(space, local string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Name.Local == local && (space == "" || c.Name.Space == space) {
			return c
		}
	}
	return nil
}

// ChildText returns the text of the named child, or "".
func (e *Element) ChildText(space, local string) string {
	if c := e.Child(space, local); c != nil {
		return c.Text
	}
	return ""
}

// First returns the first child element, or nil.
func (e *Element) First() *Element {
	if e == nil || len(e.Children) == 0 {
		return nil
	}
	return e.Children[0]
}

// Find descends through children by local name, in any namespace.
func (e *Element) Find(path ...string) *Element {
	for _, p := range path {
		e = e.Child("", p)
	}
	return e
}

// ValidUTF8 reports whether every text and attribute value in the tree is
// valid UTF-8.
func (e *Element) ValidUTF8() bool {
	if !utf8.ValidString(e.Text) {
		return false
	}
	for _, a := range e.Attrs {
		if !utf8.ValidString(a.Value) {
			return false
		}
	}
	for _, c := range e.Children {
		if !c.ValidUTF8() {
			return false
		}
	}
	return true
}

// String serialises the element, for messages and logs.
func (e *Element) String() string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	e.write(&b, "")
	return b.String()
}

func (e *Element) write(b *strings.Builder, parentNS string) {
	b.WriteString("<" + e.Name.Local)
	if e.Name.Space != "" && e.Name.Space != parentNS {
		b.WriteString(` xmlns="`)
		xml.EscapeText(b2w{b}, []byte(e.Name.Space))
		b.WriteString(`"`)
	}
	for _, a := range e.Attrs {
		if a.Name.Local == "xmlns" || a.Name.Space == "xmlns" {
			continue
		}
		name := a.Name.Local
		if a.Name.Space == "xml" || a.Name.Space == "http://www.w3.org/XML/1998/namespace" {
			name = "xml:" + name
		}
		b.WriteString(" " + name + `="`)
		xml.EscapeText(b2w{b}, []byte(a.Value))
		b.WriteString(`"`)
	}
	if len(e.Children) == 0 && e.Text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	xml.EscapeText(b2w{b}, []byte(e.Text))
	for _, c := range e.Children {
		c.write(b, e.Name.Space)
	}
	b.WriteString("</" + e.Name.Local + ">")
}

type b2w struct{ b *strings.Builder }

func (w b2w) Write(p []byte) (int, error) { return w.b.Write(p) }
