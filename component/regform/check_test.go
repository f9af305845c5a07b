package regform

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

var checkFields = []transports.Field{
	{Name: "nick", Label: "Nickname", Required: true, MaxLen: 10},
	{Name: "password", Label: "Password", Kind: transports.FieldSecret},
	{Name: "tls", Label: "TLS", Kind: transports.FieldBool, Default: "true"},
	{Name: "away", Label: "Away", Kind: transports.FieldBool},
	{Name: "mode", Label: "Mode", Kind: transports.FieldList, Options: []transports.Option{{Value: "a"}, {Value: "b"}}},
	{Name: "realname", Label: "Real name", Default: "Anon"},
	{Name: "note", Label: "Note"},
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		in    map[string]string
		want  map[string]string
		field string  // the field in error, if any
		prob  Problem // its problem
	}{
		{name: "trimmed, normalised, strays dropped",
			in:   map[string]string{"nick": " bob ", "password": " p w ", "tls": "0", "away": "TRUE", "mode": "b", "note": "\thi ", "FORM_TYPE": NSRegister, "stray": "x"},
			want: map[string]string{"nick": "bob", "password": " p w ", "tls": "false", "away": "true", "mode": "b", "realname": "Anon", "note": "hi"}},
		{name: "defaults for missing and empty values",
			in:   map[string]string{"nick": "bob", "tls": "", "realname": "  ", "note": ""},
			want: map[string]string{"nick": "bob", "tls": "true", "realname": "Anon"}},
		{name: "at the length limit",
			in:   map[string]string{"nick": "abcdefghij", "password": strings.Repeat("x", transports.DefaultMaxLen)},
			want: map[string]string{"nick": "abcdefghij", "password": strings.Repeat("x", transports.DefaultMaxLen), "tls": "true", "realname": "Anon"}},
		{name: "non-ASCII is fine", in: map[string]string{"nick": "Zoë", "note": "日本語"},
			want: map[string]string{"nick": "Zoë", "note": "日本語", "tls": "true", "realname": "Anon"}},

		{name: "required missing", in: map[string]string{"password": "x"}, field: "nick", prob: Missing},
		{name: "required blank", in: map[string]string{"nick": " \t "}, field: "nick", prob: Missing},
		{name: "over MaxLen", in: map[string]string{"nick": "abcdefghijk"}, field: "nick", prob: TooLong},
		{name: "over DefaultMaxLen", in: map[string]string{"nick": "a", "password": strings.Repeat("x", transports.DefaultMaxLen+1)}, field: "password", prob: TooLong},
		{name: "CRLF", in: map[string]string{"nick": "a\r\nQUIT"}, field: "nick", prob: ControlChar},
		{name: "NUL in a secret", in: map[string]string{"nick": "a", "password": "x\x00y"}, field: "password", prob: ControlChar},
		{name: "trailing newline in a secret is kept, so refused", in: map[string]string{"nick": "a", "password": "pw\n"}, field: "password", prob: ControlChar},
		{name: "DEL", in: map[string]string{"nick": "a", "note": "x\x7fy"}, field: "note", prob: ControlChar},
		{name: "not UTF-8", in: map[string]string{"nick": "a\xff"}, field: "nick", prob: NotUTF8},
		{name: "not UTF-8 in an optional field", in: map[string]string{"nick": "a", "note": "\xc3"}, field: "note", prob: NotUTF8},
		{name: "bad bool", in: map[string]string{"nick": "a", "tls": "maybe"}, field: "tls", prob: NotBool},
		{name: "bad choice", in: map[string]string{"nick": "a", "mode": "c"}, field: "mode", prob: NoChoice},
		{name: "first field in error wins", in: map[string]string{"mode": "c"}, field: "nick", prob: Missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Check(checkFields, tt.in)
			if tt.prob != 0 {
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("Check = %v, %v; want a *FieldError", got, err)
				}
				if fe.Field != tt.field || fe.Problem != tt.prob {
					t.Errorf("error on %q, problem %d; want %q, %d", fe.Field, fe.Problem, tt.field, tt.prob)
				}
				if got != nil {
					t.Errorf("values %q returned with the error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFieldErrorText(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{Label: "Nickname", Problem: NotUTF8}, `The field "Nickname" is not valid UTF-8.`},
		{FieldError{Label: "Nickname", Problem: Missing}, `The field "Nickname" is required.`},
		{FieldError{Label: "Nickname", Problem: TooLong, Max: 10}, `The field "Nickname" is longer than 10 bytes.`},
		{FieldError{Label: "Nickname", Problem: ControlChar}, `The field "Nickname" must be a single line without control characters.`},
		{FieldError{Label: "TLS", Problem: NotBool}, `The field "TLS" must be true or false.`},
		{FieldError{Label: "Mode", Problem: NoChoice}, `The field "Mode" does not offer that choice.`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestCheckNeverEchoesValues submits a distinctive value that each check
// refuses and looks for it in the error text.
func TestCheckNeverEchoesValues(t *testing.T) {
	const secret = "s3cr3t-Value"
	bad := []map[string]string{
		{"nick": secret + "-far-too-long"},
		{"nick": secret + "\n"},
		{"nick": "a", "password": secret + "\x00"},
		{"nick": "a", "password": secret + "\xff"},
		{"nick": "a", "tls": secret},
		{"nick": "a", "mode": secret},
	}
	for _, in := range bad {
		_, err := Check(checkFields, in)
		if err == nil {
			t.Errorf("Check(%q) accepted", in)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Check(%q) error echoes the value: %v", in, err)
		}
	}
}

// FuzzCheck holds Check to its promises for any input: what it returns is
// valid UTF-8, within length, free of control characters and keyed by
// known fields; its errors name the field and the problem.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"bob", " bob ", "a\r\nQUIT", "\xff", "true", "b", strings.Repeat("x", 11)} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, nick, other string) {
		in := map[string]string{"nick": nick, "password": other, "tls": other, "mode": other, "note": other}
		got, err := Check(checkFields, in)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			if fe.Field == "" || fe.Label == "" || fe.Problem == 0 {
				t.Fatalf("error %+v does not say which field and what", fe)
			}
			return
		}
		known := make(map[string]transports.Field)
		for _, fd := range checkFields {
			known[fd.Name] = fd
		}
		for k, v := range got {
			fd, ok := known[k]
			if !ok {
				t.Fatalf("unknown key %q returned", k)
			}
			max := fd.MaxLen
			if max <= 0 {
				max = transports.DefaultMaxLen
			}
			if v == "" || !utf8.ValidString(v) || len(v) > max || strings.ContainsFunc(v, isControl) {
				t.Fatalf("%s = %q returned", k, v)
			}
		}
	})
}
