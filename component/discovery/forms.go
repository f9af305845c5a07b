package discovery

import (
	"cmp"
	"encoding/xml"
	"slices"
	"strings"

	"mellium.im/xmpp/disco/info"
)

// NSData is the namespace of XEP-0004 data forms, in which an XEP-0128
// extended-information form is written.
const NSData = "jabber:x:data"

// Form is an XEP-0128 extended-information form of a disco#info answer:
// a result form (XEP-0004 type="result") whose hidden FORM_TYPE field
// names the registered form type, then its fields.
type Form struct {
	// FormType is the FORM_TYPE field's value ("http://jabber.org/protocol/muc#roominfo").
	FormType string
	// Fields are the other fields, in the order written; none is called
	// FORM_TYPE.
	Fields []Field
}

// Field is one field of a Form. Type and Label may be empty (a result
// form needs neither); Values are written in order.
type Field struct {
	Var    string
	Type   string
	Label  string
	Values []string
}

// MarshalXML writes <x xmlns='jabber:x:data' type='result'/> with the
// hidden FORM_TYPE field first, as XEP-0128 §3 shows it; the fields
// inherit the form's namespace.
func (f Form) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	start := xml.StartElement{Name: xml.Name{Space: NSData, Local: "x"}, Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "result"}}}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := writeField(e, Field{Var: "FORM_TYPE", Type: "hidden", Values: []string{f.FormType}}); err != nil {
		return err
	}
	for _, fd := range f.Fields {
		if err := writeField(e, fd); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// writeField writes <field var='…' [type='…'] [label='…']><value/>…</field>
// in its form's namespace.
func writeField(e *xml.Encoder, f Field) error {
	start := xml.StartElement{Name: xml.Name{Local: "field"}, Attr: []xml.Attr{{Name: xml.Name{Local: "var"}, Value: f.Var}}}
	if f.Type != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "type"}, Value: f.Type})
	}
	if f.Label != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "label"}, Value: f.Label})
	}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, v := range f.Values {
		if err := e.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "value"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// verInput is S, the string XEP-0115 §5.1 hashes: the identities sorted
// by category, type and xml:lang, each "category/type/lang/name<"; the
// sorted features, each "var<"; then the extended-information forms
// sorted by FORM_TYPE, each its FORM_TYPE value and "<", then its fields
// sorted by var, each "var<" and its sorted values, each "value<". It
// sorts copies: i is left as it was.
func (i Info) verInput() string {
	var s strings.Builder
	ids := slices.Clone(i.Identities)
	slices.SortStableFunc(ids, func(a, b info.Identity) int {
		return cmp.Or(strings.Compare(a.Category, b.Category), strings.Compare(a.Type, b.Type), strings.Compare(a.Lang, b.Lang))
	})
	for _, id := range ids {
		s.WriteString(id.Category + "/" + id.Type + "/" + id.Lang + "/" + id.Name + "<")
	}
	fs := make([]string, len(i.Features))
	for k, f := range i.Features {
		fs[k] = f.Var
	}
	slices.Sort(fs)
	for _, f := range fs {
		s.WriteString(f + "<")
	}
	forms := slices.Clone(i.Forms)
	slices.SortStableFunc(forms, func(a, b Form) int { return strings.Compare(a.FormType, b.FormType) })
	for _, f := range forms {
		s.WriteString(f.FormType + "<")
		fields := slices.Clone(f.Fields)
		slices.SortStableFunc(fields, func(a, b Field) int { return strings.Compare(a.Var, b.Var) })
		for _, fd := range fields {
			s.WriteString(fd.Var + "<")
			vals := slices.Clone(fd.Values)
			slices.Sort(vals)
			for _, v := range vals {
				s.WriteString(v + "<")
			}
		}
	}
	return s.String()
}
