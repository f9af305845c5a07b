package muc

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/vcard"
)

// Occupants' pictures (XEP-0153): where the network has profiles and can
// tell who its room members are, an occupant's presence carries the hash
// of the member's picture, the one the occupant's vCard (room/nick) and
// the member's own presence as a contact carry. The hash comes from the
// core's profile cache (Core.OccupantPhoto) and never from the network on
// the way of a presence: a room of thousands would otherwise fetch
// thousands of pictures at every join. A member's hash is known once the
// network sent a ProfileEvent for them or someone asked their vCard;
// PhotosChanged then sends the occupants whose hash changed again, so
// clients fetch the picture once per change.

// photo is an occupant's picture hash as a presence showed it: known
// false shows none (the cache had no answer), hash "" no picture.
type photo struct {
	hash  string
	known bool
}

// photoOf is the picture hash of occupant o of r as user's cache knows
// it. No I/O.
func (s *Service) photoOf(user string, r *Room, o Occupant) photo {
	h, ok := s.core.OccupantPhoto(user, r.ID, o.Nick, o.OccupantID)
	return photo{hash: h, known: ok}
}

// withPhoto adds ph's <x xmlns='vcard-temp:x:update'/> to p when known.
func withPhoto(p *stanza.Presence, ph photo) *stanza.Presence {
	if ph.known {
		p.Extra = append(p.Extra, vcard.NewUpdate(&vcard.Picture{Hash: ph.hash}))
	}
	return p
}

// occupantShown returns the builder of o's presence in r, with the
// picture hash user's cache knows, and records that hash as shown for
// PhotosChanged. Owner work.
func (s *Service) occupantShown(user string, r *Room, o Occupant) func(to jid.JID) any {
	ph := s.photoOf(user, r, o)
	r.occupants.setPhoto(o.Nick, ph)
	return func(to jid.JID) any { return withPhoto(occupantPresence(r, o, to), ph) }
}

// PhotosChanged sends again, to user's resources in each room, the
// presence of every occupant whose picture hash in the core's cache is
// not the one their last presence showed: after a vCard was answered or
// a ProfileEvent hashed. Owner work; it asks the network nothing.
func (s *Service) PhotosChanged(ctx context.Context, user jid.JID) {
	u := user.String()
	ur := s.Rooms(u)
	if ur == nil {
		return
	}
	for _, r := range ur.All() {
		if !r.Ready() {
			continue
		}
		for _, o := range r.Others() {
			if ph := s.photoOf(u, r, o); ph != r.occupant(o.Nick).photo {
				s.broadcast(ctx, r, "", s.occupantShown(u, r, o))
			}
		}
	}
}
