package component

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports"
)

// XEP-0050 ad-hoc commands, provider side. A command has at most two
// steps: an optional form, then the result.

type commandElem struct {
	XMLName   xml.Name     `xml:"http://jabber.org/protocol/commands command"`
	Node      string       `xml:"node,attr"`
	SessionID string       `xml:"sessionid,attr,omitempty"`
	Status    string       `xml:"status,attr"`
	Actions   *actionsElem `xml:",omitempty"`
	Note      *noteElem    `xml:",omitempty"`
	Form      *dataForm    `xml:",omitempty"`
}

type actionsElem struct {
	XMLName  xml.Name  `xml:"actions"`
	Execute  string    `xml:"execute,attr,omitempty"`
	Complete *struct{} `xml:"complete,omitempty"`
}

type noteElem struct {
	XMLName xml.Name `xml:"note"`
	Type    string   `xml:"type,attr"`
	Text    string   `xml:",chardata"`
}

// cmdResult is what one step of a command produced: a form to fill (the
// command goes on), or a final note and/or result form.
type cmdResult struct {
	form     *dataForm
	next     bool // form is a question; the command continues
	note     string
	noteType string // info (default), warn, error
}

type command struct {
	node  string
	name  string
	admin bool
	// step runs a step: submitted is nil on the first call.
	step func(ctx context.Context, from jid.JID, submitted *submittedForm) (cmdResult, error)
}

// commandList is every command, in the order clients show them.
func (c *Component) commandList() []*command {
	return append(c.baseCommands(), c.networkCommands()...)
}

// networkCommands are the network's own commands (Capabilities.Commands),
// run by the user's adapter.
func (c *Component) networkCommands() []*command {
	var out []*command
	for _, nc := range c.netCaps().Commands {
		node := nc.Node
		out = append(out, &command{node: node, name: nc.Name, step: func(ctx context.Context, from jid.JID, _ *submittedForm) (cmdResult, error) {
			a := c.sup.Adapter(from.Bare().String())
			r, ok := a.(transports.CommandRunner)
			if a == nil || !ok {
				return cmdResult{}, errorf("wait", "recipient-unavailable", "You are not connected to %s.", c.net.Identity().Name)
			}
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			text, err := r.RunCommand(rctx, node)
			if err != nil {
				return cmdResult{}, stanzaerr.FromLegacy(err)
			}
			return cmdResult{note: text}, nil
		}})
	}
	return out
}

func (c *Component) baseCommands() []*command {
	return []*command{
		{node: "register", name: "Register", step: c.cmdRegister},
		{node: "unregister", name: "Unregister", step: c.cmdUnregister},
		{node: "status", name: "Connection status", step: c.cmdStatus},
		{node: "settings", name: "Settings", step: c.cmdSettings},
		{node: "reconnect", name: "Reconnect", step: c.cmdReconnect},
		{node: "list-users", name: "List registered users", admin: true, step: c.cmdListUsers},
		{node: "statistics", name: "Statistics", admin: true, step: c.cmdStatistics},
		{node: "disconnect-user", name: "Disconnect a user", admin: true, step: c.cmdDisconnect},
	}
}

func (c *Component) commandsFor(from jid.JID) []*command {
	if !c.allowedUser(from) {
		return nil
	}
	var out []*command
	for _, cmd := range c.commandList() {
		if !cmd.admin || c.isAdmin(from) {
			out = append(out, cmd)
		}
	}
	return out
}

func (c *Component) command(node string, from jid.JID) *command {
	for _, cmd := range c.commandsFor(from) {
		if cmd.node == node {
			return cmd
		}
	}
	return nil
}

// commandSessions remembers multi-step commands between their steps.
type commandSessions struct {
	mu    sync.Mutex
	m     map[string]cmdSession
	swept time.Time // last removal of abandoned sessions
}

type cmdSession struct {
	node    string
	user    string
	expires time.Time
}

func newCommandSessions() *commandSessions {
	return &commandSessions{m: make(map[string]cmdSession)}
}

func (cs *commandSessions) take(id, node, user string) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	s, ok := cs.m[id]
	delete(cs.m, id)
	now := time.Now()
	return ok && s.node == node && s.user == user && now.Before(s.expires)
}

// put remembers a session and forgets abandoned ones.
func (cs *commandSessions) put(id, node, user string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	now := time.Now()
	sweep(cs.m, now, &cs.swept, time.Minute, func(v cmdSession) bool { return now.After(v.expires) })
	cs.m[id] = cmdSession{node: node, user: user, expires: now.Add(15 * time.Minute)}
}

func (c *Component) handleCommand(s *stanza, q *node) {
	nodeName := q.Attr("node")
	cmd := c.command(nodeName, s.from)
	if cmd == nil {
		if c.anyCommand(nodeName) {
			c.replyError(s.node, errorf("auth", "forbidden", "Only administrators may run %q.", nodeName))
			return
		}
		c.replyError(s.node, errorf("cancel", "item-not-found", "There is no command %q.", nodeName))
		return
	}
	action := q.Attr("action")
	sid := q.Attr("sessionid")
	user := s.from.Bare().String()
	if action == "cancel" {
		c.commands.take(sid, nodeName, user)
		c.result(s, &commandElem{Node: nodeName, SessionID: sid, Status: "canceled"})
		return
	}
	var submitted *submittedForm
	if sid != "" {
		if !c.commands.take(sid, nodeName, user) {
			c.replyError(s.node, errorf("modify", "bad-request", "Unknown or expired command session; start the command again."))
			return
		}
		submitted = parseForm(q)
		if submitted == nil {
			submitted = &submittedForm{typ: "submit", values: map[string]string{}}
		}
	}
	switch action {
	case "", "execute", "complete", "next":
	default:
		c.replyError(s.node, errorf("modify", "bad-request", "Unsupported action %q.", action))
		return
	}
	c.admit(s, func() {
		ctx := c.ctx()
		res, err := cmd.step(ctx, s.from, submitted)
		if err != nil {
			c.replyError(s.node, stanzaerr.From(err))
			return
		}
		out := &commandElem{Node: nodeName, Status: "completed", Form: res.form}
		if res.next {
			if sid == "" {
				sid = newID()
			}
			c.commands.put(sid, nodeName, user)
			out.Status = "executing"
			out.SessionID = sid
			out.Actions = &actionsElem{Execute: "complete", Complete: &struct{}{}}
		} else if sid != "" {
			out.SessionID = sid
		}
		if res.note != "" {
			t := res.noteType
			if t == "" {
				t = "info"
			}
			out.Note = &noteElem{Type: t, Text: res.note}
		}
		c.result(s, out)
	})
}

func (c *Component) anyCommand(node string) bool {
	for _, cmd := range c.commandList() {
		if cmd.node == node {
			return true
		}
	}
	return false
}

func (c *Component) cmdRegister(ctx context.Context, from jid.JID, sub *submittedForm) (cmdResult, error) {
	user := from.Bare()
	if sub == nil {
		var prev map[string]string
		if r, err := c.reg.Lookup(ctx, user.String(), c.net.Name()); err == nil {
			prev = r.Credentials
		}
		return cmdResult{next: true, form: buildForm("form", c.net.Identity().Name+" registration", c.registerInstructions(), "", c.net.LoginFields(), prev)}, nil
	}
	if err := c.commandAllowed(user.String()); err != nil {
		return cmdResult{}, err
	}
	if err := c.register(ctx, user, sub.values); err != nil {
		return cmdResult{}, err
	}
	c.afterRegister(user)
	return cmdResult{note: "You are registered with " + c.net.Identity().Name + "."}, nil
}

func (c *Component) cmdUnregister(ctx context.Context, from jid.JID, sub *submittedForm) (cmdResult, error) {
	user := from.Bare()
	if sub == nil {
		return cmdResult{next: true, form: &dataForm{Type: "form", Title: "Unregister",
			Instructions: []string{"This deletes your registration and credentials. Continue?"},
			Fields:       []formField{{Type: "boolean", Var: "confirm", Label: "Yes, unregister me", Values: []string{"false"}}},
		}}, nil
	}
	if ok, _ := strconv.ParseBool(sub.values["confirm"]); !ok {
		return cmdResult{note: "Nothing was changed."}, nil
	}
	roster, err := c.unregister(ctx, user)
	if err != nil {
		return cmdResult{}, err
	}
	c.afterUnregister(user, roster)
	return cmdResult{note: "You are unregistered; your credentials are deleted."}, nil
}

// cmdStatus answers with the same text as the chat command "status",
// which says everything once; a result form beside it would repeat it.
func (c *Component) cmdStatus(ctx context.Context, from jid.JID, _ *submittedForm) (cmdResult, error) {
	return cmdResult{note: c.statusText(ctx, from.Bare())}, nil
}

func (c *Component) cmdSettings(ctx context.Context, from jid.JID, sub *submittedForm) (cmdResult, error) {
	user := from.Bare()
	if !c.registered(ctx, user) {
		return cmdResult{}, errorf("auth", "registration-required", "Register first.")
	}
	if sub == nil {
		cur, err := c.reg.Settings(ctx, user.String(), c.net.Name())
		if err != nil {
			return cmdResult{}, errorf("wait", "internal-server-error", "Settings could not be read; try again later.")
		}
		return cmdResult{next: true, form: buildForm("form", "Settings", "", "", c.settingsFields(), cur)}, nil
	}
	if err := c.saveSettings(ctx, user, sub.values); err != nil {
		return cmdResult{}, err
	}
	return cmdResult{note: "Settings saved."}, nil
}

func (c *Component) cmdReconnect(ctx context.Context, from jid.JID, _ *submittedForm) (cmdResult, error) {
	text, err := c.reconnect(ctx, from.Bare())
	if err != nil {
		return cmdResult{}, err
	}
	return cmdResult{note: text}, nil
}

func (c *Component) cmdListUsers(ctx context.Context, _ jid.JID, _ *submittedForm) (cmdResult, error) {
	f := &dataForm{Type: "result", Title: "Registered users"}
	f.Fields = append(f.Fields, formField{Type: "jid-multi", Var: "users", Label: "Users"})
	rows := []string{}
	err := c.reg.List(ctx, c.net.Name(), func(r registry.Registration) error {
		rows = append(rows, r.User)
		return nil
	})
	if err != nil {
		return cmdResult{}, errorf("wait", "internal-server-error", "The registration database is not available.")
	}
	f.Fields[0].Values = rows
	var note string
	for _, u := range rows {
		note += fmt.Sprintf("%s: %s\n", u, c.sup.Status(u).State)
	}
	return cmdResult{form: f, note: fmt.Sprintf("%d registered users.\n%s", len(rows), note)}, nil
}

func (c *Component) cmdStatistics(ctx context.Context, _ jid.JID, _ *submittedForm) (cmdResult, error) {
	st := c.Stats()
	n, err := c.reg.Count(ctx, c.net.Name())
	if err != nil {
		return cmdResult{}, errorf("wait", "internal-server-error", "The registration database is not available.")
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
	return cmdResult{form: resultForm("Statistics", rows)}, nil
}

func (c *Component) cmdDisconnect(ctx context.Context, _ jid.JID, sub *submittedForm) (cmdResult, error) {
	if sub == nil {
		f := &dataForm{Type: "form", Title: "Disconnect a user",
			Instructions: []string{"The user's legacy session is closed until they come online again or reconnect."},
			Fields:       []formField{{Type: "jid-single", Var: "user", Label: "User", Required: &struct{}{}}}}
		return cmdResult{next: true, form: f}, nil
	}
	u, err := jid.Parse(sub.values["user"])
	if err != nil || u.Localpart() == "" {
		return cmdResult{}, errorf("modify", "bad-request", "%q is not a user's JID.", sub.values["user"])
	}
	user := u.Bare().String()
	if !c.sup.Running(user) {
		return cmdResult{note: user + " has no legacy session.", noteType: "warn"}, nil
	}
	c.sup.Stop(user)
	c.sendText(u.Bare(), "An administrator disconnected you from "+c.net.Identity().Name+". Send \"reconnect\" to connect again.")
	return cmdResult{note: user + " is disconnected."}, nil
}
