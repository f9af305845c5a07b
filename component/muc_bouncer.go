package component

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Bouncer rooms: a registered user who stays connected while offline
// stays in their legacy rooms, so highlights reach them as offline
// messages. The rooms they are in are remembered in a hidden setting, so a
// restart of Switchboard (or a new legacy session) joins them again
// before the user's client comes back.

// roomsKey is the hidden setting listing a user's rooms ("id\tnick" lines).
const roomsKey = "_rooms"

// rememberRoom records that a registered user is in room as nick.
func (c *Component) rememberRoom(ctx context.Context, user jid.JID, room transports.ID, nick string) {
	c.editRooms(ctx, user, func(rooms map[transports.ID]string) { rooms[room] = nick })
}

// forgetRoom records that the user left room for good.
func (c *Component) forgetRoom(ctx context.Context, user jid.JID, room transports.ID) {
	c.editRooms(ctx, user, func(rooms map[transports.ID]string) { delete(rooms, room) })
}

func (c *Component) editRooms(ctx context.Context, user jid.JID, edit func(map[transports.ID]string)) {
	u := user.String()
	settings, err := c.reg.Settings(ctx, u, c.net.Name())
	if err != nil {
		c.log.Warn("reading settings", "user", u, "err", err)
		return
	}
	rooms := roomsOf(settings)
	before := maps.Clone(rooms)
	edit(rooms)
	if maps.Equal(before, rooms) {
		return // a rejoin: nothing to write
	}
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(rooms)) {
		b.WriteString(string(id) + "\t" + rooms[id] + "\n")
	}
	settings[roomsKey] = b.String()
	if err := c.reg.SetSettings(ctx, u, c.net.Name(), settings); err != nil {
		c.log.Warn("storing rooms", "user", u, "err", err)
	}
}

func roomsOf(settings map[string]string) map[transports.ID]string {
	rooms := make(map[transports.ID]string)
	for _, line := range strings.Split(settings[roomsKey], "\n") {
		id, nick, ok := strings.Cut(line, "\t")
		if ok && id != "" && nick != "" {
			rooms[transports.ID(id)] = nick
		}
	}
	return rooms
}

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
	for id, nick := range roomsOf(settings) {
		roomJID, err := c.legacyJID(id)
		if err != nil {
			continue
		}
		r := muc.NewRoom(id, roomJID, a, nick)
		added := false
		if !c.own(ctx, u, func(context.Context) { added = c.muc.user(u).PutNew(r) }) {
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
				if ur := c.muc.get(u); ur != nil {
					ur.Remove(r)
				}
			})
			c.log.Info("rejoining a remembered room failed", "user", u, "room", string(id), "err", err)
			if errors.Is(err, transports.ErrForbidden) || errors.Is(err, transports.ErrNotFound) {
				c.forgetRoom(ctx, user, id)
				c.queueOrSend(ctx, user, &stanza.Message{Type: "chat", ID: newID(), From: roomJID.String(), To: u,
					Body: "Could not rejoin " + string(id) + ": " + stanzaerr.FromLegacy(err).Text})
			}
			continue
		}
		c.own(ctx, u, func(ctx context.Context) {
			if ur := c.muc.get(u); ur != nil && ur.Has(r) && !r.Ready() {
				c.roomReady(ctx, r, &transports.RoomReadyEvent{Room: id, Nick: r.Nick, Role: r.Role, Affiliation: r.Affiliation})
			}
		})
		c.log.Info("rejoined a remembered room", "user", u, "room", string(id))
	}
}
