package chatdoor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// fakeCore records what the door asks of the bridge core and answers as
// its fields say.
type fakeCore struct {
	said       []string
	calls      []string
	registered bool
	allowErr   error
	regErr     error
	unregErr   error
	saveErr    error
	settingErr error
	values     map[string]string // what Register got
	saved      map[string]string // what SaveSettings got
}

func (f *fakeCore) NetworkName() string                { return "IRC" }
func (f *fakeCore) LoginFields() []transports.Field    { return login }
func (f *fakeCore) SettingsFields() []transports.Field { return settings }
func (f *fakeCore) Say(_ jid.JID, text string)         { f.said = append(f.said, text) }
func (f *fakeCore) Allow(string) error                 { f.calls = append(f.calls, "allow"); return f.allowErr }
func (f *fakeCore) Register(_ context.Context, _ jid.JID, v map[string]string) error {
	f.calls = append(f.calls, "register")
	f.values = maps.Clone(v)
	return f.regErr
}
func (f *fakeCore) AfterRegister(jid.JID) { f.calls = append(f.calls, "after-register") }
func (f *fakeCore) Unregister(context.Context, jid.JID) ([]string, error) {
	f.calls = append(f.calls, "unregister")
	return []string{"bob@irc.example"}, f.unregErr
}
func (f *fakeCore) AfterUnregister(_ jid.JID, roster []string) {
	f.calls = append(f.calls, "after-unregister "+strings.Join(roster, ","))
}
func (f *fakeCore) Registered(context.Context, jid.JID) bool { return f.registered }
func (f *fakeCore) Credentials(context.Context, jid.JID) (transports.Credentials, error) {
	return transports.Credentials{"nick": "ircbob", "password": "hunter2"}, nil
}
func (f *fakeCore) Status(string) transports.Status {
	return transports.Status{State: transports.StateConnected}
}
func (f *fakeCore) Resources(string) []presence.Resource { return nil }
func (f *fakeCore) Restart(context.Context, jid.JID)     { f.calls = append(f.calls, "restart") }
func (f *fakeCore) Settings(context.Context, jid.JID) (map[string]string, error) {
	return map[string]string{"stay_connected": "true"}, f.settingErr
}
func (f *fakeCore) SaveSettings(_ context.Context, _ jid.JID, changed map[string]string) error {
	f.calls = append(f.calls, "save")
	f.saved = maps.Clone(changed)
	return f.saveErr
}

var hank = jid.MustParse("hank@example.org")

// TestServiceActions: each action is performed through the core, and its
// outcome said in the door's words, the reason once.
func TestServiceActions(t *testing.T) {
	refused := stanzaerr.New("wait", "policy-violation", "Too many requests.")
	tests := []struct {
		name      string
		core      fakeCore
		lines     []string
		wantSaid  []string
		wantCalls []string
	}{
		{"register, one field at a time", fakeCore{},
			[]string{"register", "ircbob", "pw", "-", "-", "yes"},
			[]string{startText, askNick, askPassword, askServer, askSecurity, askSASL, "Checking your credentials with IRC…", Registered},
			[]string{"allow", "register", "after-register"}},
		{"register refused by the rate limit", fakeCore{allowErr: refused},
			[]string{"register", "ircbob", "pw", "-", "-", "yes"},
			[]string{startText, askNick, askPassword, askServer, askSecurity, askSASL, "Registration refused: Too many requests."},
			[]string{"allow"}},
		{"register failed: the network's reason once", fakeCore{regErr: fmt.Errorf("%w: Invalid username or password", transports.ErrBadCredentials)},
			[]string{"register", "ircbob", "pw", "-", "-", "yes"},
			[]string{startText, askNick, askPassword, askServer, askSecurity, askSASL, "Checking your credentials with IRC…",
				"Registration failed: Invalid username or password\nSend \"register\" to try again."},
			[]string{"allow", "register"}},
		{"cancel, then cancel again", fakeCore{},
			[]string{"register", "cancel", "cancel"},
			[]string{startText, askNick, "Registration cancelled.", "Nothing to cancel."}, nil},
		{"unregister", fakeCore{}, []string{"unregister"}, []string{Unregistered},
			[]string{"unregister", "after-unregister bob@irc.example"}},
		{"unregister failed", fakeCore{unregErr: stanzaerr.New("cancel", "item-not-found", "You are not registered with this gateway.")},
			[]string{"unregister"}, []string{"Unregistration failed: You are not registered with this gateway."}, []string{"unregister"}},
		{"status, not registered", fakeCore{}, []string{"status"}, []string{NotRegistered("IRC")}, nil},
		{"status names the account, never the password", fakeCore{registered: true}, []string{"status"},
			[]string{"IRC (Nickname ircbob, Server irc.example): connected"}, nil},
		{"reconnect", fakeCore{registered: true}, []string{"reconnect"}, []string{"Reconnecting to IRC."}, []string{"allow", "restart"}},
		{"reconnect, not registered", fakeCore{}, []string{"reconnect"}, []string{"You are not registered."}, nil},
		{"reconnect refused by the rate limit", fakeCore{registered: true, allowErr: refused}, []string{"reconnect"},
			[]string{"Too many requests."}, []string{"allow"}},
		{"settings", fakeCore{registered: true}, []string{"settings"},
			[]string{"Your settings (change one with \"set NAME VALUE\"):\n  stay_connected = true — Stay connected\n  nick_color =  — Colour"}, nil},
		{"settings, not registered", fakeCore{}, []string{"settings"}, []string{"You are not registered."}, nil},
		{"settings unreadable", fakeCore{registered: true, settingErr: errors.New("disk")}, []string{"settings"},
			[]string{"Your settings could not be read; try again later."}, nil},
		{"set", fakeCore{}, []string{"set stay_connected on"}, []string{"Set stay_connected."}, []string{"save"}},
		{"set refused", fakeCore{saveErr: stanzaerr.New("auth", "registration-required", "Register first.")},
			[]string{"set stay_connected on"}, []string{"Not changed: Register first."}, []string{"save"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := tt.core
			s := NewService(&core)
			for _, l := range tt.lines {
				s.Handle(context.Background(), hank, l)
			}
			if !slices.Equal(core.said, tt.wantSaid) {
				t.Errorf("said\n  %q\nwant\n  %q", core.said, tt.wantSaid)
			}
			if !slices.Equal(core.calls, tt.wantCalls) {
				t.Errorf("calls %q, want %q", core.calls, tt.wantCalls)
			}
			if s.dialogs.Get(hank.String()) != nil {
				t.Errorf("a dialog is left after %q", tt.lines)
			}
		})
	}

	t.Run("what is registered and set", func(t *testing.T) {
		var core fakeCore
		s := NewService(&core)
		for _, l := range []string{"register", "ircbob", " pw ", "-", "plain", "yes", "set stay_connected no"} {
			s.Handle(context.Background(), hank, l)
		}
		if want := map[string]string{"nick": "ircbob", "password": " pw ", "server": "", "security": "plain", "sasl": "yes"}; !maps.Equal(core.values, want) {
			t.Errorf("registered %v, want %v", core.values, want)
		}
		if want := map[string]string{"stay_connected": "false"}; !maps.Equal(core.saved, want) {
			t.Errorf("saved %v, want %v", core.saved, want)
		}
		for _, said := range core.said {
			if strings.Contains(said, "pw") {
				t.Errorf("%q repeats the password", said)
			}
		}
	})

	t.Run("dialogs are per user", func(t *testing.T) {
		var core fakeCore
		s := NewService(&core)
		s.Handle(context.Background(), hank, "register")
		s.Handle(context.Background(), jid.MustParse("ida@example.org"), "status")
		if got := core.said[len(core.said)-1]; got != NotRegistered("IRC") {
			t.Errorf("another user's line went into hank's dialog: %q", got)
		}
		if s.dialogs.Get(hank.String()) == nil {
			t.Error("hank's dialog is gone")
		}
	})
}

// TestDialogsExpire: a dialog unanswered for DialogTTL is over, and
// abandoned dialogs are forgotten without waiting for their user to come
// back (at most once a minute).
func TestDialogsExpire(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	d := NewDialogs(func() time.Time { return now })
	for i := range 50 {
		d.Set(fmt.Sprint("u", i), &Dialog{Asked: 1})
	}
	if d.Get("u0") == nil || d.Len() != 50 {
		t.Fatalf("dialogs not kept: %d", d.Len())
	}
	now = now.Add(DialogTTL - time.Second)
	if d.Get("u1") == nil {
		t.Error("a dialog expired early")
	}
	now = now.Add(2 * time.Second)
	if d.Get("u1") != nil {
		t.Error("an expired dialog is still in progress")
	}
	d.Set("new", &Dialog{Asked: 1})
	if d.Len() != 1 {
		t.Errorf("kept %d dialogs, want 1", d.Len())
	}
	d.Set("new", nil)
	if d.Get("new") != nil || d.Len() != 0 {
		t.Errorf("a dialog set to nil is still there (%d kept)", d.Len())
	}
}
