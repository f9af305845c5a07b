package component

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/contacts"
	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports"
)

// Registration has three doors (XEP-0077, the ad-hoc "register" command and
// chat with the gateway JID); all of them end in register and unregister
// below, and all build their questions from Network.LoginFields.

// registerTimeout bounds the legacy login done to validate a registration.
const registerTimeout = 30 * time.Second

type registerQuery struct {
	XMLName      xml.Name  `xml:"jabber:iq:register query"`
	Registered   *struct{} `xml:"registered,omitempty"`
	Instructions string    `xml:"instructions,omitempty"`
	Legacy       []regform.LegacyField
	Form         *regform.Form
}

func (c *Component) registerInstructions() string {
	return fmt.Sprintf("Register with your %s account. Your credentials are checked by logging in, and stored encrypted.", c.net.Identity().Name)
}

func (c *Component) handleRegister(s *stanza.In, q *node) {
	user := s.From.Bare()
	if s.Type == "get" {
		c.registerGet(s, user)
		return
	}
	if q.Child(nsRegister, "remove") != nil {
		c.later(user.String(), func(ctx context.Context) {
			roster, err := c.unregister(ctx, user)
			if err != nil {
				c.replyError(s.Element, stanzaerr.From(err))
				return
			}
			c.result(s, nil)
			c.afterUnregister(user, roster)
		})
		return
	}
	var values map[string]string
	if f := regform.Parse(q); f != nil {
		switch f.Type {
		case "cancel":
			c.result(s, nil)
			return
		case "submit", "":
			values = f.Values
		default:
			c.replyError(s.Element, stanzaerr.New("modify", "bad-request", "The data form must be of type submit."))
			return
		}
	} else {
		values = regform.ParseLegacy(q, c.net.LoginFields())
	}
	if err := c.commandAllowed(user.String()); err != nil { // limits.go
		c.replyError(s.Element, stanzaerr.From(err))
		return
	}
	c.later(user.String(), func(ctx context.Context) {
		if err := c.register(ctx, user, values); err != nil {
			c.replyError(s.Element, stanzaerr.From(err))
			return
		}
		c.result(s, nil)
		c.afterRegister(user)
	})
}

func (c *Component) registerGet(s *stanza.In, user jid.JID) {
	fields := c.net.LoginFields()
	q := &registerQuery{Instructions: c.registerInstructions()}
	ctx, cancel := context.WithTimeout(c.ctx(), 5*time.Second)
	defer cancel()
	prev, err := c.reg.Lookup(ctx, user.String(), c.net.Name())
	switch {
	case err == nil:
		q.Registered = &struct{}{}
	case errors.Is(err, registry.ErrNotRegistered):
		prev.Credentials = nil
	default:
		c.log.Error("looking up registration", "err", err)
		c.replyError(s.Element, stanzaerr.New("wait", "internal-server-error", "The registration database is not available; try again later."))
		return
	}
	q.Legacy = regform.Legacy(fields, prev.Credentials)
	q.Form = regform.Build("form", c.net.Identity().Name+" registration", c.registerInstructions(), nsRegister, fields, prev.Credentials)
	c.result(s, q)
}

// register checks values, logs in to the legacy network with them and
// stores them. The error, if any, is a *stanzaerr.Error fit for the user.
func (c *Component) register(ctx context.Context, user jid.JID, values map[string]string) error {
	if !c.allowedUser(user) {
		return c.forbidden()
	}
	creds, serr := checkValues(c.net.LoginFields(), values)
	if serr != nil {
		return serr
	}
	vctx, cancel := context.WithTimeout(ctx, registerTimeout)
	err := c.net.Validate(vctx, creds)
	cancel()
	if err != nil {
		c.log.Info("registration refused", "user", user.String(), "err", err)
		return stanzaerr.FromLegacy(err)
	}
	creds, err = c.amend(ctx, user, creds) // hooks_register.go
	if err != nil {
		c.log.Info("registration refused", "user", user.String(), "err", err)
		return stanzaerr.FromLegacy(err)
	}
	if err := c.reg.Register(ctx, user.String(), c.net.Name(), creds); err != nil {
		c.log.Error("storing registration", "user", user.String(), "err", err)
		c.release(ctx, user, creds)
		return stanzaerr.New("wait", "internal-server-error", "Your registration could not be stored; try again later.")
	}
	c.stats.registrations.Add(1)
	c.log.Info("user registered", "user", user.String())
	return nil
}

// afterRegister subscribes to the user's presence (XEP-0100 §4.1) and
// (re)starts their session if they are online. No probe is sent: a server
// answers a probe from an entity without subscription with "unsubscribed",
// which would cancel the request; the user's approval brings their
// presence anyway.
func (c *Component) afterRegister(user jid.JID) {
	ctx := c.ctx()
	c.sendQuiet(ctx, &stanza.Presence{Type: "subscribe", From: c.domain.String(), To: user.String()})
	if c.presence.Online(user.String()) || c.sup.Running(user.String()) {
		c.startUser(ctx, user)
	}
}

// unregister logs the user out and deletes their registration. It
// returns the legacy contacts' JIDs the user had in their roster.
func (c *Component) unregister(ctx context.Context, user jid.JID) ([]string, error) {
	settings, err := c.reg.Settings(ctx, user.String(), c.net.Name())
	if err != nil {
		c.log.Warn("reading settings", "user", user.String(), "err", err)
	}
	prev, lerr := c.reg.Lookup(ctx, user.String(), c.net.Name())
	c.settle(ctx, user.String()) // the messages on their way first
	c.sup.Stop(user.String())
	err = c.reg.Unregister(ctx, user.String(), c.net.Name())
	if errors.Is(err, registry.ErrNotRegistered) {
		return nil, stanzaerr.New("cancel", "item-not-found", "You are not registered with this gateway.")
	}
	if err != nil {
		c.log.Error("deleting registration", "user", user.String(), "err", err)
		return nil, stanzaerr.New("wait", "internal-server-error", "Your registration could not be deleted; try again later.")
	}
	if lerr == nil {
		c.release(ctx, user, prev.Credentials)
	} else if _, ok := c.net.(transports.Registrar); ok {
		c.log.Warn("the network cannot release what it assigned: the registration could not be read", "user", user.String(), "err", lerr)
	}
	c.contacts.Forget(user.String())
	c.stats.unregisters.Add(1)
	c.log.Info("user unregistered", "user", user.String())
	return contacts.InRoster(settings), nil
}

// afterUnregister removes the gateway and the legacy contacts from the
// user's roster (XEP-0100 §4.3: unsubscribe + unsubscribed from each JID).
func (c *Component) afterUnregister(user jid.JID, roster []string) {
	ctx := c.ctx()
	jids := append(roster, c.domain.String())
	for _, from := range jids {
		c.sendQuiet(ctx, &stanza.Presence{Type: "unavailable", From: from, To: user.String()})
		c.sendQuiet(ctx, &stanza.Presence{Type: "unsubscribe", From: from, To: user.String()})
		c.sendQuiet(ctx, &stanza.Presence{Type: "unsubscribed", From: from, To: user.String()})
	}
	c.presence.Forget(user.String())
}

// settingsFields are the per-user settings: the ones every transport has,
// then the network's own.
func (c *Component) settingsFields() []transports.Field {
	stay := strconv.FormatBool(c.netCaps().StayConnected)
	fields := []transports.Field{{
		Name:    settingStay,
		Label:   fmt.Sprintf("Stay connected to %s while I am offline", c.net.Identity().Name),
		Desc:    "Messages that arrive while you are offline are then kept by your server for you.",
		Kind:    transports.FieldBool,
		Default: stay,
	}}
	if sp, ok := c.net.(transports.SettingsProvider); ok {
		fields = append(fields, sp.SettingsFields()...)
	}
	return fields
}

const settingStay = "stay_connected"

func (c *Component) stayConnected(settings map[string]string) bool {
	v, ok := settings[settingStay]
	if !ok {
		for _, f := range c.settingsFields() {
			if f.Name == settingStay {
				v = f.Default
			}
		}
	}
	return v == "true"
}

// account loads what the supervisor needs to connect user.
func (c *Component) account(ctx context.Context, user jid.JID) (transports.Account, error) {
	r, err := c.reg.Lookup(ctx, user.String(), c.net.Name())
	if err != nil {
		return transports.Account{}, err
	}
	s, err := c.reg.Settings(ctx, user.String(), c.net.Name())
	if err != nil {
		return transports.Account{}, err
	}
	return c.accountOf(r.User, r.Credentials, s), nil
}

// accountOf is the account the supervisor connects.
func (c *Component) accountOf(user string, creds transports.Credentials, settings map[string]string) transports.Account {
	return transports.Account{User: user, Credentials: creds, Settings: public(settings),
		Store: &userStore{state: c.state, user: user, network: c.net.Name()}}
}

// userStore is a network's bookkeeping storage for one user.
type userStore struct {
	state         *netstate.Store
	user, network string
}

func (s *userStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.state.Get(ctx, s.user, s.network, key)
	if errors.Is(err, netstate.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", transports.ErrNotFound, err)
	}
	return v, err
}

func (s *userStore) Put(ctx context.Context, key string, value []byte) error {
	return s.state.Put(ctx, s.user, s.network, key, value)
}

// public drops the component's hidden settings (keys starting with "_").
func public(settings map[string]string) map[string]string {
	out := make(map[string]string, len(settings))
	for k, v := range settings {
		if !strings.HasPrefix(k, "_") {
			out[k] = v
		}
	}
	return out
}

// startUser starts user's legacy session if they are registered.
func (c *Component) startUser(ctx context.Context, user jid.JID) {
	acct, err := c.account(ctx, user)
	if err != nil {
		if !errors.Is(err, registry.ErrNotRegistered) {
			c.log.Error("loading account", "user", user.String(), "err", err)
		}
		return
	}
	c.sup.Start(acct)
}
