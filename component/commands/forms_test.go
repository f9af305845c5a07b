package commands

import (
	"errors"
	"slices"
	"testing"

	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

var login = []transports.Field{
	{Name: "nick", Label: "Nickname", Required: true},
	{Name: "password", Label: "Password", Kind: transports.FieldSecret},
	{Name: "server", Label: "Server", Default: "irc.example"},
}

// field returns f's field var, or fails.
func field(t *testing.T, f *regform.Form, name string) regform.Field {
	t.Helper()
	for _, ff := range f.Fields {
		if ff.Var == name {
			return ff
		}
	}
	t.Fatalf("form %q has no field %q: %+v", f.Title, name, f.Fields)
	return regform.Field{}
}

// TestRegisterForm: the network's login fields, filled with what the user
// registered with before, never with a secret.
func TestRegisterForm(t *testing.T) {
	tests := []struct {
		name               string
		prev               map[string]string
		nick, pass, server []string
	}{
		{"first registration", nil, nil, nil, []string{"irc.example"}},
		{"registered before", map[string]string{"nick": "ircbob", "password": "hunter2", "server": "irc.other"},
			[]string{"ircbob"}, nil, []string{"irc.other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := RegisterForm("IRC", "Register with your IRC account.", login, tt.prev)
			if f.Type != "form" || f.Title != "IRC registration" || !slices.Equal(f.Instructions, []string{"Register with your IRC account."}) {
				t.Errorf("form %q %q %q", f.Type, f.Title, f.Instructions)
			}
			if len(f.Fields) != len(login) {
				t.Errorf("%d fields, want %d", len(f.Fields), len(login))
			}
			if got := field(t, f, "nick"); !slices.Equal(got.Values, tt.nick) || got.Required == nil {
				t.Errorf("nick = %q (required %v), want %q, required", got.Values, got.Required != nil, tt.nick)
			}
			if got := field(t, f, "password"); got.Type != "text-private" || !slices.Equal(got.Values, tt.pass) {
				t.Errorf("password = %s %q, want text-private %q", got.Type, got.Values, tt.pass)
			}
			if got := field(t, f, "server"); !slices.Equal(got.Values, tt.server) {
				t.Errorf("server = %q, want %q", got.Values, tt.server)
			}
		})
	}
}

// TestUnregisterConfirmation: only an XEP-0004 true unregisters.
func TestUnregisterConfirmation(t *testing.T) {
	f := UnregisterForm()
	if got := field(t, f, "confirm"); got.Type != "boolean" || !slices.Equal(got.Values, []string{"false"}) {
		t.Errorf("confirm = %s %q, want boolean false", got.Type, got.Values)
	}
	tests := []struct {
		sub  *regform.Submitted
		want bool
	}{
		{nil, false},
		{&regform.Submitted{Type: "submit", Values: map[string]string{}}, false},
		{&regform.Submitted{Type: "submit", Values: map[string]string{"confirm": "false"}}, false},
		{&regform.Submitted{Type: "submit", Values: map[string]string{"confirm": "0"}}, false},
		{&regform.Submitted{Type: "submit", Values: map[string]string{"confirm": "yes"}}, false},
		{&regform.Submitted{Type: "submit", Values: map[string]string{"confirm": "1"}}, true},
		{&regform.Submitted{Type: "submit", Values: map[string]string{"confirm": "true"}}, true},
	}
	for _, tt := range tests {
		if got := Confirmed(tt.sub); got != tt.want {
			t.Errorf("Confirmed(%+v) = %v, want %v", tt.sub, got, tt.want)
		}
	}
}

// TestSettingsForm: the settings with the current values, defaults for
// those never set.
func TestSettingsForm(t *testing.T) {
	fields := []transports.Field{
		{Name: "stay_connected", Label: "Stay connected", Kind: transports.FieldBool, Default: "false"},
		{Name: "nick_color", Label: "Colour"},
	}
	tests := []struct {
		cur        map[string]string
		stay, nick []string
	}{
		{nil, []string{"false"}, nil},
		{map[string]string{"stay_connected": "true", "nick_color": "red"}, []string{"true"}, []string{"red"}},
	}
	for _, tt := range tests {
		f := SettingsForm(fields, tt.cur)
		if f.Type != "form" || f.Title != "Settings" || len(f.Fields) != 2 {
			t.Errorf("form %q %q with %d fields", f.Type, f.Title, len(f.Fields))
		}
		if got := field(t, f, "stay_connected"); got.Type != "boolean" || !slices.Equal(got.Values, tt.stay) {
			t.Errorf("%v: stay_connected = %s %q, want boolean %q", tt.cur, got.Type, got.Values, tt.stay)
		}
		if got := field(t, f, "nick_color"); !slices.Equal(got.Values, tt.nick) {
			t.Errorf("%v: nick_color = %q, want %q", tt.cur, got.Values, tt.nick)
		}
	}
}

// TestUsersResult: the users as a jid-multi field, and a note with their
// number and each one's state.
func TestUsersResult(t *testing.T) {
	tests := []struct {
		name  string
		users []UserState
		want  []string
		note  string
	}{
		{"none", nil, nil, "0 registered users.\n"},
		{"two", []UserState{{"a@example.org", transports.StateConnected}, {"b@example.org", transports.StateDisconnected}},
			[]string{"a@example.org", "b@example.org"},
			"2 registered users.\na@example.org: " + transports.StateConnected.String() + "\nb@example.org: " + transports.StateDisconnected.String() + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, note := UsersResult(tt.users)
			if f.Type != "result" || len(f.Fields) != 1 {
				t.Fatalf("form %q with %d fields, want a result with one", f.Type, len(f.Fields))
			}
			if got := field(t, f, "users"); got.Type != "jid-multi" || !slices.Equal(got.Values, tt.want) {
				t.Errorf("users = %s %q, want jid-multi %q", got.Type, got.Values, tt.want)
			}
			if note != tt.note {
				t.Errorf("note = %q, want %q", note, tt.note)
			}
		})
	}
}

// TestStatisticsForm: one result field per figure, each its own.
func TestStatisticsForm(t *testing.T) {
	f := StatisticsForm(Statistics{RegisteredUsers: 1, OnlineUsers: 2, Sessions: 3, ConnectedUsers: 4,
		MessagesToNet: 5, MessagesFromNet: 6, StanzasIn: 7, StanzasOut: 8, OutboxPending: 9})
	if f.Type != "result" || f.Title != "Statistics" {
		t.Errorf("form %q %q", f.Type, f.Title)
	}
	want := []struct{ name, value string }{
		{"registered-users", "1"}, {"online-users", "2"}, {"legacy-sessions", "3"}, {"legacy-connected", "4"},
		{"messages-to-legacy", "5"}, {"messages-from-legacy", "6"}, {"stanzas-in", "7"}, {"stanzas-out", "8"},
		{"outbox-pending", "9"},
	}
	if len(f.Fields) != len(want) {
		t.Errorf("%d fields, want %d", len(f.Fields), len(want))
	}
	for _, w := range want {
		if got := field(t, f, w.name); !slices.Equal(got.Values, []string{w.value}) {
			t.Errorf("%s = %q, want %s", w.name, got.Values, w.value)
		}
	}
}

// TestDisconnectTarget: a user's JID, bare; anything else is bad-request
// quoting what was given.
func TestDisconnectTarget(t *testing.T) {
	if got := field(t, DisconnectForm(), "user"); got.Type != "jid-single" || got.Required == nil {
		t.Errorf("user = %s (required %v), want a required jid-single", got.Type, got.Required != nil)
	}
	tests := []struct {
		sub  *regform.Submitted
		want string // the bare JID, or the error's text
	}{
		{&regform.Submitted{Values: map[string]string{"user": "bob@example.org"}}, "bob@example.org"},
		{&regform.Submitted{Values: map[string]string{"user": "bob@example.org/phone"}}, "bob@example.org"},
		{&regform.Submitted{Values: map[string]string{"user": "example.org"}}, `"example.org" is not a user's JID.`},
		{&regform.Submitted{Values: map[string]string{"user": "a@b@c"}}, `"a@b@c" is not a user's JID.`},
		{&regform.Submitted{Values: map[string]string{}}, `"" is not a user's JID.`},
		{nil, `"" is not a user's JID.`},
	}
	for _, tt := range tests {
		u, err := DisconnectTarget(tt.sub)
		var se *stanzaerr.Error
		switch {
		case err == nil:
			if u.String() != tt.want {
				t.Errorf("DisconnectTarget(%+v) = %s, want %s", tt.sub, u, tt.want)
			}
		case errors.As(err, &se):
			if se.Condition != "bad-request" || se.Text != tt.want {
				t.Errorf("DisconnectTarget(%+v): %s %q, want %q", tt.sub, se.Condition, se.Text, tt.want)
			}
		default:
			t.Errorf("DisconnectTarget(%+v): %v is not a stanza error", tt.sub, err)
		}
	}
}
