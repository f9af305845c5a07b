package component

import (
	"context"
	"time"

	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Moderation (muc#admin), room listings (disco#items on a legacy server,
// with result set management) and discovery of rooms and servers.

// --- muc#admin (XEP-0045 §8, §9) -----------------------------------------

func (c *Component) mucAdmin(s *inStanza, q *node, id transports.ID) {
	user := s.from.Bare()
	u := user.String()
	c.admit(s, func() {
		ctx := c.ctx()
		var r *muc.Room
		ready := false
		c.own(ctx, u, func(context.Context) {
			if _, r = c.room(user, id); r != nil {
				ready = r.Ready()
			}
		})
		if r == nil || !ready {
			c.replyError(s.node, stanzaerr.New("cancel", "not-acceptable", "You are not in this room."))
			return
		}
		items := make([]*node, 0, len(q.Children))
		for _, ch := range q.Children {
			if ch.Name.Local == "item" {
				items = append(items, ch)
			}
		}
		if len(items) == 0 {
			c.replyError(s.node, stanzaerr.New("modify", "bad-request", "The query has no item."))
			return
		}
		if s.typ == "get" {
			c.result(s, c.adminList(ctx, u, r, items[0]))
			return
		}
		mod, ok := c.sup.Adapter(u).(transports.Moderator)
		if !ok {
			c.replyError(s.node, stanzaerr.New("cancel", "feature-not-implemented", "%s has no moderation.", c.net.Identity().Name))
			return
		}
		for _, it := range items {
			if err := c.adminItem(ctx, mod, r, it); err != nil {
				c.replyError(s.node, stanzaerr.From(err))
				return
			}
		}
		c.result(s, nil)
	})
}

// adminItem carries out one item of a muc#admin set.
func (c *Component) adminItem(ctx context.Context, mod transports.Moderator, r *muc.Room, it *node) error {
	ch, err := muc.ParseAdminItem(it, r.JID.String())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if ch.SetRole {
		var err error
		if ch.Role == transports.RoleNone {
			err = mod.Kick(ctx, r.ID, ch.Nick, ch.Reason)
		} else {
			err = mod.SetRole(ctx, r.ID, ch.Nick, ch.Role)
		}
		if err != nil {
			return stanzaerr.FromLegacy(err)
		}
	}
	if ch.SetAff {
		if err := mod.SetAffiliation(ctx, r.ID, ch.Nick, ch.Affiliation); err != nil {
			return stanzaerr.FromLegacy(err)
		}
	}
	return nil
}

// adminList answers a muc#admin get for a role or affiliation from the
// occupant cache (legacy networks give no lists of absent members).
func (c *Component) adminList(ctx context.Context, user string, r *muc.Room, want *node) *muc.AdminQuery {
	res := &muc.AdminQuery{}
	c.own(ctx, user, func(context.Context) { res.Items = r.Filter(want.Attr("role"), want.Attr("affiliation")) })
	return res
}

// --- room listing (disco#items on a server, with XEP-0059) ---------------

// serverItems answers disco#items on a legacy server: its rooms, as the
// MUC service lists and pages them.
func (c *Component) serverItems(s *inStanza, q *node, server transports.ID) {
	if !c.allowedUser(s.from) {
		c.replyError(s.node, c.forbidden())
		return
	}
	if q.Attr("node") != "" {
		c.replyError(s.node, stanzaerr.New("cancel", "item-not-found", "No such node."))
		return
	}
	u := s.from.Bare().String()
	c.admit(s, func() {
		rooms, err := c.muc.svc.ListRooms(c.ctx(), u, server)
		if err != nil {
			c.replyError(s.node, stanzaerr.From(err))
			return
		}
		res, serr := c.muc.svc.PageRooms(rooms, q.Child(nsRSM, "set"))
		if serr != nil {
			c.replyError(s.node, serr)
			return
		}
		c.result(s, res)
	})
}

// --- discovery -----------------------------------------------------------

// legacyDiscoInfo answers disco#info on a room, server or contact JID.
func (c *Component) legacyDiscoInfo(s *inStanza, id transports.ID) {
	kind, err := c.kindOf(id)
	if err != nil {
		c.replyError(s.node, stanzaerr.New("cancel", "item-not-found", "%v", err))
		return
	}
	switch {
	case kind == transports.KindRoom && s.to.Resourcepart() == "":
		d := discovery.RoomOf(string(id), c.netCaps())
		if c.cfg.Archive != nil {
			d = discovery.WithArchive(d)
		}
		c.result(s, d)
	case kind == transports.KindServer && s.to.Resourcepart() == "":
		c.result(s, discovery.Server(string(id), c.netCaps()))
	default:
		name := string(id)
		if kind == transports.KindRoom {
			name = s.to.Resourcepart()
		}
		c.result(s, discovery.Contact(name))
	}
}
