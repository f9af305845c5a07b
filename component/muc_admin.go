package component

import (
	"context"
	"strconv"
	"time"

	"mellium.im/xmpp/disco/items"

	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Moderation (muc#admin), room listings (disco#items on a legacy server,
// with result set management) and discovery of rooms and servers.

// --- muc#admin (XEP-0045 §8, §9) -----------------------------------------

func (c *Component) mucAdmin(s *stanza, q *node, id transports.ID) {
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

// listTTL is how long a server's room list is reused.
const listTTL = time.Minute

// listPage is the most items a listing without a result set request
// returns; the response then carries a <set/> for clients that page.
const listPage = 500

// maxItemName bounds an item's name (room name, members, topic) in a
// listing: listPage of them fit in a stanza of the default limit.
const maxItemName = 200

func (c *Component) serverItems(s *stanza, q *node, server transports.ID) {
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
		rooms, err := c.roomListing(c.ctx(), u, server)
		if err != nil {
			c.replyError(s.node, stanzaerr.From(err))
			return
		}
		res, serr := c.pageItems(rooms, q.Child(nsRSM, "set"))
		if serr != nil {
			c.replyError(s.node, serr)
			return
		}
		c.result(s, res)
	})
}

// roomListing returns the rooms of server, cached for listTTL per user.
func (c *Component) roomListing(ctx context.Context, user string, server transports.ID) ([]transports.RoomInfo, error) {
	key := user + "\x00" + string(server)
	c.muc.listMu.Lock()
	l, ok := c.muc.lists[key]
	c.muc.listMu.Unlock()
	if ok && time.Since(l.at) < listTTL {
		return l.rooms, nil
	}
	if !c.netCaps().RoomListing {
		return nil, nil
	}
	a := c.sup.Adapter(user)
	if a == nil {
		return nil, stanzaerr.New("cancel", "item-not-found", "You are not connected to %s: join a room on that server first.", c.net.Identity().Name)
	}
	lister, ok := a.(transports.RoomLister)
	if !ok {
		return nil, nil
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	rooms, err := lister.ListRooms(lctx, server)
	cancel()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	c.muc.listMu.Lock()
	for k, v := range c.muc.lists {
		if now.Sub(v.at) >= listTTL {
			delete(c.muc.lists, k)
		}
	}
	c.muc.lists[key] = roomList{at: now, rooms: rooms}
	c.muc.listMu.Unlock()
	return rooms, nil
}

// pageItems applies an XEP-0059 request to a listing (discovery.Page).
// Items are keyed by their JID.
func (c *Component) pageItems(rooms []transports.RoomInfo, set *node) (*discovery.Items, *stanzaerr.Error) {
	all := make([]items.Item, 0, len(rooms))
	for _, ri := range rooms {
		j, err := c.legacyJID(ri.ID)
		if err != nil {
			continue
		}
		name := ri.Name
		if name == "" {
			name = string(ri.ID)
		}
		name += " (" + strconv.Itoa(ri.Members) + ")"
		if ri.Topic != "" {
			name += " " + ri.Topic
		}
		if len(name) > maxItemName {
			// A full page of listPage items stays well within the
			// stanza limit, whatever the topics.
			name = cutUTF8(name, maxItemName-len("…")) + "…"
		}
		all = append(all, items.Item{JID: j, Name: name})
	}
	return discovery.Page(all, set, listPage)
}

// --- discovery -----------------------------------------------------------

// legacyDiscoInfo answers disco#info on a room, server or contact JID.
func (c *Component) legacyDiscoInfo(s *stanza, id transports.ID) {
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
