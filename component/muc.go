package component

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Legacy rooms are served by the MUC service (package component/muc,
// muc.Service, through mucCore): joins, leaves, room events, group chat,
// bouncer mode and the room archive. Here is what routes stanzas to it:
// which JIDs are rooms, and the presence that joins or leaves one.

// nsMAM is XEP-0313's namespace, served on room JIDs with an archive.
const nsMAM = discovery.NSMAM

// kindOf says what a legacy ID names; networks without an Addresser have
// only contacts.
func (c *Component) kindOf(id transports.ID) (transports.IDKind, error) {
	if a, ok := c.net.(transports.Addresser); ok {
		return a.Kind(id)
	}
	return transports.KindContact, nil
}

// isRoom reports whether j is the JID (bare or occupant) of a legacy room.
func (c *Component) isRoom(j jid.JID) (transports.ID, bool) {
	id, err := legacyID(j)
	if err != nil {
		return "", false
	}
	k, err := c.kindOf(id)
	return id, err == nil && k == transports.KindRoom
}

// after runs job in user's lane once d has passed, unless the component
// stops first.
func (c *Component) after(d time.Duration, user string, job func(ctx context.Context)) {
	ctx := c.ctx()
	c.timerMu.Lock()
	defer c.timerMu.Unlock()
	if c.stopping {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.lanes.Post(ctx, user, job)
	}()
}

// roomPresence routes a presence to a room or occupant JID to the MUC
// service (joins and leaves), answering those addressed wrong. It reports
// false when the presence is not a MUC matter (a contact's JID), so that
// the caller handles it. It runs in the user's lane.
func (c *Component) roomPresence(s *stanza.In) bool {
	id, err := legacyID(s.To)
	if err != nil {
		return false
	}
	join := s.Child(nsMUC, "x") != nil && s.Type == ""
	kind, err := c.kindOf(id)
	if err != nil {
		if join {
			c.mucError(s, stanzaerr.New("modify", "jid-malformed", "%v", err))
			return true
		}
		return false
	}
	if kind != transports.KindRoom {
		if join {
			what := "a contact"
			if kind == transports.KindServer {
				what = "a server"
			}
			c.mucError(s, stanzaerr.New("cancel", "item-not-found", "%s is %s, not a room.", id, what))
			return true
		}
		return false
	}
	switch s.Type {
	case "":
		if s.To.Resourcepart() == "" {
			if join {
				c.mucError(s, stanzaerr.New("modify", "jid-malformed", "A nickname is required: join %s/yournick.", s.To.Bare()))
			}
			return true
		}
		c.muc.Join(c.ctx(), s, id)
	case "unavailable":
		if s.To.Resourcepart() != "" {
			c.muc.Leave(c.ctx(), s, id)
		}
	default:
		return false
	}
	return true
}

// mucError answers a join with an error presence from the occupant
// JID it was sent to.
func (c *Component) mucError(s *stanza.In, e *stanzaerr.Error) {
	ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
	defer cancel()
	c.sendQuiet(ctx, &stanza.Presence{ID: s.ID, Type: "error", From: s.To.String(), To: s.From.String(),
		Error: e.Wire(), Extra: []any{&muc.JoinX{}}})
}
