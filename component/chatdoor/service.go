package chatdoor

import (
	"context"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Core is what the chat door needs of the bridge core (package component
// implements it): registrations, settings and the legacy session, all
// shared with the other two doors.
//
// Register, Unregister, Registered, Credentials, Restart, Settings and
// SaveSettings do storage I/O, Register also logs in to the legacy
// network (at most 30 seconds); Say, AfterRegister and AfterUnregister
// write to the outbox or the stream (each write bounded to seconds),
// AfterRegister may also read storage to start the session. All of these
// may block, so the door calls them from the user's lane, never from
// owner work. NetworkName, the fields, Allow, Status and Resources
// return at once. Errors are for the user: a *stanzaerr.Error, or an
// error stanzaerr.From maps; the core does not retry, the user asks
// again.
type Core interface {
	// NetworkName is the network's name as users read it ("IRC").
	NetworkName() string
	// LoginFields are what registration asks for; SettingsFields the
	// per-user settings. Both are static.
	LoginFields() []transports.Field
	SettingsFields() []transports.Field

	// Say sends text to user from the gateway's JID, through the outbox
	// (directly when storage fails): the user must not miss it.
	Say(user jid.JID, text string)

	// Allow counts one register or reconnect request of user and
	// refuses it (policy-violation) beyond the per-minute limit: each
	// makes the gateway log in to the legacy network.
	Allow(user string) error
	// Register checks values, logs in with them and stores them;
	// AfterRegister then subscribes to the user's presence and starts
	// their session if they are online.
	Register(ctx context.Context, user jid.JID, values map[string]string) error
	AfterRegister(user jid.JID)
	// Unregister stops the session and deletes the registration,
	// returning the legacy contacts' JIDs in the user's roster, which
	// AfterUnregister then removes with the gateway itself.
	Unregister(ctx context.Context, user jid.JID) ([]string, error)
	AfterUnregister(user jid.JID, roster []string)

	// Registered reports whether user registered with the gateway;
	// Credentials returns what they registered with.
	Registered(ctx context.Context, user jid.JID) bool
	Credentials(ctx context.Context, user jid.JID) (transports.Credentials, error)
	// Status is the state of user's legacy session; Resources are the
	// user's available resources, highest priority first.
	Status(user string) transports.Status
	Resources(user string) []presence.Resource
	// Restart reconnects user's legacy session, starting it when none
	// runs (without waiting for the network).
	Restart(ctx context.Context, user jid.JID)

	// Settings returns user's stored settings; SaveSettings checks the
	// changed ones against SettingsFields and merges them in.
	Settings(ctx context.Context, user jid.JID) (map[string]string, error)
	SaveSettings(ctx context.Context, user jid.JID, changed map[string]string) error
}

// Service is the chat door of one gateway: it answers what users type to
// the gateway's bare JID, and keeps their registration dialogs.
type Service struct {
	core    Core
	dialogs *Dialogs
}

// NewService returns the chat door of the network core bridges.
func NewService(core Core) *Service {
	return &Service{core: core, dialogs: NewDialogs(time.Now)}
}

// Handle answers one line user typed to the gateway (Next), performs the
// step's action and says the outcome. Lane work: it may block on storage
// and on the legacy network (a registration logs in).
func (s *Service) Handle(ctx context.Context, user jid.JID, line string) {
	c := s.core
	st := Next(Input{Line: line, Dialog: s.dialogs.Get(user.String()), Network: c.NetworkName(),
		Login: c.LoginFields(), Settings: c.SettingsFields()})
	s.dialogs.Set(user.String(), st.Dialog)
	for _, r := range st.Replies {
		c.Say(user, r)
	}
	switch st.Action {
	case Register:
		if err := c.Allow(user.String()); err != nil {
			c.Say(user, RegisterRefused(stanzaerr.From(err).Text))
			return
		}
		c.Say(user, Checking(c.NetworkName()))
		if err := c.Register(ctx, user, st.Values); err != nil {
			c.Say(user, RegisterFailed(stanzaerr.From(err).Text))
			return
		}
		c.Say(user, Registered)
		c.AfterRegister(user)
	case Unregister:
		roster, err := c.Unregister(ctx, user)
		if err != nil {
			c.Say(user, UnregisterFailed(stanzaerr.From(err).Text))
			return
		}
		c.Say(user, Unregistered)
		c.AfterUnregister(user, roster)
	case Status:
		c.Say(user, s.Status(ctx, user))
	case Reconnect:
		text, err := s.Reconnect(ctx, user)
		if err != nil {
			text = stanzaerr.From(err).Text
		}
		c.Say(user, text)
	case ShowSettings:
		c.Say(user, s.settings(ctx, user))
	case SetSetting:
		if err := c.SaveSettings(ctx, user, map[string]string{st.Name: st.Value}); err != nil {
			c.Say(user, SettingNotChanged(stanzaerr.From(err).Text))
			return
		}
		c.Say(user, SettingSet(st.Name))
	}
}

// Status is user's connection status (StatusText), or NotRegistered. The
// ad-hoc "status" command answers with it too. Lane work (storage I/O).
func (s *Service) Status(ctx context.Context, user jid.JID) string {
	c := s.core
	if !c.Registered(ctx, user) {
		return NotRegistered(c.NetworkName())
	}
	conn := Connection{Network: c.NetworkName(), Status: c.Status(user.String()), Resources: c.Resources(user.String())}
	if creds, err := c.Credentials(ctx, user); err == nil {
		conn.Account = Account(c.LoginFields(), creds)
	}
	return StatusText(conn)
}

// Reconnect restarts user's legacy session, within the per-minute limit of
// register and reconnect requests, and returns the text that says so. The
// ad-hoc "reconnect" command runs it too. Lane work (storage I/O).
func (s *Service) Reconnect(ctx context.Context, user jid.JID) (string, error) {
	c := s.core
	if !c.Registered(ctx, user) {
		return "", stanzaerr.New("auth", "registration-required", "You are not registered.")
	}
	if err := c.Allow(user.String()); err != nil {
		return "", err
	}
	c.Restart(ctx, user)
	return "Reconnecting to " + c.NetworkName() + ".", nil
}

// settings lists user's settings (SettingsText).
func (s *Service) settings(ctx context.Context, user jid.JID) string {
	c := s.core
	if !c.Registered(ctx, user) {
		return "You are not registered."
	}
	stored, err := c.Settings(ctx, user)
	if err != nil {
		return "Your settings could not be read; try again later."
	}
	return SettingsText(c.SettingsFields(), stored)
}

// DialogTTL is how long a registration dialog waits for the next answer.
const DialogTTL = 10 * time.Minute

// Dialogs keeps each user's registration dialog in progress, forgetting
// those unanswered for DialogTTL, so that users who never finish one do
// not accumulate. Safe for concurrent use.
type Dialogs struct {
	now func() time.Time

	mu    sync.Mutex
	m     map[string]dialogEntry
	swept time.Time // last removal of abandoned dialogs
}

type dialogEntry struct {
	d       *Dialog
	expires time.Time
}

// NewDialogs returns an empty table reading the time from now.
func NewDialogs(now func() time.Time) *Dialogs {
	return &Dialogs{now: now, m: make(map[string]dialogEntry)}
}

// Get returns user's dialog, nil when none is in progress or it expired.
func (d *Dialogs) Get(user string) *Dialog {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[user]
	if ok && d.now().After(e.expires) {
		delete(d.m, user)
		return nil
	}
	return e.d
}

// Set stores user's dialog for DialogTTL (nil ends it), and at most once a
// minute forgets every expired dialog.
func (d *Dialogs) Set(user string, dl *Dialog) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if now.Sub(d.swept) > time.Minute {
		for u, e := range d.m {
			if now.After(e.expires) {
				delete(d.m, u)
			}
		}
		d.swept = now
	}
	if dl == nil {
		delete(d.m, user)
		return
	}
	d.m[user] = dialogEntry{d: dl, expires: now.Add(DialogTTL)}
}

// Len returns how many dialogs are kept, expired ones not yet forgotten
// included.
func (d *Dialogs) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}
