package chatdoor

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// The texts that answer an action once the component performed it. A
// reason is a stanza error's text (stanzaerr: said once, naming the
// account and server, never quoting a secret).

// RegisterRefused says a registration was not tried (too many requests).
func RegisterRefused(reason string) string { return "Registration refused: " + reason }

// Checking says the credentials are being tried, which may take a while.
func Checking(network string) string {
	return "Checking your credentials with " + network + "…"
}

// RegisterFailed says the login or the storing failed.
func RegisterFailed(reason string) string {
	return "Registration failed: " + reason + "\nSend \"register\" to try again."
}

// Registered says the registration is stored.
const Registered = "You are registered. Accept the gateway's presence subscription to see your connection state."

// UnregisterFailed says the registration could not be deleted.
func UnregisterFailed(reason string) string { return "Unregistration failed: " + reason }

// Unregistered says the registration and credentials are gone; the ad-hoc
// command says the same.
const Unregistered = "You are unregistered; your credentials are deleted."

// SettingSet says setting name is stored.
func SettingSet(name string) string { return "Set " + name + "." }

// SettingNotChanged says why a setting was not stored.
func SettingNotChanged(reason string) string { return "Not changed: " + reason }

// Account names the legacy account a user registered, as the status
// shows it: each plain text login field (nickname, address, server …)
// with its label, the field's default where the user left it empty;
// secrets and choices are left out, and so is a label's explanation in
// parentheses: "Nickname ircbob, IRC server irc.example". The values are
// the user's own, never a peer's.
func Account(fields []transports.Field, creds transports.Credentials) string {
	var parts []string
	for _, f := range fields {
		if f.Kind != transports.FieldText {
			continue
		}
		v := strings.TrimSpace(creds[f.Name])
		if v == "" {
			v = f.Default
		}
		if v == "" {
			continue
		}
		label, _, _ := strings.Cut(f.Label, " (")
		parts = append(parts, label+" "+v)
	}
	return strings.Join(parts, ", ")
}

// Connection is what the status of a registered user shows.
type Connection struct {
	// Network is the network's name as users read it.
	Network string
	// Account names the legacy account (Account), "" when unknown.
	Account string
	// Status is the legacy session's state.
	Status transports.Status
	// Resources are the user's available resources, highest priority
	// first.
	Resources []presence.Resource
}

// NotRegistered is the status of a user who has not registered.
func NotRegistered(network string) string {
	return "You are not registered with " + network + ". Send \"register\" to register."
}

// StatusText is the connection status, for the chat command and the
// ad-hoc command alike: which account on which network, in which state,
// the session's reason once (stanzaerr.Detail), the next retry, and the
// user's resources.
func StatusText(c Connection) string {
	var b strings.Builder
	b.WriteString(c.Network)
	if c.Account != "" {
		fmt.Fprintf(&b, " (%s)", c.Account)
	}
	fmt.Fprintf(&b, ": %s", c.Status.State)
	if c.Status.Text != "" {
		fmt.Fprintf(&b, " — %s", stanzaerr.Detail(c.Status.Text))
	}
	if c.Status.State == transports.StateTransientDisconnect {
		fmt.Fprintf(&b, "; next retry at %s UTC", c.Status.Retry.UTC().Format(time.TimeOnly))
	}
	if len(c.Resources) > 0 {
		b.WriteString("\nYour resources:")
		for _, r := range c.Resources {
			fmt.Fprintf(&b, "\n  %s (priority %d%s)", r.Name, r.Priority, showSuffix(r.Show))
		}
	}
	return b.String()
}

func showSuffix(show string) string {
	if show == "" {
		return ""
	}
	return ", " + show
}

// SettingsText lists the settings fields with the user's stored values
// (a field's default where none is stored).
func SettingsText(fields []transports.Field, stored map[string]string) string {
	var b strings.Builder
	b.WriteString("Your settings (change one with \"set NAME VALUE\"):")
	for _, f := range fields {
		v, ok := stored[f.Name]
		if !ok {
			v = f.Default
		}
		fmt.Fprintf(&b, "\n  %s = %s — %s", f.Name, v, f.Label)
	}
	return b.String()
}
