package component

import (
	"cmp"

	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/component/vcard"
	"github.com/switchboard-im/switchboard/transports"
)

// Moderation (muc#admin), room listings (disco#items on a legacy server,
// with result set management) and discovery of rooms and servers.

// --- muc#admin (XEP-0045 §8, §9) -----------------------------------------

// mucAdmin answers a muc#admin query to a room (muc.Service.Admin), in
// the user's lane.
func (c *Component) mucAdmin(s *stanza.In, q *node, id transports.ID) {
	c.admit(s, func() {
		res, err := c.muc.Admin(c.ctx(), s.From.Bare(), s.Type, q, id)
		if err != nil {
			c.replyError(s.Element, stanzaerr.From(err))
			return
		}
		c.result(s, res)
	})
}

// --- room listing (disco#items on a server, with XEP-0059) ---------------

// serverItems answers disco#items on a legacy server: its rooms, as the
// MUC service lists and pages them.
func (c *Component) serverItems(s *stanza.In, q *node, server transports.ID) {
	if !c.allowedUser(s.From) {
		c.replyError(s.Element, c.forbidden())
		return
	}
	if q.Attr("node") != "" {
		c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "No such node."))
		return
	}
	u := s.From.Bare().String()
	c.admit(s, func() {
		rooms, err := c.muc.ListRooms(c.ctx(), u, server)
		if err != nil {
			c.replyError(s.Element, stanzaerr.From(err))
			return
		}
		res, serr := c.muc.PageRooms(rooms, q.Child(nsRSM, "set"))
		if serr != nil {
			c.replyError(s.Element, serr)
			return
		}
		c.result(s, res)
	})
}

// --- discovery -----------------------------------------------------------

// legacyDiscoInfo answers disco#info on a room, server or contact JID.
func (c *Component) legacyDiscoInfo(s *stanza.In, id transports.ID) {
	kind, err := c.kindOf(id)
	if err != nil {
		c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "%v", err))
		return
	}
	switch {
	case kind == transports.KindRoom && s.To.Resourcepart() == "":
		answer := func(f discovery.RoomFacts) {
			d := discovery.RoomOf(cmp.Or(f.Name, string(id)), c.netCaps())
			if c.cfg.Archive != nil {
				d = discovery.WithArchive(d)
			}
			c.result(s, discovery.WithRoomInfo(d, f))
		}
		if !c.allowedUser(s.From) {
			answer(discovery.RoomFacts{})
			return
		}
		// The room's human name, subject and occupants are known to the
		// user's session in it (or to a listing it fetched): asked in the
		// lane, never on the stream's goroutine, and never of the network.
		c.admit(s, func() { answer(c.muc.RoomFacts(c.ctx(), s.From.Bare().String(), id)) })
	case kind == transports.KindServer && s.To.Resourcepart() == "":
		c.result(s, discovery.Server(string(id), c.netCaps()))
	default:
		name := string(id)
		if kind == transports.KindRoom {
			name = s.To.Resourcepart()
		}
		d := discovery.Contact(name)
		if kind == transports.KindContact && c.netCaps().Profiles || kind == transports.KindRoom && c.occupantProfiles() {
			d.Features = append(d.Features, discovery.Features(vcard.NS)...) // profiles.go
		}
		c.result(s, d)
	}
}
