package component

import (
	"context"
	"errors"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/msgid"
)

// A journaled message whose stanza id already has a legacy ID in the
// message-ID map was sent, and its pair written, by the process that
// stopped before it could acknowledge the entry: sending it again would
// be a duplicate the journal can tell from the map. replayJournal
// acknowledges such an entry without handling it again.

// pairedBefore reports whether the journaled message n of user was
// already sent to the legacy network: its XMPP id (origin-id, else stanza
// id, as the send pairs it) has a counterpart in the message-ID map of
// its conversation (a legacy ID, or the record of a message the network
// gave no ID). Only text messages to a contact or a room are paired so;
// corrections, retractions, reactions and private messages through a room
// report false. A storage error reports false: sending again is the
// bounded duplicate, losing the message is not. Storage I/O, bounded by
// ctx.
func (c *Component) pairedBefore(ctx context.Context, user string, n *node) bool {
	if c.ids == nil || n.Child("", "body") == nil || n.Child(stanza.NSCorrect, "replace") != nil ||
		n.Child(stanza.NSRetract, "retract") != nil || n.Child(stanza.NSReactions, "reactions") != nil {
		return false
	}
	to, err := jid.Parse(n.Attr("to"))
	if err != nil {
		return false
	}
	if _, room := c.isRoom(to); room && to.Resourcepart() != "" && n.Attr("type") != "groupchat" {
		return false // a private message through a room: paired with the member's contact ID
	}
	conv, err := legacyID(to)
	if err != nil {
		return false
	}
	xid := n.Attr("id")
	if o := n.Child(stanza.NSSID, "origin-id"); o != nil && o.Attr("id") != "" {
		xid = o.Attr("id")
	}
	if xid == "" {
		return false
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = c.ids.LegacyID(lctx, user, c.net.Name(), string(conv), xid)
	if err != nil && !errors.Is(err, msgid.ErrNoMapping) {
		c.log.Warn("looking up a journaled message's ID; sending it again", "user", user, "err", err)
	}
	return err == nil
}
