package component

import (
	"errors"

	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// checkValues validates user-supplied values against fields (regform.Check)
// and returns the values to store, or the stanza error to answer: a value
// that is not UTF-8 is a bad request, any other problem not acceptable.
// Error texts name the field, never its value (it may be secret).
func checkValues(fields []transports.Field, in map[string]string) (map[string]string, *stanzaerr.Error) {
	out, err := regform.Check(fields, in)
	if err == nil {
		return out, nil
	}
	var fe *regform.FieldError
	if errors.As(err, &fe) && fe.Problem == regform.NotUTF8 {
		return nil, stanzaerr.New("modify", "bad-request", "%s", fe.Error())
	}
	return nil, stanzaerr.New("modify", "not-acceptable", "%s", err.Error())
}
