package component

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Messages from the user to rooms: group chat messages, subject changes,
// reactions, chat states, and private messages through a room.

// roomMessage handles a message to a room or occupant JID.
func (c *Component) roomMessage(s *stanza.In, id transports.ID) {
	hasBody := s.Child("", "body") != nil
	if s.To.Resourcepart() != "" {
		if s.Type == "groupchat" {
			c.replyError(s.Element, stanzaerr.New("modify", "bad-request", "Group chat messages go to the room's address, %s.", s.To.Bare()))
			return
		}
		if hasBody {
			// Private messages through a room would need the network
			// to map an occupant to a contact; IRC nicks have their own
			// address (nick%server@gateway).
			c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented",
				"Private messages through the room are not supported; write to %s's own address on %s instead.", s.To.Resourcepart(), c.domain))
		}
		return
	}
	if s.Type != "groupchat" {
		if x := s.Child(nsMUCUser, "x"); x != nil && x.Child("", "invite") != nil {
			c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented", "Invitations are not supported by %s.", c.domain))
			return
		}
		if hasBody {
			c.replyError(s.Element, stanzaerr.New("modify", "not-acceptable", "Join the room and send group chat messages to it."))
		}
		return
	}
	c.admit(s, func() { c.groupchatWork(s, id) })
}

// groupchatWork sends a group chat message, a subject change, reactions
// or a chat state from a joined resource to the legacy room. The user's
// resources see the message when the network echoes it (MessageEvent.Own),
// never before.
func (c *Component) groupchatWork(s *stanza.In, id transports.ID) {
	ctx := c.ctx()
	user := s.From.Bare()
	u := user.String()
	body, hasBody := "", false
	if b := s.Child("", "body"); b != nil {
		body, hasBody = b.Text, true
	}
	body, hasBody = withLinks(body, hasBody, sharedFiles(s.Element, c.maxAttachments()))
	subject := s.Child("", "subject")
	reactions := s.Child(nsReactions, "reactions")
	retract := s.Child(nsRetract, "retract")

	joined := false
	c.own(ctx, u, func(context.Context) {
		if _, r := c.room(user, id); r != nil {
			rr := r.Resource(s.From.Resourcepart())
			joined = rr != nil && rr.Phase() != muc.Joining
		}
	})
	if !joined {
		if hasBody || subject != nil || reactions != nil || retract != nil {
			c.replyError(s.Element, stanzaerr.New("cancel", "not-acceptable", "You are not in this room."))
		}
		return
	}
	a := c.sup.Adapter(u)
	if a == nil {
		if hasBody || subject != nil || reactions != nil || retract != nil {
			c.replyError(s.Element, stanzaerr.New("wait", "recipient-unavailable", "You are not connected to %s. The message was not sent.", c.net.Identity().Name))
		}
		return
	}
	switch {
	case retract != nil:
		// Before the body: a retraction's body is only its fallback,
		// never sent.
		if err := c.limiter(u).Wait(ctx); err != nil {
			return // shutting down
		}
		if serr := c.retract(ctx, a, u, id, true, retract.Attr("id")); serr != nil {
			c.replyError(s.Element, serr)
		}
	case hasBody:
		c.sendGroupchat(ctx, s, a, id, body)
	case subject != nil:
		rs, ok := a.(transports.RoomSubject)
		if !ok {
			c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented", "%s does not let you change the subject.", c.net.Identity().Name))
			return
		}
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := rs.SetSubject(sctx, id, subject.Text)
		cancel()
		if err != nil {
			c.replyError(s.Element, stanzaerr.FromLegacy(err))
		}
	case reactions != nil:
		c.sendReactions(ctx, s, a, id, reactions)
	default:
		for _, st := range []struct {
			name  string
			state transports.ChatState
		}{{"composing", transports.Composing}, {"paused", transports.Paused}, {"active", transports.Active}} {
			if s.Child(nsChat, st.name) == nil {
				continue
			}
			if t, ok := a.(transports.Typer); ok && c.netCaps().ChatStates {
				tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if err := t.SetTyping(tctx, id, st.state); err != nil {
					c.log.Debug("typing notification not sent", "user", u, "err", err)
				}
				cancel()
			}
			return
		}
	}
}

func (c *Component) sendGroupchat(ctx context.Context, s *stanza.In, a transports.Adapter, id transports.ID, body string) {
	u := s.From.Bare().String()
	if max := c.maxBody(); len(body) > max {
		c.replyError(s.Element, stanzaerr.New("modify", "policy-violation", "The message is longer than %d bytes.", max))
		return
	}
	if strings.TrimSpace(body) == "" {
		return
	}
	xid := s.ID
	if o := s.Child(nsSID, "origin-id"); o != nil && o.Attr("id") != "" {
		xid = o.Attr("id")
	}
	if xid == "" {
		xid = newID()
	}
	msg := transports.Message{To: id, Room: true, Body: body, ID: xid}
	if rest, ok := strings.CutPrefix(body, "/me "); ok {
		msg.Body, msg.Action = rest, true
	}
	if r := s.Child(nsReply, "reply"); r != nil {
		msg.ReplyTo = c.legacyRef(ctx, u, id, r.Attr("id"))
	}
	if err := c.limiter(u).Wait(ctx); err != nil {
		return // shutting down
	}
	shared := sharedFiles(s.Element, c.maxAttachments())
	if rep := s.Child(nsCorrect, "replace"); rep != nil {
		// XEP-0308: an edit, reflected when the network echoes it, where
		// the network has them; else a new message marked as a
		// correction, never a silent duplicate.
		edited, marked, serr := c.correct(ctx, a, u, id, true, rep.Attr("id"), body)
		if serr != nil {
			c.stats.legacyErrors.Add(1)
			c.replyError(s.Element, serr)
			return
		}
		if edited {
			c.stats.toLegacy.Add(1)
			return
		}
		if len(marked) > c.maxBody() {
			c.replyError(s.Element, stanzaerr.New("modify", "policy-violation", "The message is longer than %d bytes.", c.maxBody()))
			return
		}
		msg.Body, msg.Action = marked, false // "✎ /me …" reads better than an action
		shared = nil                         // the files went with the original
	}
	rid, err := c.sendWithFiles(ctx, s.From.Bare(), a, msg, shared)
	if err != nil {
		c.stats.legacyErrors.Add(1)
		c.replyError(s.Element, stanzaerr.FromLegacy(err))
		return
	}
	c.stats.toLegacy.Add(1)
	c.mapRoomMessage(ctx, u, id, string(rid), xid)
}

// sendReactions turns an XEP-0444 reactions element, the user's whole set
// of reactions to a message, into additions and removals.
func (c *Component) sendReactions(ctx context.Context, s *stanza.In, a transports.Adapter, id transports.ID, el *node) {
	user := s.From.Bare()
	u := user.String()
	reactor, ok := a.(transports.Reactor)
	if !ok || !c.netCaps().Reactions {
		c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented", "%s has no reactions.", c.net.Identity().Name))
		return
	}
	target := c.legacyRef(ctx, u, id, el.Attr("id"))
	if target == "" {
		c.replyError(s.Element, stanzaerr.New("modify", "bad-request", "The reactions element has no id."))
		return
	}
	var want []string
	for _, ch := range el.Children {
		if ch.Name.Local == "reaction" && ch.Text != "" && !slices.Contains(want, ch.Text) {
			want = append(want, ch.Text)
		}
	}
	var have []string
	var r *muc.Room // nil: not in the room; nothing to remember
	c.own(ctx, u, func(context.Context) {
		if _, r = c.room(user, id); r != nil {
			have = slices.Clone(r.Reactions(target, r.Nick))
		}
	})
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, x := range want {
		if !slices.Contains(have, x) {
			if err := reactor.React(rctx, id, target, x, false); err != nil {
				c.replyError(s.Element, stanzaerr.FromLegacy(err))
				return
			}
		}
	}
	for _, x := range have {
		if !slices.Contains(want, x) {
			if err := reactor.React(rctx, id, target, x, true); err != nil {
				c.replyError(s.Element, stanzaerr.FromLegacy(err))
				return
			}
		}
	}
	if r == nil {
		return
	}
	c.own(ctx, u, func(context.Context) {
		if _, cur := c.room(user, id); cur == r {
			r.SetReactions(target, r.Nick, want)
		}
	})
}
