package commands

import (
	"fmt"
	"strconv"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// The pure parts of the commands' stages: the forms they ask with, how
// they read the answers, and the results they write. No I/O, no state.

// RegisterForm is the "register" command's question: network's login
// fields under instructions, filled with what the user registered with
// before (prev, nil for none; regform.Build never echoes a secret).
func RegisterForm(network, instructions string, login []transports.Field, prev map[string]string) *regform.Form {
	return regform.Build("form", network+" registration", instructions, "", login, prev)
}

// UnregisterForm is the "unregister" command's question: a confirmation,
// false unless the user ticks it.
func UnregisterForm() *regform.Form {
	return &regform.Form{Type: "form", Title: "Unregister",
		Instructions: []string{"This deletes your registration and credentials. Continue?"},
		Fields:       []regform.Field{{Type: "boolean", Var: "confirm", Label: "Yes, unregister me", Values: []string{"false"}}},
	}
}

// Confirmed reports whether sub ticks UnregisterForm's confirmation (an
// XEP-0004 boolean: "1" or "true"); anything else changes nothing.
func Confirmed(sub *regform.Submitted) bool {
	if sub == nil {
		return false
	}
	ok, _ := strconv.ParseBool(sub.Values["confirm"])
	return ok
}

// SettingsForm is the "settings" command's question: the settings fields
// filled with the user's current values.
func SettingsForm(fields []transports.Field, current map[string]string) *regform.Form {
	return regform.Build("form", "Settings", "", "", fields, current)
}

// UserState is one registered user as "list-users" shows them.
type UserState struct {
	User  string // bare JID
	State transports.State
}

// UsersResult is "list-users"' answer: the registered users' JIDs as a
// jid-multi result field, and a note saying how many and each one's
// session state.
func UsersResult(users []UserState) (*regform.Form, string) {
	rows := make([]string, 0, len(users))
	var note string
	for _, u := range users {
		rows = append(rows, u.User)
		note += fmt.Sprintf("%s: %s\n", u.User, u.State)
	}
	f := &regform.Form{Type: "result", Title: "Registered users",
		Fields: []regform.Field{{Type: "jid-multi", Var: "users", Label: "Users", Values: rows}}}
	return f, fmt.Sprintf("%d registered users.\n%s", len(users), note)
}

// Statistics are the figures the "statistics" command shows.
type Statistics struct {
	RegisteredUsers int   // registrations with this network
	OnlineUsers     int   // users with an available resource
	Sessions        int   // legacy sessions running
	ConnectedUsers  int   // of which connected
	MessagesToNet   int64 // since start
	MessagesFromNet int64
	StanzasIn       int64
	StanzasOut      int64
	OutboxPending   int // stanzas waiting in the outbox
}

// StatisticsForm is "statistics"' answer, one result field per figure.
func StatisticsForm(st Statistics) *regform.Form {
	return regform.Result("Statistics", [][2]string{
		{"registered-users", strconv.Itoa(st.RegisteredUsers)},
		{"online-users", strconv.Itoa(st.OnlineUsers)},
		{"legacy-sessions", strconv.Itoa(st.Sessions)},
		{"legacy-connected", strconv.Itoa(st.ConnectedUsers)},
		{"messages-to-legacy", strconv.FormatInt(st.MessagesToNet, 10)},
		{"messages-from-legacy", strconv.FormatInt(st.MessagesFromNet, 10)},
		{"stanzas-in", strconv.FormatInt(st.StanzasIn, 10)},
		{"stanzas-out", strconv.FormatInt(st.StanzasOut, 10)},
		{"outbox-pending", strconv.Itoa(st.OutboxPending)},
	})
}

// DisconnectForm is the "disconnect-user" command's question: which user.
func DisconnectForm() *regform.Form {
	return &regform.Form{Type: "form", Title: "Disconnect a user",
		Instructions: []string{"The user's legacy session is closed until they come online again or reconnect."},
		Fields:       []regform.Field{{Type: "jid-single", Var: "user", Label: "User", Required: &struct{}{}}}}
}

// DisconnectTarget reads DisconnectForm's answer: the bare JID of a user
// (one with a localpart), or bad-request quoting what was given.
func DisconnectTarget(sub *regform.Submitted) (jid.JID, error) {
	var v string
	if sub != nil {
		v = sub.Values["user"]
	}
	u, err := jid.Parse(v)
	if err != nil || u.Localpart() == "" {
		return jid.JID{}, stanzaerr.New("modify", "bad-request", "%q is not a user's JID.", v)
	}
	return u.Bare(), nil
}

// AdminCommandForm is the question of the network's admin command ac:
// its fields under its instructions, empty.
func AdminCommandForm(ac transports.AdminCommand) *regform.Form {
	return regform.Build("form", ac.Name, ac.Instructions, "", ac.Fields, nil)
}
