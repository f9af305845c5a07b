package component

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// maxBodyBytes bounds a message body accepted towards a legacy network.
const maxBodyBytes = 64 << 10

func (c *Component) handleMessage(s *stanza.In) {
	if s.Type == "headline" {
		c.replyError(s.Element, stanzaerr.New("modify", "bad-request", "This address does not take messages of type %q.", s.Type))
		return
	}
	if !c.allowedUser(s.From) {
		c.replyError(s.Element, c.forbidden())
		return
	}
	if id, ok := c.isRoom(s.To); ok {
		if c.privateMessage(s, id) {
			return
		}
		if c.muc.Message(s) {
			c.admit(s, func() { c.muc.Groupchat(c.ctx(), s, id) })
		}
		return
	}
	if s.Type == "groupchat" {
		c.replyError(s.Element, stanzaerr.New("modify", "bad-request", "This address does not take messages of type %q.", s.Type))
		return
	}
	body, hasBody := "", false
	if b := s.Child("", "body"); b != nil {
		body, hasBody = b.Text, true
	}
	// A file the user shared (XEP-0066, SIMS, SFS; usually an XEP-0363
	// upload) travels as its link, unless the network takes files
	// (sendWithFiles).
	shared := sharedFiles(s.Element, c.maxAttachments())
	body, hasBody = withLinks(body, hasBody, shared)
	if s.To.Localpart() != "" && c.direct.Payload(s, hasBody) {
		return // a retraction, reactions or a chat state
	}
	if !hasBody {
		return // other payloads without a body: nothing to relay
	}
	user := s.From.Bare()
	if s.To.Localpart() == "" {
		c.admit(s, func() { c.chat.Handle(c.ctx(), user, body) })
		return
	}
	c.direct.Send(s, body, len(shared) > 0)
}

// sendText sends a chat message from the gateway JID to a user (a reply in
// the chat interface). It is queued like everything else the user must not
// miss.
func (c *Component) sendText(to jid.JID, text string) {
	ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
	defer cancel()
	if err := c.queue(ctx, &stanza.Message{Type: "chat", From: c.domain.String(), To: to.String(), Body: text}); err != nil {
		c.sendQuiet(ctx, &stanza.Message{Type: "chat", From: c.domain.String(), To: to.String(), Body: text})
	}
}

func newID() string {
	var b [9]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func normalizeID(s string) transports.ID {
	return transports.ID(strings.TrimSpace(s))
}

// own runs fn on user's owner goroutine, the only one that reads or
// changes the user's protocol state, and waits until it returned. It
// reports false, without running fn, when ctx ended first. Owner work
// itself never calls own for another user, nor waits for a lane.
func (c *Component) own(ctx context.Context, user string, fn func(ctx context.Context)) bool {
	return c.owners.Call(ctx, user, fn) == nil
}

// later queues job in user's lane, after the work already there: the
// component's own follow-up work (rejoins, leaving a room, ending an
// anonymous session), which may wait for the legacy network.
func (c *Component) later(user string, job func(ctx context.Context)) {
	c.lanes.Post(c.ctx(), user, job)
}

// privateMessage relays a private message through a room (XEP-0045 §7.5:
// a chat message to room@domain/nick) to that member one to one, on a
// network that can tell who they are (Capabilities.PrivateMessages), and
// reports whether s was one. The member's answers come from their own
// contact address. The lookup of the member waits for the user's owner,
// so it runs in the user's lane, and the message then goes the one-to-one
// way (direct.Service.Send).
func (c *Component) privateMessage(s *stanza.In, room transports.ID) bool {
	nick := s.To.Resourcepart()
	oc, ok := c.net.(transports.OccupantContacter)
	if nick == "" || s.Type == "groupchat" || s.Child("", "body") == nil || !ok || !c.netCaps().PrivateMessages {
		return false
	}
	c.admit(s, func() {
		contact, ok := c.occupantContact(oc, s, room)
		if !ok {
			return
		}
		to, err := c.legacyJID(contact)
		if err != nil {
			c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "%s has no address here.", nick))
			return
		}
		pm := *s
		pm.To = to
		c.direct.Send(&pm, s.ChildText("", "body"), false)
	})
	return true
}

// occupantContact is the contact ID of the room occupant s is addressed
// to (room@domain/nick), as user's session in room knows them; false,
// with s answered by an error, when there is no such occupant or the
// network cannot tell who they are. Lane work: it waits for the user's
// owner goroutine.
func (c *Component) occupantContact(oc transports.OccupantContacter, s *stanza.In, room transports.ID) (transports.ID, bool) {
	nick := s.To.Resourcepart()
	occupantID, in := c.muc.OccupantIDOf(c.ctx(), s.From.Bare().String(), room, nick)
	if !in {
		c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "Nobody is called %s in this room; join it to reach its members.", nick))
		return "", false
	}
	contact, err := oc.OccupantContact(room, nick, occupantID)
	if err != nil {
		c.replyError(s.Element, stanzaerr.FromLegacy(err))
		return "", false
	}
	return contact, true
}

// occupantProfiles reports whether room occupants have vCards: the
// network has profiles and can tell who its room members are.
func (c *Component) occupantProfiles() bool {
	_, ok := c.net.(transports.OccupantContacter)
	return ok && c.netCaps().Profiles && c.netCaps().PrivateMessages
}

// occupantVCard answers a vCard request to a room occupant
// (room@domain/nick) with the profile of the member behind the nick
// (occupantProfiles). The answer fills the profile cache: where the
// member's picture hash changed, the occupants' presences show it then
// (muc.Service.PhotosChanged).
func (c *Component) occupantVCard(s *stanza.In, room transports.ID) {
	oc, _ := c.net.(transports.OccupantContacter)
	user := s.From.Bare()
	c.admit(s, func() {
		if contact, ok := c.occupantContact(oc, s, room); ok {
			before, knew := c.contacts.AvatarHash(user.String(), contact)
			c.contacts.VCardOf(c.ctx(), s, contact)
			if after, knows := c.contacts.AvatarHash(user.String(), contact); after != before || knows != knew {
				c.own(c.ctx(), user.String(), func(ctx context.Context) { c.muc.PhotosChanged(ctx, user) })
			}
		}
	})
}

// occupantPhoto is the XEP-0153 hash of the picture of the member behind
// occupant nick of room as user's profile book knows it (muc.Core's
// OccupantPhoto): never known where occupants have no profiles
// (occupantProfiles). No I/O.
func (c *Component) occupantPhoto(user string, room transports.ID, nick, occupantID string) (string, bool) {
	if !c.occupantProfiles() {
		return "", false
	}
	oc, _ := c.net.(transports.OccupantContacter)
	contact, err := oc.OccupantContact(room, nick, occupantID)
	if err != nil {
		return "", false
	}
	return c.contacts.AvatarHash(user, contact)
}
