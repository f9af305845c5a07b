// Package chatdoor is the gateway's third door, after the XEP-0077
// registration form and the XEP-0050 commands: plain chat with the
// gateway's bare JID, for clients that have neither. The user types
// commands ("help", "register", "status", "set NAME VALUE" …) and the
// gateway answers in text; "register" starts a dialog that asks for each
// of the network's login fields in turn.
//
// The dialog is a pure state machine (Next: the typed line, the dialog so
// far and the network's fields in, the replies and the one action to
// perform out), table-tested transition by transition. Service runs it
// for the component: it keeps each user's dialog (Dialogs) and performs
// the actions through Core, the small interface of the bridge core that
// package component implements.
package chatdoor

import (
	"fmt"
	"maps"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// Dialog is a registration in progress over chat: the answers so far, by
// field name, and the number of fields asked (the next answer is for
// field Asked-1). Next never changes a Dialog it is given.
type Dialog struct {
	Values map[string]string
	Asked  int
}

// Action is what the component must do after a line, beyond sending
// Step.Replies.
type Action int

const (
	// None: the replies say everything.
	None Action = iota
	// Register: check the rate of requests, then log in with
	// Step.Values and store them (see RegisterRefused and the texts
	// after it).
	Register
	// Unregister: delete the registration (Unregistered,
	// UnregisterFailed).
	Unregister
	// Status: answer with the connection status (StatusText).
	Status
	// Reconnect: restart the user's legacy session.
	Reconnect
	// ShowSettings: answer with the settings (SettingsText).
	ShowSettings
	// SetSetting: store Step.Name = Step.Value (SettingSet,
	// SettingNotChanged).
	SetSetting
)

var actionNames = [...]string{"none", "register", "unregister", "status", "reconnect", "settings", "set"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Input is one line the user typed to the gateway, with what Next needs
// to answer it.
type Input struct {
	// Line is the message body as the user sent it.
	Line string
	// Dialog is the user's registration in progress, nil when none is.
	Dialog *Dialog
	// Network is the network's name as users read it ("IRC").
	Network string
	// Login are the network's login fields, in the order they are asked;
	// Settings the per-user settings "set" may change.
	Login, Settings []transports.Field
}

// Step is Next's answer to one line.
type Step struct {
	// Replies are sent to the user first, in order.
	Replies []string
	// Dialog is the user's dialog from now on: nil when none is in
	// progress (ended, cancelled, or never started).
	Dialog *Dialog
	// Action is what to do after the replies.
	Action Action
	// Values are the answers to register with (Action Register).
	Values map[string]string
	// Name and Value are the setting to store (Action SetSetting), the
	// value of a yes/no setting already read as "true" or "false".
	Name, Value string
}

// Help is the text "help" answers, for the network named network.
func Help(network string) string {
	return fmt.Sprintf(`Commands:
  help        this text
  register    register (or change your credentials); I ask for each value
  unregister  delete your registration and credentials
  status      your connection state
  reconnect   reconnect to %[1]s
  settings    show your settings; "set NAME VALUE" changes one
  cancel      stop a registration in progress
Your client may also offer these as ad-hoc commands or a registration form.`, network)
}

// Next answers one line: a command, or, while a registration dialog is in
// progress, the answer to the field asked last. It does no I/O. No reply
// ever repeats an answer the user gave.
func Next(in Input) Step {
	if in.Dialog != nil {
		return answer(in, in.Dialog)
	}
	word, rest, _ := strings.Cut(strings.TrimSpace(in.Line), " ")
	switch strings.ToLower(word) {
	case "help", "?":
		return Step{Replies: []string{Help(in.Network)}}
	case "register":
		start := "Registering with " + in.Network + ". Send \"cancel\" to stop. Beware: your server may archive this conversation, passwords included; a registration form is safer if your client has one."
		st := ask(in, &Dialog{Values: map[string]string{}})
		st.Replies = append([]string{start}, st.Replies...)
		return st
	case "unregister":
		return Step{Action: Unregister}
	case "status":
		return Step{Action: Status}
	case "reconnect":
		return Step{Action: Reconnect}
	case "settings":
		return Step{Action: ShowSettings}
	case "set":
		return set(in.Settings, rest)
	case "cancel":
		return Step{Replies: []string{"Nothing to cancel."}}
	}
	return Step{Replies: []string{fmt.Sprintf("Unknown command %q. Send \"help\" for the list.", word)}}
}

// answer records the answer to the field asked last and asks the next
// one, or ends the dialog with Register once every field is answered;
// "cancel" ends it without.
func answer(in Input, prev *Dialog) Step {
	if strings.EqualFold(strings.TrimSpace(in.Line), "cancel") {
		return Step{Replies: []string{"Registration cancelled."}}
	}
	dl := &Dialog{Values: maps.Clone(prev.Values), Asked: prev.Asked}
	if dl.Values == nil {
		dl.Values = map[string]string{}
	}
	if dl.Asked > 0 && dl.Asked <= len(in.Login) {
		f := in.Login[dl.Asked-1]
		a := in.Line
		if f.Kind != transports.FieldSecret {
			a = strings.TrimSpace(a) // a password is taken as typed
		}
		if a == "-" || a == "" {
			if f.Required {
				return Step{Replies: []string{f.Label + " is required.", question(f)}, Dialog: dl}
			}
			a = ""
		}
		dl.Values[f.Name] = a
	}
	return ask(in, dl)
}

// ask asks the next field of dl, or ends it with Register when none is
// left.
func ask(in Input, dl *Dialog) Step {
	if dl.Asked < len(in.Login) {
		q := question(in.Login[dl.Asked])
		dl.Asked++
		return Step{Replies: []string{q}, Dialog: dl}
	}
	return Step{Action: Register, Values: dl.Values}
}

// question asks for field f: its label, explanation, the choices and
// whether it may be skipped.
func question(f transports.Field) string {
	q := f.Label
	if f.Desc != "" {
		q += " (" + f.Desc + ")"
	}
	switch f.Kind {
	case transports.FieldBool:
		q += " [yes/no]"
	case transports.FieldList:
		var opts []string
		for _, o := range f.Options {
			opts = append(opts, o.Value)
		}
		q += " [" + strings.Join(opts, ", ") + "]"
	}
	if !f.Required {
		q += " — optional, \"-\" to skip"
		if f.Default != "" {
			q += ", default " + f.Default
		}
	}
	return q + "?"
}

// set reads "NAME VALUE" (what follows "set"): a known setting becomes
// the action SetSetting, "yes"/"on" and "no"/"off" of a yes/no setting
// read as "true" and "false"; an unknown one is answered at once.
func set(fields []transports.Field, rest string) Step {
	name, value, _ := strings.Cut(strings.TrimSpace(rest), " ")
	value = strings.TrimSpace(value)
	for _, f := range fields {
		if f.Name != name {
			continue
		}
		if f.Kind == transports.FieldBool {
			switch strings.ToLower(value) {
			case "yes", "on":
				value = "true"
			case "no", "off":
				value = "false"
			}
		}
		return Step{Action: SetSetting, Name: name, Value: value}
	}
	return Step{Replies: []string{fmt.Sprintf("There is no setting %q. Send \"settings\" to list them.", name)}}
}
