package regform

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

// Problem is what is wrong with a submitted value.
type Problem int

// The problems Check finds, in the order it looks for them.
const (
	// NotUTF8: the value is not valid UTF-8 (a malformed request rather
	// than a wrong answer).
	NotUTF8 Problem = iota + 1
	// Missing: a required field is empty.
	Missing
	// TooLong: the value is longer than the field's MaxLen
	// (transports.DefaultMaxLen if unset).
	TooLong
	// ControlChar: the value holds a control character (CR, LF, NUL…),
	// which could smuggle a second command into a line-based protocol.
	ControlChar
	// NotBool: a boolean field's value is not true or false.
	NotBool
	// NoChoice: a list field's value is not one of its options.
	NoChoice
)

// FieldError is the one problem Check found, on the field it names. Its
// text names the field by its label and never quotes the value, which may
// be a secret.
type FieldError struct {
	Field   string // transports.Field.Name
	Label   string // transports.Field.Label, as the user saw it
	Problem Problem
	Max     int // the length limit, for TooLong
}

func (e *FieldError) Error() string {
	switch e.Problem {
	case NotUTF8:
		return fmt.Sprintf("The field %q is not valid UTF-8.", e.Label)
	case Missing:
		return fmt.Sprintf("The field %q is required.", e.Label)
	case TooLong:
		return fmt.Sprintf("The field %q is longer than %d bytes.", e.Label, e.Max)
	case ControlChar:
		return fmt.Sprintf("The field %q must be a single line without control characters.", e.Label)
	case NotBool:
		return fmt.Sprintf("The field %q must be true or false.", e.Label)
	case NoChoice:
		return fmt.Sprintf("The field %q does not offer that choice.", e.Label)
	default:
		return fmt.Sprintf("The field %q is not acceptable.", e.Label)
	}
}

// Check validates user-supplied values against fields and returns the
// values to store: surrounding space trimmed (except from secrets), an
// empty or missing value replaced by the field's default, booleans
// normalised to "true"/"false", empty values and keys of no field
// (FORM_TYPE, strays) dropped. The error, if any, is a *FieldError for the
// first field in error, in the order of fields.
func Check(fields []transports.Field, in map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(fields))
	for _, f := range fields {
		v, present := in[f.Name]
		fail := func(p Problem) error { return &FieldError{Field: f.Name, Label: f.Label, Problem: p} }
		if !utf8.ValidString(v) {
			return nil, fail(NotUTF8)
		}
		if f.Kind != transports.FieldSecret {
			v = strings.TrimSpace(v)
		}
		if v == "" {
			if f.Required {
				return nil, fail(Missing)
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
			return nil, &FieldError{Field: f.Name, Label: f.Label, Problem: TooLong, Max: max}
		}
		if strings.ContainsFunc(v, isControl) {
			return nil, fail(ControlChar)
		}
		switch f.Kind {
		case transports.FieldBool:
			if v == "" {
				break
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fail(NotBool)
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
				return nil, fail(NoChoice)
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
