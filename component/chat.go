package component

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// The third door: plain chat with the gateway JID, for clients with neither
// a registration dialog nor ad-hoc commands. Replies are text.

// dialog is a registration in progress over chat: the answers so far and
// the index of the field being asked.
type dialog struct {
	values  map[string]string
	next    int
	expires time.Time
}

type dialogs struct {
	mu    sync.Mutex
	m     map[string]*dialog
	swept time.Time // last removal of abandoned dialogs
}

func newDialogs() *dialogs { return &dialogs{m: make(map[string]*dialog)} }

func (d *dialogs) get(user string) *dialog {
	d.mu.Lock()
	defer d.mu.Unlock()
	dl := d.m[user]
	if dl != nil && time.Now().After(dl.expires) {
		delete(d.m, user)
		return nil
	}
	return dl
}

// set stores user's dialog (nil ends it) and forgets abandoned ones, so
// that users who never finish a dialog do not accumulate.
func (d *dialogs) set(user string, dl *dialog) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	sweep(d.m, now, &d.swept, time.Minute, func(old *dialog) bool { return now.After(old.expires) })
	if dl == nil {
		delete(d.m, user)
		return
	}
	dl.expires = now.Add(10 * time.Minute)
	d.m[user] = dl
}

const chatHelp = `Commands:
  help        this text
  register    register (or change your credentials); I ask for each value
  unregister  delete your registration and credentials
  status      your connection state
  reconnect   reconnect to %[1]s
  settings    show your settings; "set NAME VALUE" changes one
  cancel      stop a registration in progress
Your client may also offer these as ad-hoc commands or a registration form.`

// chatCommand answers one message to the gateway JID. It runs in the user's
// lane, so it may block on the legacy network.
func (c *Component) chatCommand(from jid.JID, body string) {
	user := from.Bare()
	ctx := c.ctx()
	if dl := c.dialogs.get(user.String()); dl != nil {
		c.continueDialog(ctx, user, dl, body)
		return
	}
	word, rest, _ := strings.Cut(strings.TrimSpace(body), " ")
	switch strings.ToLower(word) {
	case "help", "?":
		c.sendText(user, fmt.Sprintf(chatHelp, c.net.Identity().Name))
	case "register":
		dl := &dialog{values: make(map[string]string)}
		c.sendText(user, "Registering with "+c.net.Identity().Name+". Send \"cancel\" to stop. Beware: your server may archive this conversation, passwords included; a registration form is safer if your client has one.")
		c.continueDialog(ctx, user, dl, "")
	case "unregister":
		roster, err := c.unregister(ctx, user)
		if err != nil {
			c.sendText(user, "Unregistration failed: "+stanzaerr.From(err).Text)
			return
		}
		c.sendText(user, "You are unregistered; your credentials are deleted.")
		c.afterUnregister(user, roster)
	case "status":
		c.sendText(user, c.statusText(ctx, user))
	case "reconnect":
		text, err := c.reconnect(ctx, user)
		if err != nil {
			text = stanzaerr.From(err).Text
		}
		c.sendText(user, text)
	case "settings":
		c.sendText(user, c.settingsText(ctx, user))
	case "set":
		name, value, _ := strings.Cut(strings.TrimSpace(rest), " ")
		c.sendText(user, c.setSetting(ctx, user, name, strings.TrimSpace(value)))
	case "cancel":
		c.sendText(user, "Nothing to cancel.")
	default:
		c.sendText(user, "Unknown command "+fmt.Sprintf("%q", word)+". Send \"help\" for the list.")
	}
}

// continueDialog records answer for the current field (if any) and asks
// the next one, or registers once every field is answered.
func (c *Component) continueDialog(ctx context.Context, user jid.JID, dl *dialog, answer string) {
	fields := c.net.LoginFields()
	if strings.EqualFold(strings.TrimSpace(answer), "cancel") {
		c.dialogs.set(user.String(), nil)
		c.sendText(user, "Registration cancelled.")
		return
	}
	if dl.next > 0 {
		f := fields[dl.next-1]
		a := answer
		if f.Kind != transports.FieldSecret {
			a = strings.TrimSpace(a)
		}
		if a == "-" || a == "" {
			if f.Required {
				c.sendText(user, f.Label+" is required.")
				c.askField(user, f)
				c.dialogs.set(user.String(), dl)
				return
			}
			a = ""
		}
		dl.values[f.Name] = a
	}
	if dl.next < len(fields) {
		c.askField(user, fields[dl.next])
		dl.next++
		c.dialogs.set(user.String(), dl)
		return
	}
	c.dialogs.set(user.String(), nil)
	if err := c.commandAllowed(user.String()); err != nil {
		c.sendText(user, "Registration refused: "+stanzaerr.From(err).Text)
		return
	}
	c.sendText(user, "Checking your credentials with "+c.net.Identity().Name+"…")
	if err := c.register(ctx, user, dl.values); err != nil {
		c.sendText(user, "Registration failed: "+stanzaerr.From(err).Text+"\nSend \"register\" to try again.")
		return
	}
	c.sendText(user, "You are registered. Accept the gateway's presence subscription to see your connection state.")
	c.afterRegister(user)
}

func (c *Component) askField(user jid.JID, f transports.Field) {
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
	c.sendText(user, q+"?")
}

// statusText describes the user's registration and connection state.
func (c *Component) statusText(ctx context.Context, user jid.JID) string {
	name := c.net.Identity().Name
	if !c.registered(ctx, user) {
		return "You are not registered with " + name + ". Send \"register\" to register."
	}
	st := c.sup.Status(user.String())
	var b strings.Builder
	b.WriteString(name)
	if acct := c.accountText(ctx, user); acct != "" {
		fmt.Fprintf(&b, " (%s)", acct)
	}
	fmt.Fprintf(&b, ": %s", st.State)
	if st.Text != "" {
		fmt.Fprintf(&b, " — %s", stanzaerr.Detail(st.Text))
	}
	if st.State == transports.StateTransientDisconnect {
		fmt.Fprintf(&b, "; next retry at %s UTC", st.Retry.UTC().Format("15:04:05"))
	}
	res := c.presence.List(user.String())
	if len(res) > 0 {
		b.WriteString("\nYour resources:")
		for _, r := range res {
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

// reconnect restarts the user's legacy session, at most
// CommandsPerMinute times a minute (with registrations).
func (c *Component) reconnect(ctx context.Context, user jid.JID) (string, error) {
	if !c.registered(ctx, user) {
		return "", errorf("auth", "registration-required", "You are not registered.")
	}
	if err := c.commandAllowed(user.String()); err != nil {
		return "", err
	}
	if !c.sup.Restart(user.String()) {
		c.startUser(ctx, user)
	}
	return "Reconnecting to " + c.net.Identity().Name + ".", nil
}

func (c *Component) settingsText(ctx context.Context, user jid.JID) string {
	if !c.registered(ctx, user) {
		return "You are not registered."
	}
	s, err := c.reg.Settings(ctx, user.String(), c.net.Name())
	if err != nil {
		return "Your settings could not be read; try again later."
	}
	var b strings.Builder
	b.WriteString("Your settings (change one with \"set NAME VALUE\"):")
	for _, f := range c.settingsFields() {
		v, ok := s[f.Name]
		if !ok {
			v = f.Default
		}
		fmt.Fprintf(&b, "\n  %s = %s — %s", f.Name, v, f.Label)
	}
	return b.String()
}

func (c *Component) setSetting(ctx context.Context, user jid.JID, name, value string) string {
	for _, f := range c.settingsFields() {
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
		if err := c.saveSettings(ctx, user, map[string]string{name: value}); err != nil {
			return "Not changed: " + stanzaerr.From(err).Text
		}
		return "Set " + name + "."
	}
	return fmt.Sprintf("There is no setting %q. Send \"settings\" to list them.", name)
}

// saveSettings validates and merges changed settings into the stored ones.
func (c *Component) saveSettings(ctx context.Context, user jid.JID, changed map[string]string) error {
	if !c.registered(ctx, user) {
		return errorf("auth", "registration-required", "Register first.")
	}
	cur, err := c.reg.Settings(ctx, user.String(), c.net.Name())
	if err != nil {
		return errorf("wait", "internal-server-error", "Settings could not be read; try again later.")
	}
	merged := make(map[string]string, len(cur)+len(changed))
	for k, v := range cur {
		merged[k] = v
	}
	for k, v := range changed {
		merged[k] = v
	}
	clean, serr := checkValues(c.settingsFields(), merged)
	if serr != nil {
		return serr
	}
	for k, v := range cur { // keep the component's hidden settings
		if strings.HasPrefix(k, "_") {
			clean[k] = v
		}
	}
	if err := c.reg.SetSettings(ctx, user.String(), c.net.Name(), clean); err != nil {
		return errorf("wait", "internal-server-error", "Settings could not be stored; try again later.")
	}
	return nil
}
