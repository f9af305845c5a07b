package component

import (
	"encoding/xml"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

// XEP-0004 data forms, as the component writes and reads them.

type dataForm struct {
	XMLName      xml.Name    `xml:"jabber:x:data x"`
	Type         string      `xml:"type,attr"`
	Title        string      `xml:"title,omitempty"`
	Instructions []string    `xml:"instructions,omitempty"`
	Fields       []formField `xml:"field"`
}

type formField struct {
	Type     string       `xml:"type,attr,omitempty"`
	Var      string       `xml:"var,attr,omitempty"`
	Label    string       `xml:"label,attr,omitempty"`
	Desc     string       `xml:"desc,omitempty"`
	Required *struct{}    `xml:"required,omitempty"`
	Values   []string     `xml:"value"`
	Options  []formOption `xml:"option"`
}

type formOption struct {
	Label string `xml:"label,attr,omitempty"`
	Value string `xml:"value"`
}

// buildForm renders fields as a form. values pre-fill it; secret fields are
// never pre-filled, whatever values holds.
func buildForm(formType, title, instructions, formNS string, fields []transports.Field, values map[string]string) *dataForm {
	f := &dataForm{Type: formType, Title: title}
	if instructions != "" {
		f.Instructions = []string{instructions}
	}
	if formNS != "" {
		f.Fields = append(f.Fields, formField{Type: "hidden", Var: "FORM_TYPE", Values: []string{formNS}})
	}
	for _, fd := range fields {
		ff := formField{Var: fd.Name, Label: fd.Label, Desc: fd.Desc}
		switch fd.Kind {
		case transports.FieldSecret:
			ff.Type = "text-private"
		case transports.FieldBool:
			ff.Type = "boolean"
		case transports.FieldList:
			ff.Type = "list-single"
			for _, o := range fd.Options {
				ff.Options = append(ff.Options, formOption{Label: o.Label, Value: o.Value})
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

// resultForm is a type="result" form with read-only fields.
func resultForm(title string, rows [][2]string) *dataForm {
	f := &dataForm{Type: "result", Title: title}
	for _, r := range rows {
		f.Fields = append(f.Fields, formField{Type: "text-single", Var: r[0], Label: r[0], Values: []string{r[1]}})
	}
	return f
}

// submittedForm is a form a user sent: its type and its values (multi-valued
// fields joined by newlines).
type submittedForm struct {
	typ    string
	values map[string]string
}

// parseForm reads the jabber:x:data form among n's children, or returns nil.
func parseForm(n *node) *submittedForm {
	x := n.Child(nsData, "x")
	if x == nil {
		return nil
	}
	f := &submittedForm{typ: x.Attr("type"), values: make(map[string]string)}
	for _, fl := range x.Children {
		if fl.Name.Local != "field" {
			continue
		}
		var vals []string
		for _, v := range fl.Children {
			if v.Name.Local == "value" {
				vals = append(vals, v.Text)
			}
		}
		f.values[fl.Attr("var")] = strings.Join(vals, "\n")
	}
	return f
}

// checkValues validates user-supplied values against fields and returns
// the values to store: defaults applied, booleans normalised, unknown keys
// dropped. Error texts name the field, never its value (it may be secret).
func checkValues(fields []transports.Field, in map[string]string) (map[string]string, *stanzaError) {
	out := make(map[string]string, len(fields))
	for _, f := range fields {
		v, present := in[f.Name]
		if !utf8.ValidString(v) {
			return nil, errorf("modify", "bad-request", "The field %q is not valid UTF-8.", f.Label)
		}
		if f.Kind != transports.FieldSecret {
			v = strings.TrimSpace(v)
		}
		if v == "" {
			if f.Required {
				return nil, errorf("modify", "not-acceptable", "The field %q is required.", f.Label)
			}
			if !present || f.Default != "" {
				v = f.Default
			}
		}
		max := f.MaxLen
		if max <= 0 {
			max = transports.DefaultMaxLen
		}
		if len(v) > max {
			return nil, errorf("modify", "not-acceptable", "The field %q is longer than %d bytes.", f.Label, max)
		}
		if strings.ContainsFunc(v, isControl) {
			return nil, errorf("modify", "not-acceptable", "The field %q must be a single line without control characters.", f.Label)
		}
		switch f.Kind {
		case transports.FieldBool:
			if v == "" {
				break
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, errorf("modify", "not-acceptable", "The field %q must be true or false.", f.Label)
			}
			v = strconv.FormatBool(b)
		case transports.FieldList:
			if v == "" {
				break
			}
			ok := false
			for _, o := range f.Options {
				ok = ok || o.Value == v
			}
			if !ok {
				return nil, errorf("modify", "not-acceptable", "The field %q does not offer that choice.", f.Label)
			}
		}
		if v != "" {
			out[f.Name] = v
		}
	}
	return out, nil
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f
}
