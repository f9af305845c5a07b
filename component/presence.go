package component

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/contacts"
	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports"
)

// rosterKey is the hidden setting that lists the legacy contacts' JIDs a
// user subscribed to, so that unregistering removes them from the roster
// even after a restart (package contacts keeps it beside what the gateway
// added from the legacy contact list).
const rosterKey = contacts.RosterKey

// rememberContact records that user has contact in their roster.
func (c *Component) rememberContact(ctx context.Context, user jid.JID, contact string) {
	s, err := c.reg.Settings(ctx, user.String(), c.net.Name())
	if err != nil {
		c.log.Warn("reading settings", "user", user.String(), "err", err)
		return
	}
	list := rosterOf(s)
	for _, x := range list {
		if x == contact {
			return
		}
	}
	s[rosterKey] = strings.Join(append(list, contact), "\n")
	if err := c.reg.SetSettings(ctx, user.String(), c.net.Name(), s); err != nil {
		c.log.Warn("storing roster", "user", user.String(), "err", err)
	}
}

func rosterOf(settings map[string]string) []string { return contacts.Roster(settings) }

// watchRoster names to the network (transports.Watcher) the people the
// user added to their roster through the gateway, so that their presence
// shows though they are not on the network's own contact list. Lane
// work: it reads storage and waits for the network.
func (c *Component) watchRoster(ctx context.Context, user jid.JID) {
	w, ok := c.sup.Adapter(user.String()).(transports.Watcher)
	if !ok || !c.netCaps().WatchPresence {
		return
	}
	s, err := c.reg.Settings(ctx, user.String(), c.net.Name())
	if err != nil {
		c.log.Warn("reading settings", "user", user.String(), "err", err)
		return
	}
	var ids []transports.ID
	for _, js := range rosterOf(s) {
		j, err := jid.Parse(js)
		if err != nil {
			continue
		}
		id, err := legacyID(j)
		if err != nil {
			continue
		}
		if k, err := c.kindOf(id); err == nil && k == transports.KindContact && len(ids) < transports.MaxContacts {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := w.Watch(wctx, ids); err != nil {
		c.log.Info("contacts' presence not watched", "user", user.String(), "err", err)
	}
}

func (c *Component) handlePresence(s *stanza.In) {
	if !c.allowedUser(s.From) {
		if s.Type == "subscribe" || s.Type == "probe" {
			c.replyError(s.Element, c.forbidden())
		} else if s.Type == "" && s.Child(nsMUC, "x") != nil && s.To.Localpart() != "" {
			c.mucError(s, c.forbidden())
		}
		return
	}
	// Presence handling may start or stop a legacy session, which can
	// block: it runs in the user's lane, in order with their messages.
	c.admit(s, func() { c.presenceWork(s) })
}

func (c *Component) presenceWork(s *stanza.In) {
	user := s.From.Bare()
	ctx := c.ctx()
	if s.To.Localpart() != "" && c.roomPresence(s) {
		return
	}
	switch s.Type {
	case "":
		if s.To.Localpart() != "" {
			return // directed presence to a contact or room: nothing to do yet
		}
		prio, _ := strconv.Atoi(s.ChildText("", "priority"))
		r := presence.State{Priority: prio, Show: presence.ParseShow(s.ChildText("", "show")), Status: s.ChildText("", "status")}
		registered := c.registered(ctx, user)
		first, ok := c.presence.Available(user.String(), s.From.Resourcepart(), r, registered)
		if !ok {
			c.log.Info("resource not tracked: too many resources", "user", user.String(), "max", presence.MaxResources)
		}
		if !registered {
			c.pushPresence(ctx, user) // an anonymous session (room joins) mirrors it too
			return
		}
		if first || !c.sup.Running(user.String()) {
			c.startUser(ctx, user)
		}
		c.sendGatewayPresence(ctx, user, c.sup.Status(user.String()))
		c.pushPresence(ctx, user)
	case "unavailable":
		if s.To.Localpart() != "" {
			return
		}
		// The resource went offline: it is out of its rooms too.
		c.muc.ResourceGone(ctx, user, s.From.Resourcepart())
		last := c.presence.Unavailable(user.String(), s.From.Resourcepart())
		if !last {
			c.pushPresence(ctx, user)
			return
		}
		settings, err := c.reg.Settings(ctx, user.String(), c.net.Name())
		if err != nil {
			c.log.Warn("reading settings", "user", user.String(), "err", err)
		}
		if c.stayConnected(settings) {
			if a := c.sup.Adapter(user.String()); a != nil {
				if err := a.SetPresence(ctx, transports.Presence{Show: transports.ExtendedAway, Status: "offline"}); err != nil {
					c.log.Debug("mirroring presence", "user", user.String(), "err", err)
				}
			}
			return
		}
		c.settle(ctx, user.String()) // the messages on their way first
		c.sup.Stop(user.String())
	case "subscribe":
		if !c.registered(ctx, user) {
			c.replyError(s.Element, stanzaerr.New("auth", "registration-required", "Register with this gateway first."))
			return
		}
		// Auto-approve: the gateway and legacy contacts accept every
		// registered user (XEP-0100 §4.1, §5.1).
		c.sendQuiet(ctx, &stanza.Presence{Type: "subscribed", From: s.To.Bare().String(), To: user.String()})
		if s.To.Localpart() != "" {
			c.rememberContact(ctx, user, s.To.Bare().String())
			c.sendQuiet(ctx, &stanza.Presence{Type: "subscribe", From: s.To.Bare().String(), To: user.String()})
			c.watchRoster(ctx, user)
		}
		c.answerProbe(ctx, s.To.Bare(), user)
	case "probe":
		if !c.registered(ctx, user) {
			c.sendQuiet(ctx, &stanza.Presence{Type: "unavailable", From: s.To.Bare().String(), To: s.From.String()})
			return
		}
		c.answerProbe(ctx, s.To.Bare(), s.From)
	case "unsubscribe":
		c.sendQuiet(ctx, &stanza.Presence{Type: "unsubscribed", From: s.To.Bare().String(), To: user.String()})
	}
}

// presenceError handles a presence error from a user's server: the
// resource (or the whole user, for a bare JID) is gone.
func (c *Component) presenceError(s *stanza.In) {
	if s.From.Resourcepart() != "" {
		c.presence.Unavailable(s.From.Bare().String(), s.From.Resourcepart())
		c.later(s.From.Bare().String(), func(ctx context.Context) { c.muc.ResourceGone(ctx, s.From.Bare(), s.From.Resourcepart()) })
	}
}

// registered reports whether user has registered with this gateway.
func (c *Component) registered(ctx context.Context, user jid.JID) bool {
	_, err := c.reg.Lookup(ctx, user.String(), c.net.Name())
	if err != nil && !errors.Is(err, registry.ErrNotRegistered) {
		c.log.Error("looking up registration", "user", user.String(), "err", err)
	}
	return err == nil
}

// answerProbe sends the presence of from (the gateway or a contact) to to.
func (c *Component) answerProbe(ctx context.Context, from, to jid.JID) {
	if from.Localpart() == "" {
		c.sendGatewayPresence(ctx, to, c.sup.Status(to.Bare().String()))
		return
	}
	// Legacy contacts' presence arrives as events: the last one is
	// shown, unavailable until there is one.
	id, err := legacyID(from)
	if err != nil {
		c.sendQuiet(ctx, &stanza.Presence{Type: "unavailable", From: from.String(), To: to.String()})
		return
	}
	c.contacts.SendPresence(ctx, to.Bare(), id, to)
}

// pushPresence mirrors the user's best presence on the legacy network.
func (c *Component) pushPresence(ctx context.Context, user jid.JID) {
	a := c.sup.Adapter(user.String())
	if a == nil {
		return
	}
	p, ok := c.presence.Best(user.String())
	if !ok {
		return
	}
	if err := a.SetPresence(ctx, p); err != nil {
		c.log.Debug("mirroring presence", "user", user.String(), "err", err)
	}
}

// sendGatewayPresence shows the user their connection state as the
// gateway JID's presence: available when connected, away while connecting
// or retrying, xa with the server's text when the login was refused.
func (c *Component) sendGatewayPresence(ctx context.Context, to jid.JID, st transports.Status) {
	p := &stanza.Presence{From: c.domain.String(), To: to.String(), Caps: c.caps()}
	switch st.State {
	case transports.StateConnected:
		p.Status = "Connected"
	case transports.StateConnecting:
		p.Show, p.Status = "away", "Connecting…"
	case transports.StateBadCredentials:
		p.Show, p.Status = "xa", "Login refused: "+stanzaerr.Detail(st.Text)+" — register again with other credentials."
	case transports.StateTransientDisconnect:
		p.Show, p.Status = "away", "Disconnected: "+stanzaerr.Detail(st.Text)+"; next retry at "+st.Retry.UTC().Format("15:04:05")+" UTC."
	default:
		if c.presence.Online(to.Bare().String()) && c.registered(ctx, to.Bare()) {
			p.Show, p.Status = "xa", "Not connected"
		} else {
			p.Type = "unavailable"
			p.Caps = nil
		}
	}
	c.sendQuiet(ctx, p)
}
