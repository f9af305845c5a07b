// Package regform owns the questions the gateway asks a user: the XEP-0004
// data form built from a network's transports.Field definitions, the
// XEP-0077 (jabber:iq:register) legacy fields (<username/>, <password/>…),
// reading what the user submitted in either shape, and checking the values
// before anything is stored or sent to a legacy server. The component uses
// it for registration (XEP-0077 and the ad-hoc "register" command) and for
// the per-user settings form; the IQ handling itself stays in component.
//
// Everything here is pure: no I/O, no locks, nothing that blocks. Secret
// fields (transports.FieldSecret) are never written back into a form, and
// no error text quotes a submitted value.
//
// The forms are encoding/xml structs rather than mellium.im/xmpp/form's
// Data: Data keeps its fields unexported and offers no way to build a
// type="result" form, so the component's result forms (status, statistics,
// user lists with jid-multi values) could not be written with it; and it
// reads only from an xml.Decoder, while the component holds each stanza
// already parsed as an xmltree.Element.
package regform

import (
	"encoding/xml"
	"strings"

	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// Namespaces of the forms this package writes and reads.
const (
	NSData     = "jabber:x:data"      // XEP-0004
	NSRegister = "jabber:iq:register" // XEP-0077
)

// Form is an XEP-0004 data form as the component writes it.
type Form struct {
	XMLName      xml.Name `xml:"jabber:x:data x"`
	Type         string   `xml:"type,attr"`
	Title        string   `xml:"title,omitempty"`
	Instructions []string `xml:"instructions,omitempty"`
	Fields       []Field  `xml:"field"`
}

// Field is one field of a Form.
type Field struct {
	Type     string    `xml:"type,attr,omitempty"`
	Var      string    `xml:"var,attr,omitempty"`
	Label    string    `xml:"label,attr,omitempty"`
	Desc     string    `xml:"desc,omitempty"`
	Required *struct{} `xml:"required,omitempty"`
	Values   []string  `xml:"value"`
	Options  []Option  `xml:"option"`
}

// Option is one choice of a list-single Field.
type Option struct {
	Label string `xml:"label,attr,omitempty"`
	Value string `xml:"value"`
}

// Build renders fields as a form of type formType (XEP-0004 "form" when
// asking). A non-empty formNS is written as the hidden FORM_TYPE field.
// values pre-fill the fields, falling back to each field's default; secret
// fields are never pre-filled, whatever values holds.
func Build(formType, title, instructions, formNS string, fields []transports.Field, values map[string]string) *Form {
	f := &Form{Type: formType, Title: title}
	if instructions != "" {
		f.Instructions = []string{instructions}
	}
	if formNS != "" {
		f.Fields = append(f.Fields, Field{Type: "hidden", Var: "FORM_TYPE", Values: []string{formNS}})
	}
	for _, fd := range fields {
		ff := Field{Var: fd.Name, Label: fd.Label, Desc: fd.Desc}
		switch fd.Kind {
		case transports.FieldSecret:
			ff.Type = "text-private"
		case transports.FieldBool:
			ff.Type = "boolean"
		case transports.FieldList:
			ff.Type = "list-single"
			for _, o := range fd.Options {
				ff.Options = append(ff.Options, Option{Label: o.Label, Value: o.Value})
			}
		default:
			ff.Type = "text-single"
		}
		if fd.Required {
			ff.Required = &struct{}{}
		}
		v, ok := values[fd.Name]
		if !ok {
			v = fd.Default
		}
		if v != "" && fd.Kind != transports.FieldSecret {
			ff.Values = []string{v}
		}
		f.Fields = append(f.Fields, ff)
	}
	return f
}

// Result is a type="result" form of read-only text fields, one per row
// (name, value); each row's name is also its label.
func Result(title string, rows [][2]string) *Form {
	f := &Form{Type: "result", Title: title}
	for _, r := range rows {
		f.Fields = append(f.Fields, Field{Type: "text-single", Var: r[0], Label: r[0], Values: []string{r[1]}})
	}
	return f
}

// Submitted is a form a user sent: its type ("submit", "cancel", or empty
// if the sender wrote none) and its values by field name, the values of a
// multi-valued field joined by newlines. The values are unchecked: pass
// them to Check.
type Submitted struct {
	Type   string
	Values map[string]string
}

// Parse reads the jabber:x:data form among n's children, or returns nil if
// there is none. The form, its <field/>s and their <value/>s are all
// matched by namespace and name: an element of another namespace that
// happens to be called "field" is not a field.
func Parse(n *xmltree.Element) *Submitted {
	x := n.Child(NSData, "x")
	if x == nil {
		return nil
	}
	f := &Submitted{Type: x.Attr("type"), Values: make(map[string]string)}
	for _, fl := range x.ChildrenNamed(NSData, "field") {
		var vals []string
		for _, v := range fl.ChildrenNamed(NSData, "value") {
			vals = append(vals, v.Text)
		}
		f.Values[fl.Attr("var")] = strings.Join(vals, "\n")
	}
	return f
}

// LegacyField is one XEP-0077 legacy field (<username/>, <password/>…).
// Its name is set at run time, so its XMLName must carry the namespace:
// encoding/xml writes a run-time name without one as xmlns="", which puts
// the field in no namespace, where old clients do not look.
type LegacyField struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// Legacy is the XEP-0077 legacy fields for fields that name one
// (transports.Field.Legacy), in order, filled from values; a secret field
// is always sent empty.
func Legacy(fields []transports.Field, values map[string]string) []LegacyField {
	var out []LegacyField
	for _, f := range fields {
		if f.Legacy == "" {
			continue
		}
		v := values[f.Name]
		if f.Kind == transports.FieldSecret {
			v = ""
		}
		out = append(out, LegacyField{XMLName: xml.Name{Space: NSRegister, Local: f.Legacy}, Value: v})
	}
	return out
}

// ParseLegacy reads the XEP-0077 legacy fields among q's children (q is the
// jabber:iq:register query) into values by field name. A field the user
// did not send is absent from the result; elements outside the
// jabber:iq:register namespace are not read. The values are unchecked:
// pass them to Check.
func ParseLegacy(q *xmltree.Element, fields []transports.Field) map[string]string {
	values := make(map[string]string)
	for _, f := range fields {
		if f.Legacy == "" {
			continue
		}
		if el := q.Child(NSRegister, f.Legacy); el != nil {
			values[f.Name] = el.Text
		}
	}
	return values
}
