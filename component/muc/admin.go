package muc

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// adminTimeout bounds the legacy call of one muc#admin item.
const adminTimeout = time.Minute

// Admin answers a muc#admin query (XEP-0045 §8, §9) that user sent to
// room id: q is the <query/>, typ the IQ's type. A get is answered from
// the occupants the service knows (legacy networks give no lists of
// absent members) and returns the *AdminQuery to send back; a set
// carries out each item on the legacy network in order and returns a nil
// payload. It blocks on the network (each item at most a minute): call it
// from the user's lane, never from owner work. The error, when there is
// one, is for the sender as it is (stanzaerr.From); the service does not
// retry.
func (s *Service) Admin(ctx context.Context, user jid.JID, typ string, q *xmltree.Element, id transports.ID) (any, error) {
	u := user.String()
	var r *Room
	ready := false
	s.core.Own(ctx, u, func(context.Context) {
		if r = s.Room(user, id); r != nil {
			ready = r.Ready()
		}
	})
	if r == nil || !ready {
		return nil, stanzaerr.New("cancel", "not-acceptable", "You are not in this room.")
	}
	items := make([]*xmltree.Element, 0, len(q.Children))
	for _, ch := range q.Children {
		if ch.Name.Local == "item" {
			items = append(items, ch)
		}
	}
	if len(items) == 0 {
		return nil, stanzaerr.New("modify", "bad-request", "The query has no item.")
	}
	if typ == "get" {
		res := &AdminQuery{}
		s.core.Own(ctx, u, func(context.Context) { res.Items = r.Filter(items[0].Attr("role"), items[0].Attr("affiliation")) })
		return res, nil
	}
	mod, ok := s.core.Adapter(u).(transports.Moderator)
	if !ok {
		return nil, stanzaerr.New("cancel", "feature-not-implemented", "%s has no moderation.", s.core.NetworkName())
	}
	for _, it := range items {
		if err := adminItem(ctx, mod, r, it); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// adminItem carries out one item of a muc#admin set.
func adminItem(ctx context.Context, mod transports.Moderator, r *Room, it *xmltree.Element) error {
	ch, err := ParseAdminItem(it, r.JID.String())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
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
