package chatdoor

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

var (
	// login is an IRC-like network's login fields: a required text, a
	// required secret, an optional text with a default, a choice and a
	// yes/no with explanations.
	login = []transports.Field{
		{Name: "nick", Label: "Nickname", Kind: transports.FieldText, Required: true},
		{Name: "password", Label: "Password", Kind: transports.FieldSecret, Required: true},
		{Name: "server", Label: "Server", Kind: transports.FieldText, Default: "irc.example"},
		{Name: "security", Label: "Security", Kind: transports.FieldList,
			Options: []transports.Option{{Value: "tls"}, {Value: "plain"}}},
		{Name: "sasl", Label: "SASL", Desc: "log in with SASL", Kind: transports.FieldBool, Required: true},
	}
	settings = []transports.Field{
		{Name: "stay_connected", Label: "Stay connected", Kind: transports.FieldBool, Default: "false"},
		{Name: "nick_color", Label: "Colour", Kind: transports.FieldText},
	}
)

const startText = "Registering with IRC. Send \"cancel\" to stop. Beware: your server may archive this conversation, passwords included; a registration form is safer if your client has one."

// Questions for the fields of login, in order.
const (
	askNick     = "Nickname?"
	askPassword = "Password?"
	askServer   = "Server — optional, \"-\" to skip, default irc.example?"
	askSecurity = "Security [tls, plain] — optional, \"-\" to skip?"
	askSASL     = "SASL (log in with SASL) [yes/no]?"
)

func dialogAt(asked int, values map[string]string) *Dialog {
	return &Dialog{Asked: asked, Values: values}
}

// TestNext: every transition of the chat door, outside a dialog and in
// one.
func TestNext(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		dialog *Dialog
		fields []transports.Field // login fields; nil means login
		want   Step
	}{
		// Commands outside a dialog.
		{name: "help", line: "help", want: Step{Replies: []string{Help("IRC")}}},
		{name: "help as ?, case and spaces", line: "  HeLp  ", want: Step{Replies: []string{Help("IRC")}}},
		{name: "?", line: "?", want: Step{Replies: []string{Help("IRC")}}},
		{name: "register asks the first field", line: "register",
			want: Step{Replies: []string{startText, askNick}, Dialog: dialogAt(1, map[string]string{})}},
		{name: "register with no field registers at once", line: "Register", fields: []transports.Field{},
			want: Step{Replies: []string{startText}, Action: Register, Values: map[string]string{}}},
		{name: "unregister", line: "unregister", want: Step{Action: Unregister}},
		{name: "status", line: "STATUS", want: Step{Action: Status}},
		{name: "reconnect", line: "reconnect now", want: Step{Action: Reconnect}},
		{name: "settings", line: "settings", want: Step{Action: ShowSettings}},
		{name: "set a yes/no setting: yes", line: "set stay_connected yes",
			want: Step{Action: SetSetting, Name: "stay_connected", Value: "true"}},
		{name: "set a yes/no setting: off", line: "set stay_connected  OFF ",
			want: Step{Action: SetSetting, Name: "stay_connected", Value: "false"}},
		{name: "set a yes/no setting: other words go as typed", line: "set stay_connected maybe",
			want: Step{Action: SetSetting, Name: "stay_connected", Value: "maybe"}},
		{name: "set a text setting keeps yes", line: "set nick_color yes please",
			want: Step{Action: SetSetting, Name: "nick_color", Value: "yes please"}},
		{name: "set an unknown setting", line: "set colour red",
			want: Step{Replies: []string{`There is no setting "colour". Send "settings" to list them.`}}},
		{name: "set nothing", line: "set",
			want: Step{Replies: []string{`There is no setting "". Send "settings" to list them.`}}},
		{name: "cancel without a dialog", line: "cancel", want: Step{Replies: []string{"Nothing to cancel."}}},
		{name: "unknown command, quoted as typed", line: "Frobnicate now",
			want: Step{Replies: []string{`Unknown command "Frobnicate". Send "help" for the list.`}}},
		{name: "empty line", line: "   ",
			want: Step{Replies: []string{`Unknown command "". Send "help" for the list.`}}},

		// In a dialog.
		{name: "answer a text field, trimmed; ask the secret", line: "  ircbob ", dialog: dialogAt(1, map[string]string{}),
			want: Step{Replies: []string{askPassword}, Dialog: dialogAt(2, map[string]string{"nick": "ircbob"})}},
		{name: "a command word is an answer too", line: "help", dialog: dialogAt(1, map[string]string{}),
			want: Step{Replies: []string{askPassword}, Dialog: dialogAt(2, map[string]string{"nick": "help"})}},
		{name: "a secret is taken as typed", line: " s3cret ", dialog: dialogAt(2, map[string]string{"nick": "ircbob"}),
			want: Step{Replies: []string{askServer}, Dialog: dialogAt(3, map[string]string{"nick": "ircbob", "password": " s3cret "})}},
		{name: "a required field left empty is asked again", line: " ", dialog: dialogAt(1, map[string]string{}),
			want: Step{Replies: []string{"Nickname is required.", askNick}, Dialog: dialogAt(1, map[string]string{})}},
		{name: "a required field skipped is asked again", line: "-", dialog: dialogAt(2, map[string]string{"nick": "ircbob"}),
			want: Step{Replies: []string{"Password is required.", askPassword}, Dialog: dialogAt(2, map[string]string{"nick": "ircbob"})}},
		{name: "an optional field skipped", line: "-", dialog: dialogAt(3, map[string]string{"nick": "ircbob", "password": "pw"}),
			want: Step{Replies: []string{askSecurity}, Dialog: dialogAt(4, map[string]string{"nick": "ircbob", "password": "pw", "server": ""})}},
		{name: "an optional field left empty", line: "", dialog: dialogAt(4, map[string]string{"nick": "ircbob"}),
			want: Step{Replies: []string{askSASL}, Dialog: dialogAt(5, map[string]string{"nick": "ircbob", "security": ""})}},
		{name: "the last answer registers", line: "yes", dialog: dialogAt(5, map[string]string{"nick": "ircbob", "password": "pw"}),
			want: Step{Action: Register, Values: map[string]string{"nick": "ircbob", "password": "pw", "sasl": "yes"}}},
		{name: "cancel ends the dialog", line: " Cancel ", dialog: dialogAt(2, map[string]string{"nick": "ircbob"}),
			want: Step{Replies: []string{"Registration cancelled."}}},
		{name: "cancel as the password too", line: "cancel", dialog: dialogAt(2, map[string]string{"nick": "ircbob"}),
			want: Step{Replies: []string{"Registration cancelled."}}},
		{name: "a dialog without values", line: "ircbob", dialog: &Dialog{Asked: 1},
			want: Step{Replies: []string{askPassword}, Dialog: dialogAt(2, map[string]string{"nick": "ircbob"})}},
		{name: "fields fewer than asked: registers with what it has", line: "x", dialog: dialogAt(3, map[string]string{"nick": "a"}),
			fields: login[:1], want: Step{Action: Register, Values: map[string]string{"nick": "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := tt.fields
			if fields == nil {
				fields = login
			}
			var before *Dialog
			if tt.dialog != nil {
				before = &Dialog{Asked: tt.dialog.Asked, Values: maps.Clone(tt.dialog.Values)}
			}
			got := Next(Input{Line: tt.line, Dialog: tt.dialog, Network: "IRC", Login: fields, Settings: settings})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Next(%q) =\n  %#v\nwant\n  %#v", tt.line, got, tt.want)
			}
			if !reflect.DeepEqual(tt.dialog, before) {
				t.Errorf("Next changed the dialog it was given: %#v, was %#v", tt.dialog, before)
			}
		})
	}
}

// TestNextWholeDialog: a whole registration, line by line, feeding each
// step's dialog to the next, and the password appears in no reply.
func TestNextWholeDialog(t *testing.T) {
	const secret = "hunter2-Zq"
	lines := []string{"register", "ircbob", "-", secret, "", "plain", "no"}
	var dl *Dialog
	var replies []string
	var last Step
	for _, l := range lines {
		last = Next(Input{Line: l, Dialog: dl, Network: "IRC", Login: login, Settings: settings})
		dl = last.Dialog
		replies = append(replies, last.Replies...)
	}
	want := []string{startText, askNick, askPassword, "Password is required.", askPassword, askServer, askSecurity, askSASL}
	if !slices.Equal(replies, want) {
		t.Errorf("replies =\n  %q\nwant\n  %q", replies, want)
	}
	wantValues := map[string]string{"nick": "ircbob", "password": secret, "server": "", "security": "plain", "sasl": "no"}
	if last.Action != Register || last.Dialog != nil || !maps.Equal(last.Values, wantValues) {
		t.Errorf("last step = %#v, want Register with %v and no dialog", last, wantValues)
	}
}

// TestSecretsNeverEchoed: whatever is typed as the password, in every
// state that asks it, no reply contains it, and it is kept as typed.
func TestSecretsNeverEchoed(t *testing.T) {
	secrets := []string{"hunter2-Zq", "  spaced secret  ", "pässwörd ✓", "registerX"}
	states := map[string]*Dialog{
		"asked":       dialogAt(2, map[string]string{"nick": "ircbob"}),
		"asked again": dialogAt(2, map[string]string{"nick": "ircbob", "password": "old-Zq"}),
		"last field":  dialogAt(1, map[string]string{}),
	}
	fields := map[string][]transports.Field{"asked": login, "asked again": login, "last field": login[1:2]}
	for name, dl := range states {
		for _, s := range secrets {
			st := Next(Input{Line: s, Dialog: dl, Network: "IRC", Login: fields[name], Settings: settings})
			for _, r := range st.Replies {
				if strings.Contains(r, strings.TrimSpace(s)) {
					t.Errorf("%s: reply %q repeats the secret %q", name, r, s)
				}
			}
			values := st.Values
			if st.Dialog != nil {
				values = st.Dialog.Values
			}
			if got := values["password"]; got != s {
				t.Errorf("%s: the secret was kept as %q, want %q as typed", name, got, s)
			}
		}
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[Action]string{None: "none", Register: "register", SetSetting: "set", Action(42): "Action(42)"} {
		if got := a.String(); got != want {
			t.Errorf("Action(%d).String() = %q, want %q", int(a), got, want)
		}
	}
}
