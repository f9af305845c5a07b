package component

import (
	"context"
	"errors"
	"sync"
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

// maxProfiles bounds the contacts profileBook keeps, all users together;
// past it, an arbitrary entry is forgotten (its contact then shows no
// avatar hash until its next profile event, and answers probes as
// unavailable).
const maxProfiles = 50000

// profileTimeout bounds the network's answer to a vCard request and the
// fetch of the picture.
const profileTimeout = 30 * time.Second

// profileBook is what the gateway knows of each user's legacy contacts. It
// is a table across users (any goroutine, under mu); pictures are not
// kept, only their hashes: a vCard request fetches the picture again.
type profileBook struct {
	mu sync.Mutex
	m  map[profileKey]*contactProfile
}

type profileKey struct {
	user    string
	contact transports.ID
}

// contactProfile is one contact as one user's session knows it.
type contactProfile struct {
	name  string
	about string
	// avatar is the picture the network named last; hash is the
	// XEP-0153 hash of hashOf's picture ("" while not fetched, or for
	// none: then hashed is true).
	avatar *transports.Avatar
	hash   string
	hashOf string
	hashed bool
	// presence is the contact's last presence, nil before any.
	presence *transports.Presence
}

// update changes the entry of (user, contact) with fn, creating it.
func (b *profileBook) update(user string, contact transports.ID, fn func(p *contactProfile)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := profileKey{user, contact}
	p := b.m[k]
	if p == nil {
		if b.m == nil {
			b.m = make(map[profileKey]*contactProfile)
		}
		if len(b.m) >= maxProfiles {
			for old := range b.m {
				delete(b.m, old)
				break
			}
		}
		p = &contactProfile{}
		b.m[k] = p
	}
	fn(p)
}

// get returns a copy of the entry of (user, contact).
func (b *profileBook) get(user string, contact transports.ID) (contactProfile, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.m[profileKey{user, contact}]
	if !ok {
		return contactProfile{}, false
	}
	return *p, true
}

// forget drops everything of user's (unregistration).
func (b *profileBook) forget(user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.m {
		if k.user == user {
			delete(b.m, k)
		}
	}
}

// profileEvent records a contact's new profile (owner work). A changed
// picture is fetched in the user's lane, and the contact's presence is
// sent again with its hash then; a new name shows in the next presence.
func (c *Component) profileEvent(ctx context.Context, user jid.JID, ev *transports.ProfileEvent) {
	if !c.netCaps().Profiles {
		return
	}
	u := user.String()
	changed := false
	c.profiles.update(u, ev.From, func(p *contactProfile) {
		p.name, p.about = ev.Profile.Name, ev.Profile.About
		p.avatar = ev.Profile.Avatar
		switch {
		case ev.Profile.Avatar == nil:
			changed = !p.hashed || p.hash != ""
			p.hash, p.hashOf, p.hashed = "", "", true
		case ev.Profile.Avatar.ID != p.hashOf:
			changed = true
		}
	})
	if !changed {
		return
	}
	contact := ev.From
	c.later(u, func(ctx context.Context) {
		c.hashAvatar(ctx, u, contact)
		c.sendContactPresence(ctx, user, contact, user)
	})
}

// hashAvatar fetches the picture of contact's profile, if its hash is
// not known yet, and records the hash. Lane work: it waits for the
// network. A picture that cannot be fetched or is no picture is logged
// and shown as none.
func (c *Component) hashAvatar(ctx context.Context, user string, contact transports.ID) {
	p, ok := c.profiles.get(user, contact)
	if !ok || p.avatar == nil || p.avatar.ID == p.hashOf {
		return
	}
	av := *p.avatar
	pic, err := c.fetchPicture(ctx, av)
	hash := ""
	if err != nil {
		c.log.Info("avatar not fetched", "user", user, "err", err)
	} else {
		hash = pic.Hash
	}
	c.profiles.update(user, contact, func(p *contactProfile) {
		if p.avatar != nil && p.avatar.ID == av.ID {
			p.hash, p.hashOf, p.hashed = hash, av.ID, true
		}
	})
}

// fetchPicture reads an avatar through the attachment path (the egress
// policy, the size caps) and checks it is a picture within vcard's bound.
func (c *Component) fetchPicture(ctx context.Context, av transports.Avatar) (vcard.Picture, error) {
	ctx, cancel := context.WithTimeout(ctx, profileTimeout)
	defer cancel()
	if av.File.Size > vcard.MaxPicture {
		return vcard.Picture{}, vcard.ErrTooLarge
	}
	rc, _, err := c.openSource(ctx, av.File)
	if err != nil {
		return vcard.Picture{}, err
	}
	defer rc.Close()
	return vcard.ReadPicture(rc, av.File.Type, vcard.MaxPicture)
}

// presenceEvent shows a contact's presence to the user (owner work) and
// keeps it for probes.
func (c *Component) presenceEvent(ctx context.Context, user jid.JID, ev *transports.PresenceEvent) {
	pr := ev.Presence
	c.profiles.update(user.String(), ev.From, func(p *contactProfile) { p.presence = &pr })
	c.sendContactPresence(ctx, user, ev.From, user)
}

// sendContactPresence sends contact's last known presence, as user's
// session knows it, to to (user's bare JID, or the full JID that
// probed): with the contact's name (XEP-0172) and avatar hash (XEP-0153)
// where the network has profiles; unavailable when no presence is known.
func (c *Component) sendContactPresence(ctx context.Context, user jid.JID, contact transports.ID, to jid.JID) {
	from, err := c.legacyJID(contact)
	if err != nil {
		c.log.Warn("legacy contact without a JID", "id", contact, "err", err)
		return
	}
	p := &stanza.Presence{From: from.String(), To: to.String(), Type: "unavailable"}
	cp, ok := c.profiles.get(user.String(), contact)
	if ok && cp.presence != nil && cp.presence.Show != transports.Offline {
		p.Type, p.Show, p.Status = "", cp.presence.Show.String(), cp.presence.Status
	} else if ok && cp.presence != nil {
		p.Status = cp.presence.Status
	}
	if ok && c.netCaps().Profiles {
		if cp.name != "" {
			p.Nick = &stanza.Nick{Nick: cp.name}
		}
		if cp.hashed {
			p.Extra = append(p.Extra, vcard.NewUpdate(&vcard.Picture{Hash: cp.hash}))
		}
	}
	c.sendQuiet(ctx, p)
}

// contactVCard answers a vCard request to a legacy contact's JID: the
// network's profile of the contact, with its picture inline. Lane work
// (admitted like any stanza of the user's): it waits for the network.
func (c *Component) contactVCard(s *stanza.In) {
	id, err := legacyID(s.To)
	if err != nil || s.To.Resourcepart() != "" {
		c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "No such contact."))
		return
	}
	if k, err := c.kindOf(id); err != nil || k != transports.KindContact {
		c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented", "Only contacts have a vCard here."))
		return
	}
	user := s.From.Bare()
	c.admit(s, func() {
		ctx, cancel := context.WithTimeout(c.ctx(), profileTimeout)
		defer cancel()
		a, _ := c.sup.Adapter(user.String()).(transports.Profiler)
		if a == nil {
			c.replyError(s.Element, stanzaerr.New("wait", "recipient-unavailable", "You are not connected to %s.", c.net.Identity().Name))
			return
		}
		prof, err := a.Profile(ctx, id)
		if err != nil {
			if errors.Is(err, transports.ErrNotFound) {
				c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "%s has no such contact.", c.net.Identity().Name))
				return
			}
			c.replyError(s.Element, stanzaerr.From(err))
			return
		}
		var pic *vcard.Picture
		if prof.Avatar != nil {
			got, err := c.fetchPicture(ctx, *prof.Avatar)
			if err != nil {
				c.log.Info("avatar not fetched", "user", user.String(), "err", err)
			} else {
				pic = &got
			}
		}
		// The answer is fresher than what the book has: keep it, so the
		// next presence carries this name and hash.
		c.profiles.update(user.String(), id, func(p *contactProfile) {
			p.name, p.about, p.avatar = prof.Name, prof.About, prof.Avatar
			switch {
			case prof.Avatar == nil:
				p.hash, p.hashOf, p.hashed = "", "", true
			case pic != nil:
				p.hash, p.hashOf, p.hashed = pic.Hash, prof.Avatar.ID, true
			}
		})
		c.result(s, vcard.NewCard(prof.Name, prof.About, pic))
	})
}
