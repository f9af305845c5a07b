package component

import (
	"context"
	"time"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Corrections (XEP-0308), retractions (XEP-0424) and moderated
// retractions in rooms (XEP-0425), both ways through the message-ID map.
//
// The IDs: a one-to-one message is known by its XMPP id (the user's
// origin-id, or the id the component gave a legacy message), paired with
// its legacy ID in the map. A room message's stanza-id is its legacy ID;
// its id is the user's own for their echoed messages (paired in the map),
// else also the legacy ID. Corrections name the message's id, retractions
// in rooms its stanza-id (XEP-0424 §5), so both resolve through
// legacyRef. A room message the network gave no ID has a stanza-id (and
// id) the gateway made and signed (muc.Service.MadeID): correcting or
// retracting it is refused with item-not-found, as the network could not
// tell which message is meant.
//
// A network that cannot edit gets a correction as a new message that
// starts with stanza.CorrectionMarker; a retraction is refused with a text and
// nothing is sent, its fallback body least of all.

// --- XMPP → legacy ---------------------------------------------------------

// correct relays a correction (XEP-0308) of the message ref in conversation
// to: with the network's Editor where the capabilities claim it and the
// original's legacy ID is known, reporting edited; otherwise it returns
// the body to send as a new message, marked. room says whether ref may be
// a legacy ID itself (a room's stanza-id). A refusal of the network is
// returned as a stanza error.
func (c *Component) correct(ctx context.Context, a transports.Adapter, user string, to transports.ID, room bool, ref, body string) (edited bool, marked string, serr *stanzaerr.Error) {
	ed, ok := a.(transports.Editor)
	if !ok || !c.netCaps().Corrections {
		return false, stanza.CorrectionMarker + body, nil
	}
	if room && c.muc.MadeID(ref) {
		return false, "", muc.NoLegacyID("edited")
	}
	target := c.messageRef(ctx, user, to, room, ref)
	if target == "" {
		return false, stanza.CorrectionMarker + body, nil // the original is unknown: say it is a correction
	}
	ectx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := ed.Edit(ectx, to, target, body); err != nil {
		return false, "", stanzaerr.FromLegacy(err)
	}
	return true, "", nil
}

// retract relays a retraction (XEP-0424) of the message ref in
// conversation to, or refuses it: feature-not-implemented where the
// network cannot delete, item-not-found where the message is unknown.
// Nothing is ever sent as a new message.
func (c *Component) retract(ctx context.Context, a transports.Adapter, user string, to transports.ID, room bool, ref string) *stanzaerr.Error {
	rt, ok := a.(transports.Retractor)
	if !ok || !c.netCaps().Retractions {
		return stanzaerr.New("cancel", "feature-not-implemented",
			"%s cannot delete messages: the message stays there, and nothing was sent.", c.net.Identity().Name)
	}
	if ref == "" {
		return stanzaerr.New("modify", "bad-request", "The retract element has no id.")
	}
	if room && c.muc.MadeID(ref) {
		return muc.NoLegacyID("deleted")
	}
	target := c.messageRef(ctx, user, to, room, ref)
	if target == "" {
		return stanzaerr.New("cancel", "item-not-found", "The gateway does not know that message (too old, or not sent through it); nothing was deleted.")
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := rt.Retract(rctx, to, target); err != nil {
		return stanzaerr.FromLegacy(err)
	}
	return nil
}

// messageRef is the legacy ID of the message an XMPP reference ref names
// in conversation to, or "": through the map, else, in a room, ref
// itself (a stanza-id is the legacy ID). Lane work: it waits until the
// user's messages in flight are paired (settle).
func (c *Component) messageRef(ctx context.Context, user string, to transports.ID, room bool, ref string) transports.RemoteID {
	if room {
		return c.legacyRef(ctx, user, to, ref)
	}
	if ref == "" {
		return ""
	}
	c.settle(ctx, user) // the user's messages in flight are paired first
	id, err := c.ids.LegacyID(ctx, user, c.net.Name(), string(to), ref)
	if err != nil {
		return ""
	}
	return transports.RemoteID(id)
}

// --- legacy → XMPP ---------------------------------------------------------

// xmppRef is the XMPP id of the legacy message target in conversation
// conv, or "" when the map does not know it.
func (c *Component) xmppRef(ctx context.Context, user string, conv transports.ID, target transports.RemoteID) string {
	if target == "" {
		return ""
	}
	id, err := c.ids.XMPPID(ctx, user, c.net.Name(), string(conv), string(target))
	if err != nil {
		return ""
	}
	return id
}

// edit shows a one-to-one edit as a correction of the original, or, when
// the original is unknown, as a new message marked as a correction.
func (s *userSink) edit(ctx context.Context, ev *transports.EditEvent) {
	s.queue(ctx, s.c.direct.Edit(ctx, s.user, ev))
}

// retracted shows a one-to-one deletion as a retraction (with a fallback
// body), or, when the original is unknown, as a note that a message was
// deleted.
func (s *userSink) retracted(ctx context.Context, ev *transports.RetractEvent) {
	s.queue(ctx, s.c.direct.Retracted(ctx, s.user, ev))
}
