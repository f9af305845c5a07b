package component

import (
	"errors"

	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/transports"
)

// XEP-0004 data forms, as the component writes and reads them: the
// definitions, parsing and checks live in regform; these names keep the
// component's callers (commands, chat registration, settings) short.

type (
	dataForm    = regform.Form
	formField   = regform.Field
	legacyField = regform.LegacyField
)

// buildForm renders fields as a form. values pre-fill it; secret fields are
// never pre-filled, whatever values holds.
func buildForm(formType, title, instructions, formNS string, fields []transports.Field, values map[string]string) *dataForm {
	return regform.Build(formType, title, instructions, formNS, fields, values)
}

// resultForm is a type="result" form with read-only fields.
func resultForm(title string, rows [][2]string) *dataForm {
	return regform.Result(title, rows)
}

// submittedForm is a form a user sent: its type and its values (multi-valued
// fields joined by newlines).
type submittedForm struct {
	typ    string
	values map[string]string
}

// parseForm reads the jabber:x:data form among n's children, or returns nil.
func parseForm(n *node) *submittedForm {
	f := regform.Parse(n)
	if f == nil {
		return nil
	}
	return &submittedForm{typ: f.Type, values: f.Values}
}

// checkValues validates user-supplied values against fields (regform.Check)
// and returns the values to store, or the stanza error to answer: a value
// that is not UTF-8 is a bad request, any other problem not acceptable.
// Error texts name the field, never its value (it may be secret).
func checkValues(fields []transports.Field, in map[string]string) (map[string]string, *stanzaError) {
	out, err := regform.Check(fields, in)
	if err == nil {
		return out, nil
	}
	var fe *regform.FieldError
	if errors.As(err, &fe) && fe.Problem == regform.NotUTF8 {
		return nil, errorf("modify", "bad-request", "%s", fe.Error())
	}
	return nil, errorf("modify", "not-acceptable", "%s", err.Error())
}
