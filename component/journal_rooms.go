package component

import (
	"context"

	"mellium.im/xmpp/jid"
)

// Replayed room messages: when a component starts, a user's journaled
// messages to rooms come before the user's remembered rooms (bouncer
// mode, muc.Service.RestoreRooms) are joined again, which the session's
// StateConnected queues behind them in the user's lane: handled then,
// they would be refused "not in this room". So a user with a replayed
// message to a room has the rooms rejoined in the lane, by awaitSession,
// before any of the user's replayed messages runs (all of them, so their
// order holds). A rejoin that fails leaves the room out, and its messages
// get the error they get now, under their ids.
//
// The resource that sent such a message has not joined the room at the
// new component (its client still counts itself in it): a replayed
// message is sent to a room the user's legacy session is in
// (muc.Core.Replayed), as it would have been when it was read.

// toRoom reports whether the journaled stanza n goes to a legacy room or
// one of its occupants.
func (c *Component) toRoom(n *node) bool {
	to, err := jid.Parse(n.Attr("to"))
	if err != nil {
		return false
	}
	_, room := c.isRoom(to)
	return room
}

// holdForRooms rejoins user's remembered rooms, in user's lane, once the
// user's legacy session is up; muc.Service.RestoreRooms does nothing for
// a user without them (not registered, or not staying connected), and
// skips a room that is joined already (the StateConnected's own restore
// ran first). It waits for the joins, each bounded.
func (c *Component) holdForRooms(ctx context.Context, user string) {
	u, err := jid.Parse(user)
	if err != nil || ctx.Err() != nil || c.sup.Adapter(user) == nil {
		return
	}
	c.muc.RestoreRooms(ctx, u)
}
