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

// Parse reads the first element of s, without a size limit: for text
// the program holds already (tests, stored stanzas), not for a stream.
func Parse(s string) (*Element, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return Read(start, d, 0)
		}
	}
}

// Read reads the element that start opened from r, including its end
// token (a reader that ends with io.EOF instead of the end token is
// accepted). max bounds the element's Size; 0 means no bound. An element
// over max is skipped to its end and ErrTooLarge returned, so the stream
// stays in step.
func Read(start xml.StartElement, r xml.TokenReader, max int) (*Element, error) {
	return ReadChecked(start, r, max, nil)
}

// ReadChecked is Read with a second bound: over, when not nil, is asked
// after every token and, when it reports true, the rest of the element is
// skipped and ErrTooLarge returned. The component uses it to bound the
// bytes read from the wire for one stanza, which Size cannot see (entity
// references, whitespace inside tags, namespace prefixes).
func ReadChecked(start xml.StartElement, r xml.TokenReader, max int, over func() bool) (*Element, error) {
	root := &Element{Name: start.Name, Attrs: copyAttrs(start.Attr)}
	stack := []*Element{root}
	texts := []*strings.Builder{{}}
	size := startSize(start)
	if (max > 0 && size > max) || (over != nil && over()) {
		return nil, drain(r, 1)
	}
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
		size += TokenSize(tok)
		switch t := tok.(type) {
		case xml.StartElement:
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
			texts[len(texts)-1].Write(t)
		}
		if len(stack) > 0 && ((max > 0 && size > max) || (over != nil && over())) {
			return nil, drain(r, len(stack))
		}
	}
	return root, nil
}

// TokenSize is what a token counts towards an element's size: every name
// with its namespace URI, every attribute, text, comment, processing
// instruction and directive, plus a few bytes of markup each, so that no
// token is free however it is made.
func TokenSize(tok xml.Token) int {
	switch t := tok.(type) {
	case xml.StartElement:
		return startSize(t)
	case xml.EndElement:
		return len(t.Name.Space) + len(t.Name.Local) + 3
	case xml.CharData:
		return len(t)
	case xml.Comment:
		return len(t) + 7
	case xml.ProcInst:
		return len(t.Target) + len(t.Inst) + 5
	case xml.Directive:
		return len(t) + 3
	}
	return 0
}

func startSize(t xml.StartElement) int {
	n := len(t.Name.Space) + len(t.Name.Local) + 2
	for _, a := range t.Attr {
		n += len(a.Name.Space) + len(a.Name.Local) + len(a.Value) + 4
	}
	return n
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

// Child returns the first child named space and local, or nil (also when e
// is nil). The match is exact: space "" stands for e's own namespace,
// which is the one a child declaring none inherits (a stanza's <body/>,
// a query's fields), so a child in another namespace, or one that
// undeclared its namespace with xmlns="", is not a match.
func (e *Element) Child(space, local string) *Element {
	if e == nil {
		return nil
	}
	if space == "" {
		space = e.Name.Space
	}
	for _, c := range e.Children {
		if c.Name.Local == local && c.Name.Space == space {
			return c
		}
	}
	return nil
}

// ChildrenNamed returns every child named space and local, matched as Child
// does.
func (e *Element) ChildrenNamed(space, local string) []*Element {
	if e == nil {
		return nil
	}
	if space == "" {
		space = e.Name.Space
	}
	var out []*Element
	for _, c := range e.Children {
		if c.Name.Local == local && c.Name.Space == space {
			out = append(out, c)
		}
	}
	return out
}

// Is reports whether e is named space and local (exactly; false for nil).
func (e *Element) Is(space, local string) bool {
	return e != nil && e.Name.Space == space && e.Name.Local == local
}

// ChildText returns the text of the child Child finds, or "".
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

// Find descends through children, one step per name: "{namespace}local"
// names a child in that namespace, a bare "local" a child in its parent's
// namespace (as Child with space ""). It returns nil when a step has no
// match.
func (e *Element) Find(path ...string) *Element {
	for _, p := range path {
		space, local := "", p
		if strings.HasPrefix(p, "{") {
			if i := strings.IndexByte(p, '}'); i > 0 {
				space, local = p[1:i], p[i+1:]
			}
		}
		e = e.Child(space, local)
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
	if e.Name.Space != parentNS {
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
