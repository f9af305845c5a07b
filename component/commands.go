package component

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/adhoc"
	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports"
)

// The component's XEP-0050 commands: their steps need the component;
// package adhoc owns the protocol (the <command/> element, sessions, which
// action is allowed when) and drives these steps.

// command and cmdResult keep the steps below short.
type (
	command   = adhoc.Command
	cmdResult = adhoc.Result
)

// newCommands returns the component's command provider: the commands of
// commandList, the admin ones for c.isAdmin, sessions as adhoc's defaults.
func (c *Component) newCommands() *adhoc.Provider {
	return &adhoc.Provider{Commands: c.commandList, IsAdmin: c.isAdmin, Sessions: adhoc.NewSessions(0, 0)}
}

// commandList is every command, in the order clients show them.
func (c *Component) commandList() []command {
	return append(c.baseCommands(), c.networkCommands()...)
}

// networkCommands are the network's own commands (Capabilities.Commands),
// run by the user's adapter.
func (c *Component) networkCommands() []command {
	var out []command
	for _, nc := range c.netCaps().Commands {
		node := nc.Node
		out = append(out, command{Node: node, Name: nc.Name, Step: func(ctx context.Context, from jid.JID, _ *regform.Submitted) (cmdResult, error) {
			a := c.sup.Adapter(from.Bare().String())
			r, ok := a.(transports.CommandRunner)
			if a == nil || !ok {
				return cmdResult{}, stanzaerr.New("wait", "recipient-unavailable", "You are not connected to %s.", c.net.Identity().Name)
			}
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			text, err := r.RunCommand(rctx, node)
			if err != nil {
				return cmdResult{}, stanzaerr.FromLegacy(err)
			}
			return cmdResult{Note: text}, nil
		}})
	}
	return out
}

func (c *Component) baseCommands() []command {
	return []command{
		{Node: "register", Name: "Register", Step: c.cmdRegister},
		{Node: "unregister", Name: "Unregister", Step: c.cmdUnregister},
		{Node: "status", Name: "Connection status", Step: c.cmdStatus},
		{Node: "settings", Name: "Settings", Step: c.cmdSettings},
		{Node: "reconnect", Name: "Reconnect", Step: c.cmdReconnect},
		{Node: "list-users", Name: "List registered users", Admin: true, Step: c.cmdListUsers},
		{Node: "statistics", Name: "Statistics", Admin: true, Step: c.cmdStatistics},
		{Node: "disconnect-user", Name: "Disconnect a user", Admin: true, Step: c.cmdDisconnect},
	}
}

// commandsFor returns the commands from may see and run: none for a user
// this gateway does not serve.
func (c *Component) commandsFor(from jid.JID) []command {
	if !c.allowedUser(from) {
		return nil
	}
	return c.commands.List(from)
}

// command returns command node if from may run it.
func (c *Component) command(node string, from jid.JID) (command, bool) {
	if !c.allowedUser(from) {
		return command{}, false
	}
	return c.commands.Lookup(node, from)
}

// handleCommand answers a <command/> request: at once if adhoc refuses it
// or it is a cancel, else after the command's stage ran on the user's
// worker (admit).
func (c *Component) handleCommand(s *stanza.In, q *node) {
	req, err := adhoc.ParseRequest(q)
	if err != nil {
		c.replyError(s.Element, stanzaerr.From(err))
		return
	}
	call, res, err := c.commands.Accept(s.From, req)
	switch {
	case err != nil:
		c.replyError(s.Element, stanzaerr.From(err))
		return
	case res != nil:
		c.result(s, res)
		return
	}
	c.admit(s, func() {
		res, err := call.Run(c.ctx())
		if err != nil {
			c.replyError(s.Element, stanzaerr.From(err))
			return
		}
		c.result(s, res)
	})
}

func (c *Component) cmdRegister(ctx context.Context, from jid.JID, sub *regform.Submitted) (cmdResult, error) {
	user := from.Bare()
	if sub == nil {
		var prev map[string]string
		if r, err := c.reg.Lookup(ctx, user.String(), c.net.Name()); err == nil {
			prev = r.Credentials
		}
		return cmdResult{Next: true, Form: regform.Build("form", c.net.Identity().Name+" registration", c.registerInstructions(), "", c.net.LoginFields(), prev)}, nil
	}
	if err := c.commandAllowed(user.String()); err != nil {
		return cmdResult{}, err
	}
	if err := c.register(ctx, user, sub.Values); err != nil {
		return cmdResult{}, err
	}
	c.afterRegister(user)
	return cmdResult{Note: "You are registered with " + c.net.Identity().Name + "."}, nil
}

func (c *Component) cmdUnregister(ctx context.Context, from jid.JID, sub *regform.Submitted) (cmdResult, error) {
	user := from.Bare()
	if sub == nil {
		return cmdResult{Next: true, Form: &regform.Form{Type: "form", Title: "Unregister",
			Instructions: []string{"This deletes your registration and credentials. Continue?"},
			Fields:       []regform.Field{{Type: "boolean", Var: "confirm", Label: "Yes, unregister me", Values: []string{"false"}}},
		}}, nil
	}
	if ok, _ := strconv.ParseBool(sub.Values["confirm"]); !ok {
		return cmdResult{Note: "Nothing was changed."}, nil
	}
	roster, err := c.unregister(ctx, user)
	if err != nil {
		return cmdResult{}, err
	}
	c.afterUnregister(user, roster)
	return cmdResult{Note: "You are unregistered; your credentials are deleted."}, nil
}

// cmdStatus answers with the same text as the chat command "status",
// which says everything once; a result form beside it would repeat it.
func (c *Component) cmdStatus(ctx context.Context, from jid.JID, _ *regform.Submitted) (cmdResult, error) {
	return cmdResult{Note: c.chat.Status(ctx, from.Bare())}, nil
}

func (c *Component) cmdSettings(ctx context.Context, from jid.JID, sub *regform.Submitted) (cmdResult, error) {
	user := from.Bare()
	if !c.registered(ctx, user) {
		return cmdResult{}, stanzaerr.New("auth", "registration-required", "Register first.")
	}
	if sub == nil {
		cur, err := c.reg.Settings(ctx, user.String(), c.net.Name())
		if err != nil {
			return cmdResult{}, stanzaerr.New("wait", "internal-server-error", "Settings could not be read; try again later.")
		}
		return cmdResult{Next: true, Form: regform.Build("form", "Settings", "", "", c.settingsFields(), cur)}, nil
	}
	if err := c.saveSettings(ctx, user, sub.Values); err != nil {
		return cmdResult{}, err
	}
	return cmdResult{Note: "Settings saved."}, nil
}

func (c *Component) cmdReconnect(ctx context.Context, from jid.JID, _ *regform.Submitted) (cmdResult, error) {
	text, err := c.chat.Reconnect(ctx, from.Bare())
	if err != nil {
		return cmdResult{}, err
	}
	return cmdResult{Note: text}, nil
}

func (c *Component) cmdListUsers(ctx context.Context, _ jid.JID, _ *regform.Submitted) (cmdResult, error) {
	f := &regform.Form{Type: "result", Title: "Registered users"}
	f.Fields = append(f.Fields, regform.Field{Type: "jid-multi", Var: "users", Label: "Users"})
	rows := []string{}
	err := c.reg.List(ctx, c.net.Name(), func(r registry.Registration) error {
		rows = append(rows, r.User)
		return nil
	})
	if err != nil {
		return cmdResult{}, stanzaerr.New("wait", "internal-server-error", "The registration database is not available.")
	}
	f.Fields[0].Values = rows
	var note string
	for _, u := range rows {
		note += fmt.Sprintf("%s: %s\n", u, c.sup.Status(u).State)
	}
	return cmdResult{Form: f, Note: fmt.Sprintf("%d registered users.\n%s", len(rows), note)}, nil
}

func (c *Component) cmdStatistics(ctx context.Context, _ jid.JID, _ *regform.Submitted) (cmdResult, error) {
	st := c.Stats()
	n, err := c.reg.Count(ctx, c.net.Name())
	if err != nil {
		return cmdResult{}, stanzaerr.New("wait", "internal-server-error", "The registration database is not available.")
	}
	rows := [][2]string{
		{"registered-users", strconv.Itoa(n)},
		{"online-users", strconv.Itoa(st.OnlineUsers)},
		{"legacy-sessions", strconv.Itoa(st.Sessions)},
		{"legacy-connected", strconv.Itoa(st.ConnectedUsers)},
		{"messages-to-legacy", strconv.FormatInt(st.MessagesToNet, 10)},
		{"messages-from-legacy", strconv.FormatInt(st.MessagesFromNet, 10)},
		{"stanzas-in", strconv.FormatInt(st.StanzasIn, 10)},
		{"stanzas-out", strconv.FormatInt(st.StanzasOut, 10)},
		{"outbox-pending", strconv.Itoa(st.OutboxPending)},
	}
	return cmdResult{Form: regform.Result("Statistics", rows)}, nil
}

func (c *Component) cmdDisconnect(ctx context.Context, _ jid.JID, sub *regform.Submitted) (cmdResult, error) {
	if sub == nil {
		f := &regform.Form{Type: "form", Title: "Disconnect a user",
			Instructions: []string{"The user's legacy session is closed until they come online again or reconnect."},
			Fields:       []regform.Field{{Type: "jid-single", Var: "user", Label: "User", Required: &struct{}{}}}}
		return cmdResult{Next: true, Form: f}, nil
	}
	u, err := jid.Parse(sub.Values["user"])
	if err != nil || u.Localpart() == "" {
		return cmdResult{}, stanzaerr.New("modify", "bad-request", "%q is not a user's JID.", sub.Values["user"])
	}
	user := u.Bare().String()
	if !c.sup.Running(user) {
		return cmdResult{Note: user + " has no legacy session.", NoteType: commands.NoteWarn}, nil
	}
	c.sup.Stop(user)
	c.sendText(u.Bare(), "An administrator disconnected you from "+c.net.Identity().Name+". Send \"reconnect\" to connect again.")
	return cmdResult{Note: user + " is disconnected."}, nil
}
