package component

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Bouncer rooms: the rooms a registered user who stays connected is in
// are remembered by the MUC service (muc.Service.RememberRoom); here they
// are joined again.

// restoreRooms joins the remembered rooms of a registered user who stays
// connected, when their legacy session is (again) up. It runs in the
// user's lane.
func (c *Component) restoreRooms(ctx context.Context, user jid.JID) {
	u := user.String()
	settings, err := c.reg.Settings(ctx, u, c.net.Name())
	if err != nil || !c.registered(ctx, user) || !c.stayConnected(settings) {
		return
	}
	a := c.sup.Adapter(u)
	rooms, ok := a.(transports.Rooms)
	if !ok {
		return
	}
	for id, nick := range muc.RememberedRooms(settings) {
		roomJID, err := c.legacyJID(id)
		if err != nil {
			continue
		}
		r := muc.NewRoom(id, roomJID, a, nick)
		added := false
		if !c.own(ctx, u, func(context.Context) { added = c.muc.User(u).PutNew(r) }) {
			return
		}
		if !added {
			continue
		}

		jctx, cancel := context.WithTimeout(ctx, joinTimeout)
		err = rooms.JoinRoom(jctx, id, nick)
		cancel()
		if err != nil {
			c.own(ctx, u, func(context.Context) {
				if ur := c.muc.Rooms(u); ur != nil {
					ur.Remove(r)
				}
			})
			c.log.Info("rejoining a remembered room failed", "user", u, "room", string(id), "err", err)
			if errors.Is(err, transports.ErrForbidden) || errors.Is(err, transports.ErrNotFound) {
				c.muc.ForgetRoom(ctx, user, id)
				c.queueOrSend(ctx, user, &stanza.Message{Type: "chat", ID: newID(), From: roomJID.String(), To: u,
					Body: "Could not rejoin " + string(id) + ": " + stanzaerr.FromLegacy(err).Text})
			}
			continue
		}
		c.own(ctx, u, func(ctx context.Context) {
			if ur := c.muc.Rooms(u); ur != nil && ur.Has(r) && !r.Ready() {
				c.roomReady(ctx, r, &transports.RoomReadyEvent{Room: id, Nick: r.Nick, Role: r.Role, Affiliation: r.Affiliation})
			}
		})
		c.log.Info("rejoined a remembered room", "user", u, "room", string(id))
	}
}
