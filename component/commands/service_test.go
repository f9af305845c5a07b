package commands

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	xep0050 "mellium.im/xmpp/commands"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/adhoc"
	"github.com/switchboard-im/switchboard/component/chatdoor"
	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// fakeCore records what the commands ask of the bridge core and answers
// as its fields say.
type fakeCore struct {
	netCommands []transports.Command
	adminCmds   []transports.AdminCommand
	adminErr    error
	notServed   bool
	admins      []string // bare JIDs
	registered  bool
	allowErr    error
	regErr      error
	unregErr    error
	settingErr  error
	saveErr     error
	usersErr    error
	statsErr    error
	running     bool
	adapter     transports.Adapter

	calls    []string
	said     []string
	values   map[string]string // what Register got
	saved    map[string]string // what SaveSettings got
	results  []any             // what Result answered
	errs     []*stanzaerr.Error
	admitted int
}

func (f *fakeCore) call(s string) { f.calls = append(f.calls, s) }

func (f *fakeCore) NetworkName() string             { return "IRC" }
func (f *fakeCore) LoginFields() []transports.Field { return login }
func (f *fakeCore) SettingsFields() []transports.Field {
	return []transports.Field{{Name: "stay_connected", Label: "Stay connected", Kind: transports.FieldBool, Default: "false"}}
}
func (f *fakeCore) Say(u jid.JID, text string) { f.said = append(f.said, u.String()+": "+text) }
func (f *fakeCore) Allow(string) error         { f.call("allow"); return f.allowErr }
func (f *fakeCore) Register(_ context.Context, _ jid.JID, v map[string]string) error {
	f.call("register")
	f.values = maps.Clone(v)
	return f.regErr
}
func (f *fakeCore) AfterRegister(jid.JID) { f.call("after-register") }
func (f *fakeCore) Unregister(context.Context, jid.JID) ([]string, error) {
	f.call("unregister")
	return []string{"bob@irc.example"}, f.unregErr
}
func (f *fakeCore) AfterUnregister(_ jid.JID, roster []string) {
	f.call("after-unregister " + strings.Join(roster, ","))
}
func (f *fakeCore) Registered(context.Context, jid.JID) bool { return f.registered }
func (f *fakeCore) Credentials(context.Context, jid.JID) (transports.Credentials, error) {
	if !f.registered {
		return nil, errors.New("not registered")
	}
	return transports.Credentials{"nick": "ircbob", "password": "hunter2"}, nil
}
func (f *fakeCore) Status(string) transports.Status {
	if f.running {
		return transports.Status{State: transports.StateConnected}
	}
	return transports.Status{State: transports.StateDisconnected}
}
func (f *fakeCore) Resources(string) []presence.Resource { return nil }
func (f *fakeCore) Restart(context.Context, jid.JID)     { f.call("restart") }
func (f *fakeCore) Settings(context.Context, jid.JID) (map[string]string, error) {
	return map[string]string{"stay_connected": "true"}, f.settingErr
}
func (f *fakeCore) SaveSettings(_ context.Context, _ jid.JID, changed map[string]string) error {
	f.call("save")
	f.saved = maps.Clone(changed)
	return f.saveErr
}

func (f *fakeCore) Capabilities() transports.Capabilities {
	return transports.Capabilities{Commands: f.netCommands, AdminCommands: f.adminCmds}
}
func (f *fakeCore) RunAdminCommand(_ context.Context, node string, values map[string]string) (string, error) {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(values)) {
		kv = append(kv, k+"="+values[k])
	}
	f.call("admin " + node + " " + strings.Join(kv, " "))
	return "ran " + node, f.adminErr
}
func (f *fakeCore) RegisterInstructions() string  { return "Register with your IRC account." }
func (f *fakeCore) AllowedUser(from jid.JID) bool { return !f.notServed }
func (f *fakeCore) IsAdmin(from jid.JID) bool     { return slices.Contains(f.admins, from.Bare().String()) }
func (f *fakeCore) Admit(_ *stanza.In, job func(context.Context)) {
	f.admitted++
	job(context.Background())
}
func (f *fakeCore) Result(_ *stanza.In, payload any)            { f.results = append(f.results, payload) }
func (f *fakeCore) ReplyError(_ *stanza.In, e *stanzaerr.Error) { f.errs = append(f.errs, e) }
func (f *fakeCore) Users(context.Context) ([]string, error) {
	return []string{"hank@example.org", "ida@example.org"}, f.usersErr
}
func (f *fakeCore) Statistics(context.Context) (Statistics, error) {
	return Statistics{RegisteredUsers: 2, Sessions: 1}, f.statsErr
}
func (f *fakeCore) Adapter(string) transports.Adapter { return f.adapter }
func (f *fakeCore) Disconnect(user string) bool {
	f.call("disconnect " + user)
	return f.running
}

// assign is a network's admin command.
var assign = []transports.AdminCommand{{Node: "assign-number", Name: "Assign a number", Instructions: "Give a user a number.",
	Fields: []transports.Field{
		{Name: "user", Label: "User", Required: true},
		{Name: "number", Label: "Number", MaxLen: 16},
	}}}

var (
	hank  = jid.MustParse("hank@example.org/laptop")
	admin = jid.MustParse("root@example.org/pc")
)

func newService(core *fakeCore) *Service { return NewService(core, chatdoor.NewService(core)) }

func nodes(cmds []adhoc.Command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Node)
	}
	return out
}

// TestList: what a user sees, what an administrator sees besides, the
// network's commands after the gateway's, nothing for a user the gateway
// does not serve.
func TestList(t *testing.T) {
	user := []string{"register", "unregister", "status", "settings", "reconnect"}
	admins := []string{"list-users", "statistics", "disconnect-user"}
	net := []transports.Command{{Node: "check-mail", Name: "Check mail now"}}
	tests := []struct {
		name string
		core fakeCore
		from jid.JID
		want []string
	}{
		{"user", fakeCore{}, hank, user},
		{"admin", fakeCore{admins: []string{"root@example.org"}}, admin, slices.Concat(user, admins)},
		{"user of a network with commands", fakeCore{netCommands: net}, hank, append(slices.Clone(user), "check-mail")},
		{"admin of a network with commands", fakeCore{netCommands: net, admins: []string{"root@example.org"}}, admin,
			slices.Concat(user, admins, []string{"check-mail"})},
		{"user of a network with admin commands", fakeCore{adminCmds: assign}, hank, user},
		{"admin of a network with admin and user commands", fakeCore{adminCmds: assign, netCommands: net, admins: []string{"root@example.org"}}, admin,
			slices.Concat(user, admins, []string{"assign-number", "check-mail"})},
		{"another server's user", fakeCore{notServed: true}, hank, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(&tt.core)
			if got := nodes(s.List(tt.from)); !slices.Equal(got, tt.want) {
				t.Errorf("List = %q, want %q", got, tt.want)
			}
			for _, n := range slices.Concat(user, admins, []string{"assign-number", "check-mail"}) {
				_, ok := s.Lookup(n, tt.from)
				if want := slices.Contains(tt.want, n); ok != want {
					t.Errorf("Lookup(%q) = %v, want %v", n, ok, want)
				}
			}
		})
	}
}

// commandRunner is an adapter with commands of its own.
type commandRunner struct {
	transports.Adapter
	text string
	err  error
}

func (r commandRunner) RunCommand(_ context.Context, node string) (string, error) {
	return r.text + " (" + node + ")", r.err
}

// TestSteps: each command's stages, through the core: what they ask,
// what they answer, what they do.
func TestSteps(t *testing.T) {
	submit := func(kv ...string) *regform.Submitted {
		sub := &regform.Submitted{Type: "submit", Values: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			sub.Values[kv[i]] = kv[i+1]
		}
		return sub
	}
	refused := stanzaerr.New("wait", "policy-violation", "Too many requests.")
	tests := []struct {
		name      string
		core      fakeCore
		node      string
		from      jid.JID
		sub       *regform.Submitted
		wantForm  string // the form's title, "" for none
		wantNext  bool
		wantNote  string
		wantWarn  bool
		wantErr   string // the condition
		wantCalls []string
		wantSaid  []string
	}{
		{name: "register asks", node: "register", from: hank, wantForm: "IRC registration", wantNext: true},
		{name: "register", node: "register", from: hank, sub: submit("nick", "ircbob", "password", "pw"),
			wantNote: "You are registered with IRC.", wantCalls: []string{"allow", "register", "after-register"}},
		{name: "register beyond the limit", core: fakeCore{allowErr: refused}, node: "register", from: hank, sub: submit("nick", "ircbob"),
			wantErr: "policy-violation", wantCalls: []string{"allow"}},
		{name: "register refused by the network", core: fakeCore{regErr: transports.ErrBadCredentials}, node: "register", from: hank,
			sub: submit("nick", "ircbob"), wantErr: "not-acceptable", wantCalls: []string{"allow", "register"}},
		{name: "unregister asks", node: "unregister", from: hank, wantForm: "Unregister", wantNext: true},
		{name: "unregister not confirmed", node: "unregister", from: hank, sub: submit("confirm", "false"), wantNote: "Nothing was changed."},
		{name: "unregister", node: "unregister", from: hank, sub: submit("confirm", "true"),
			wantNote: "You are unregistered; your credentials are deleted.", wantCalls: []string{"unregister", "after-unregister bob@irc.example"}},
		{name: "unregister fails", core: fakeCore{unregErr: stanzaerr.New("cancel", "item-not-found", "You are not registered.")},
			node: "unregister", from: hank, sub: submit("confirm", "1"), wantErr: "item-not-found", wantCalls: []string{"unregister"}},
		{name: "status, as the chat door says it", core: fakeCore{registered: true, running: true}, node: "status", from: hank,
			wantNote: "IRC (Nickname ircbob, Server irc.example): connected"},
		{name: "status, not registered", node: "status", from: hank, wantNote: chatdoor.NotRegistered("IRC")},
		{name: "settings asks", core: fakeCore{registered: true}, node: "settings", from: hank, wantForm: "Settings", wantNext: true},
		{name: "settings, not registered", node: "settings", from: hank, wantErr: "registration-required"},
		{name: "settings unreadable", core: fakeCore{registered: true, settingErr: errors.New("disk")}, node: "settings", from: hank,
			wantErr: "internal-server-error"},
		{name: "settings saved", core: fakeCore{registered: true}, node: "settings", from: hank, sub: submit("stay_connected", "true"),
			wantNote: "Settings saved.", wantCalls: []string{"save"}},
		{name: "settings refused", core: fakeCore{registered: true, saveErr: stanzaerr.New("modify", "not-acceptable", "No.")}, node: "settings",
			from: hank, sub: submit("stay_connected", "maybe"), wantErr: "not-acceptable", wantCalls: []string{"save"}},
		{name: "reconnect", core: fakeCore{registered: true}, node: "reconnect", from: hank, wantNote: "Reconnecting to IRC.",
			wantCalls: []string{"allow", "restart"}},
		{name: "reconnect beyond the limit", core: fakeCore{registered: true, allowErr: refused}, node: "reconnect", from: hank,
			wantErr: "policy-violation", wantCalls: []string{"allow"}},
		{name: "reconnect, not registered", node: "reconnect", from: hank, wantErr: "registration-required"},
		{name: "list users", core: fakeCore{admins: []string{"root@example.org"}, running: true}, node: "list-users", from: admin,
			wantForm: "Registered users", wantNote: "2 registered users.\nhank@example.org: connected\nida@example.org: connected\n"},
		{name: "list users, no database", core: fakeCore{admins: []string{"root@example.org"}, usersErr: errors.New("down")}, node: "list-users",
			from: admin, wantErr: "internal-server-error"},
		{name: "statistics", core: fakeCore{admins: []string{"root@example.org"}}, node: "statistics", from: admin, wantForm: "Statistics"},
		{name: "statistics, no database", core: fakeCore{admins: []string{"root@example.org"}, statsErr: errors.New("down")}, node: "statistics",
			from: admin, wantErr: "internal-server-error"},
		{name: "disconnect asks", core: fakeCore{admins: []string{"root@example.org"}}, node: "disconnect-user", from: admin,
			wantForm: "Disconnect a user", wantNext: true},
		{name: "disconnect", core: fakeCore{admins: []string{"root@example.org"}, running: true}, node: "disconnect-user", from: admin,
			sub: submit("user", "hank@example.org/laptop"), wantNote: "hank@example.org is disconnected.",
			wantCalls: []string{"disconnect hank@example.org"},
			wantSaid:  []string{"hank@example.org: An administrator disconnected you from IRC. Send \"reconnect\" to connect again."}},
		{name: "disconnect, no session", core: fakeCore{admins: []string{"root@example.org"}}, node: "disconnect-user", from: admin,
			sub: submit("user", "hank@example.org"), wantNote: "hank@example.org has no legacy session.", wantWarn: true,
			wantCalls: []string{"disconnect hank@example.org"}},
		{name: "disconnect, not a user", core: fakeCore{admins: []string{"root@example.org"}}, node: "disconnect-user", from: admin,
			sub: submit("user", "example.org"), wantErr: "bad-request"},
		{name: "network admin command asks", core: fakeCore{admins: []string{"root@example.org"}, adminCmds: assign}, node: "assign-number",
			from: admin, wantForm: "Assign a number", wantNext: true},
		{name: "network admin command", core: fakeCore{admins: []string{"root@example.org"}, adminCmds: assign}, node: "assign-number",
			from: admin, sub: submit("FORM_TYPE", "x", "user", " hank@example.org ", "number", ""), wantNote: "ran assign-number",
			wantCalls: []string{"admin assign-number user=hank@example.org"}},
		{name: "network admin command, a field missing", core: fakeCore{admins: []string{"root@example.org"}, adminCmds: assign},
			node: "assign-number", from: admin, sub: submit("number", "+15550100001"), wantErr: "not-acceptable"},
		{name: "network admin command, not UTF-8", core: fakeCore{admins: []string{"root@example.org"}, adminCmds: assign},
			node: "assign-number", from: admin, sub: submit("user", "hank\xff@example.org"), wantErr: "bad-request"},
		{name: "network admin command, a field too long", core: fakeCore{admins: []string{"root@example.org"}, adminCmds: assign},
			node: "assign-number", from: admin, sub: submit("user", "hank@example.org", "number", "+1555010000100000"), wantErr: "not-acceptable"},
		{name: "network admin command refused by the network", core: fakeCore{admins: []string{"root@example.org"}, adminCmds: assign,
			adminErr: transports.ErrConflict}, node: "assign-number", from: admin, sub: submit("user", "hank@example.org", "number", "+15550100001"),
			wantErr: "conflict", wantCalls: []string{"admin assign-number number=+15550100001 user=hank@example.org"}},
		{name: "network command", core: fakeCore{netCommands: []transports.Command{{Node: "check-mail", Name: "Check"}},
			adapter: commandRunner{text: "2 new"}}, node: "check-mail", from: hank, wantNote: "2 new (check-mail)"},
		{name: "network command, no session", core: fakeCore{netCommands: []transports.Command{{Node: "check-mail", Name: "Check"}}},
			node: "check-mail", from: hank, wantErr: "recipient-unavailable"},
		{name: "network command fails", core: fakeCore{netCommands: []transports.Command{{Node: "check-mail", Name: "Check"}},
			adapter: commandRunner{err: transports.ErrUnsupported}}, node: "check-mail", from: hank, wantErr: "feature-not-implemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(&tt.core)
			cmd, ok := s.Lookup(tt.node, tt.from)
			if !ok {
				t.Fatalf("%s may not run %q", tt.from, tt.node)
			}
			res, err := cmd.Step(context.Background(), tt.from, tt.sub)
			if tt.wantErr != "" {
				if got := stanzaerr.From(err); err == nil || got.Condition != tt.wantErr {
					t.Errorf("error %v, want %s", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("error %v", err)
			}
			title := ""
			if res.Form != nil {
				title = res.Form.Title
			}
			if title != tt.wantForm || res.Next != tt.wantNext || res.Note != tt.wantNote {
				t.Errorf("form %q next %v note %q, want form %q next %v note %q", title, res.Next, res.Note, tt.wantForm, tt.wantNext, tt.wantNote)
			}
			if warn := res.NoteType == xep0050.NoteWarn; warn != tt.wantWarn {
				t.Errorf("note type %v, want warn %v", res.NoteType, tt.wantWarn)
			}
			if !slices.Equal(tt.core.calls, tt.wantCalls) {
				t.Errorf("calls %q, want %q", tt.core.calls, tt.wantCalls)
			}
			if !slices.Equal(tt.core.said, tt.wantSaid) {
				t.Errorf("said %q, want %q", tt.core.said, tt.wantSaid)
			}
		})
	}

	t.Run("register's form shows the account, not the password", func(t *testing.T) {
		core := fakeCore{registered: true}
		cmd, _ := newService(&core).Lookup("register", hank)
		res, err := cmd.Step(context.Background(), hank, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := field(t, res.Form, "nick"); !slices.Equal(got.Values, []string{"ircbob"}) {
			t.Errorf("nick = %q, want ircbob", got.Values)
		}
		if got := field(t, res.Form, "password"); len(got.Values) != 0 {
			t.Errorf("the password is echoed: %q", got.Values)
		}
	})
}

// TestHandle: a request refused or cancelled is answered at once; an
// accepted one runs in the lane (Admit), its session carried to the next
// stage.
func TestHandle(t *testing.T) {
	in := func(t *testing.T, x string) (*stanza.In, *xmltree.Element) {
		t.Helper()
		q, err := xmltree.Parse(x)
		if err != nil {
			t.Fatal(err)
		}
		return &stanza.In{Element: q, ID: "c1", Type: "set", From: hank, To: jid.MustParse("irc.example.org")}, q
	}
	core := fakeCore{registered: true}
	s := newService(&core)

	s.Handle(in(t, `<command xmlns="http://jabber.org/protocol/commands" node="statistics" action="execute"/>`))
	s.Handle(in(t, `<command xmlns="http://jabber.org/protocol/commands" action="execute"/>`))
	s.Handle(in(t, `<command xmlns="http://jabber.org/protocol/commands" node="settings" action="cancel" sessionid="x"/>`))
	if core.admitted != 0 || len(core.errs) != 2 || core.errs[0].Condition != "forbidden" || core.errs[1].Condition != "bad-request" {
		t.Fatalf("refusals: %d admitted, errors %+v", core.admitted, core.errs)
	}
	if len(core.results) != 1 || core.results[0].(*adhoc.Response).Status != adhoc.StatusCanceled {
		t.Fatalf("cancel answered %+v", core.results)
	}

	s.Handle(in(t, `<command xmlns="http://jabber.org/protocol/commands" node="settings" action="execute"/>`))
	if core.admitted != 1 || len(core.results) != 2 {
		t.Fatalf("settings: %d admitted, %d results", core.admitted, len(core.results))
	}
	first := core.results[1].(*adhoc.Response)
	if first.Status != adhoc.StatusExecuting || first.SessionID == "" || first.Form == nil {
		t.Fatalf("first stage %+v", first)
	}
	s.Handle(in(t, `<command xmlns="http://jabber.org/protocol/commands" node="settings" sessionid="`+first.SessionID+`" action="complete">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="stay_connected"><value>true</value></field></x></command>`))
	if core.admitted != 2 || len(core.results) != 3 {
		t.Fatalf("complete: %d admitted, %d results, errors %+v", core.admitted, len(core.results), core.errs)
	}
	done := core.results[2].(*adhoc.Response)
	if done.Status != adhoc.StatusCompleted || done.Note == nil || done.Note.Value != "Settings saved." {
		t.Errorf("second stage %+v", done)
	}
	if want := map[string]string{"stay_connected": "true"}; !maps.Equal(core.saved, want) {
		t.Errorf("saved %v, want %v", core.saved, want)
	}

	s.Handle(in(t, `<command xmlns="http://jabber.org/protocol/commands" node="settings" sessionid="`+first.SessionID+`" action="complete"/>`))
	if len(core.errs) != 3 || core.errs[2].Condition != "bad-request" {
		t.Errorf("a finished session was taken again: errors %+v", core.errs)
	}
}
