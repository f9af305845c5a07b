package contacts

import (
	"context"
	"errors"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/component/vcard"
	"github.com/switchboard-im/switchboard/transports"
)

// Who legacy contacts are (transports.Capabilities.Profiles): their
// names (XEP-0172 nick in their presence and subscription requests),
// their vCards (XEP-0054, answered from the network's Profiler) and
// their avatars' hashes in their presence (XEP-0153), so clients fetch a
// picture once per change. Contacts' last presence is kept too, to answer
// the probes of the user's server with it.

// profileTimeout bounds the network's answer to a vCard request and the
// fetch of the picture.
const profileTimeout = 30 * time.Second

// setProfile records the profile the network sent for the contact and
// reports whether the picture changed: then the contact's presence must
// carry a new hash (fetched first, unless there is no picture now).
func (p *Profile) setProfile(prof transports.Profile) (changed bool) {
	p.Name, p.About = prof.Name, prof.About
	p.Avatar = prof.Avatar
	switch {
	case prof.Avatar == nil:
		changed = !p.Hashed || p.Hash != ""
		p.Hash, p.HashOf, p.Hashed = "", "", true
	case prof.Avatar.ID != p.HashOf:
		changed = true
	}
	return changed
}

// answered records the profile a vCard request got from the network, with
// its picture (nil when there is none, or it could not be fetched): it is
// fresher than what the book had, so the next presence carries its name
// and hash.
func (p *Profile) answered(prof transports.Profile, pic *vcard.Picture) {
	p.Name, p.About, p.Avatar = prof.Name, prof.About, prof.Avatar
	switch {
	case prof.Avatar == nil:
		p.Hash, p.HashOf, p.Hashed = "", "", true
	case pic != nil:
		p.Hash, p.HashOf, p.Hashed = pic.Hash, prof.Avatar.ID, true
	}
}

// ProfileEvent records a contact's new profile. Owner work: it returns
// at once. A changed picture is fetched in the user's lane, and the
// contact's presence is sent again with its hash then; a new name shows
// in the next presence.
func (d *Service) ProfileEvent(ctx context.Context, user jid.JID, ev *transports.ProfileEvent) {
	if !d.core.Capabilities().Profiles {
		return
	}
	u := user.String()
	changed := false
	d.book.Update(u, ev.From, func(p *Profile) { changed = p.setProfile(ev.Profile) })
	if !changed {
		return
	}
	contact := ev.From
	d.core.Later(u, func(ctx context.Context) {
		d.hashAvatar(ctx, u, contact)
		d.SendPresence(ctx, user, contact, user)
	})
}

// hashAvatar fetches the picture of contact's profile, if its hash is
// not known yet, and records the hash. Lane work: it waits for the
// network. A picture that cannot be fetched or is no picture is logged
// and shown as none.
func (d *Service) hashAvatar(ctx context.Context, user string, contact transports.ID) {
	p, ok := d.book.Get(user, contact)
	if !ok || p.Avatar == nil || p.Avatar.ID == p.HashOf {
		return
	}
	av := *p.Avatar
	pic, err := d.fetchPicture(ctx, av)
	hash := ""
	if err != nil {
		d.core.Logger().Info("avatar not fetched", "user", user, "err", err)
	} else {
		hash = pic.Hash
	}
	d.book.Update(user, contact, func(p *Profile) {
		if p.Avatar != nil && p.Avatar.ID == av.ID {
			p.Hash, p.HashOf, p.Hashed = hash, av.ID, true
		}
	})
}

// fetchPicture reads an avatar through the core's attachment path (the
// egress policy, the size caps) and checks it is a picture within
// vcard's bound.
func (d *Service) fetchPicture(ctx context.Context, av transports.Avatar) (vcard.Picture, error) {
	ctx, cancel := context.WithTimeout(ctx, profileTimeout)
	defer cancel()
	if av.File.Size > vcard.MaxPicture {
		return vcard.Picture{}, vcard.ErrTooLarge
	}
	rc, err := d.core.Open(ctx, av.File)
	if err != nil {
		return vcard.Picture{}, err
	}
	defer rc.Close()
	return vcard.ReadPicture(rc, av.File.Type, vcard.MaxPicture)
}

// PresenceEvent shows a contact's presence to the user and keeps it for
// probes. Owner work; it writes to the stream.
func (d *Service) PresenceEvent(ctx context.Context, user jid.JID, ev *transports.PresenceEvent) {
	pr := ev.Presence
	d.book.Update(user.String(), ev.From, func(p *Profile) { p.Presence = &pr })
	d.SendPresence(ctx, user, ev.From, user)
}

// presenceOf is contact's presence as p shows it (ok: p is known), from
// from to to: with the contact's name (XEP-0172) and avatar hash
// (XEP-0153) when profiles is set; unavailable when no presence is known.
func presenceOf(p Profile, ok bool, from, to string, profiles bool) *stanza.Presence {
	pres := &stanza.Presence{From: from, To: to, Type: "unavailable"}
	if ok && p.Presence != nil && p.Presence.Show != transports.Offline {
		pres.Type, pres.Show, pres.Status = "", p.Presence.Show.String(), p.Presence.Status
	} else if ok && p.Presence != nil {
		pres.Status = p.Presence.Status
	}
	if ok && profiles {
		if p.Name != "" {
			pres.Nick = &stanza.Nick{Nick: p.Name}
		}
		if p.Hashed {
			pres.Extra = append(pres.Extra, vcard.NewUpdate(&vcard.Picture{Hash: p.Hash}))
		}
	}
	return pres
}

// SendPresence sends contact's last known presence, as user's session
// knows it, to to (user's bare JID, or the full JID that probed): with
// the contact's name (XEP-0172) and avatar hash (XEP-0153) where the
// network has profiles; unavailable when no presence is known. Any
// goroutine; it writes to the stream.
func (d *Service) SendPresence(ctx context.Context, user jid.JID, contact transports.ID, to jid.JID) {
	from, err := d.core.LegacyJID(contact)
	if err != nil {
		d.core.Logger().Warn("legacy contact without a JID", "id", contact, "err", err)
		return
	}
	p, ok := d.book.Get(user.String(), contact)
	d.core.SendQuiet(ctx, presenceOf(p, ok, from.String(), to.String(), d.core.Capabilities().Profiles))
}

// VCard answers a vCard request to a legacy contact's JID: the network's
// profile of the contact, with its picture inline. It runs on the
// stream's goroutine and leaves the network's answer to the sender's
// lane (admitted like any stanza of theirs).
func (d *Service) VCard(s *stanza.In) {
	c := d.core
	id, err := c.LegacyID(s.To)
	if err != nil || s.To.Resourcepart() != "" {
		c.ReplyError(s, stanzaerr.New("cancel", "item-not-found", "No such contact."))
		return
	}
	if k, err := c.Kind(id); err != nil || k != transports.KindContact {
		c.ReplyError(s, stanzaerr.New("cancel", "feature-not-implemented", "Only contacts have a vCard here."))
		return
	}
	c.Admit(s, func(ctx context.Context) { d.VCardOf(ctx, s, id) })
}

// VCardOf answers s, a vCard request, with the network's profile of the
// contact id, its picture inline: a contact's own JID (VCard) or a room
// occupant's (the component resolves the occupant to their contact).
// Lane work: it waits for the network, at most profileTimeout.
func (d *Service) VCardOf(ctx context.Context, s *stanza.In, id transports.ID) {
	c := d.core
	user := s.From.Bare()
	ctx, cancel := context.WithTimeout(ctx, profileTimeout)
	defer cancel()
	a, _ := c.Adapter(user.String()).(transports.Profiler)
	if a == nil {
		c.ReplyError(s, stanzaerr.New("wait", "recipient-unavailable", "You are not connected to %s.", c.NetworkName()))
		return
	}
	prof, err := a.Profile(ctx, id)
	if err != nil {
		if errors.Is(err, transports.ErrNotFound) {
			c.ReplyError(s, stanzaerr.New("cancel", "item-not-found", "%s has no such contact.", c.NetworkName()))
			return
		}
		c.ReplyError(s, stanzaerr.From(err))
		return
	}
	var pic *vcard.Picture
	if prof.Avatar != nil {
		got, err := d.fetchPicture(ctx, *prof.Avatar)
		if err != nil {
			c.Logger().Info("avatar not fetched", "user", user.String(), "err", err)
		} else {
			pic = &got
		}
	}
	d.book.Update(user.String(), id, func(p *Profile) { p.answered(prof, pic) })
	c.Result(s, vcard.NewCard(prof.Name, prof.About, pic))
}
