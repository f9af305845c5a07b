package muc

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// Messages from the user to rooms: group chat messages, subject changes,
// reactions, chat states, retractions and moderation, and the private
// messages through a room that are refused.

// Message checks a message to a room or occupant JID on the stream
// reader's goroutine, answering those it refuses (private messages
// through the room, invitations, chat messages to the room). It reports
// whether the message is group chat for the room, which the caller runs
// in the user's lane with Groupchat. It does no I/O but the answers.
func (s *Service) Message(in *stanza.In) bool {
	hasBody := in.Child("", "body") != nil
	if in.To.Resourcepart() != "" {
		if in.Type == "groupchat" {
			s.core.ReplyError(in, stanzaerr.New("modify", "bad-request", "Group chat messages go to the room's address, %s.", in.To.Bare()))
			return false
		}
		if hasBody {
			// Private messages through a room would need the network
			// to map an occupant to a contact; IRC nicks have their own
			// address (nick%server@gateway).
			s.core.ReplyError(in, stanzaerr.New("cancel", "feature-not-implemented",
				"Private messages through the room are not supported; write to %s's own address on %s instead.", in.To.Resourcepart(), s.core.Domain()))
		}
		return false
	}
	if in.Type != "groupchat" {
		if x := in.Child(NSUser, "x"); x != nil && x.Child("", "invite") != nil {
			s.core.ReplyError(in, stanzaerr.New("cancel", "feature-not-implemented", "Invitations are not supported by %s.", s.core.Domain()))
			return false
		}
		if hasBody {
			s.core.ReplyError(in, stanzaerr.New("modify", "not-acceptable", "Join the room and send group chat messages to it."))
		}
		return false
	}
	return true
}

// Groupchat sends a group chat message, a subject change, reactions,
// a retraction or a chat state from a joined resource to legacy room id.
// The user's resources see the message when the network echoes it
// (MessageEvent.Own), never before. It is lane work: it waits for the
// send limiter and the network; refusals are answered to the sender.
func (s *Service) Groupchat(ctx context.Context, in *stanza.In, id transports.ID) {
	user := in.From.Bare()
	u := user.String()
	body, hasBody := s.core.Body(in.Element)
	subject := in.Child("", "subject")
	reactions := in.Child(stanza.NSReactions, "reactions")
	retract := in.Child(stanza.NSRetract, "retract")

	joined := false
	s.core.Own(ctx, u, func(context.Context) {
		if _, r := s.room(user, id); r != nil {
			rr := r.Resource(in.From.Resourcepart())
			joined = rr != nil && rr.Phase() != Joining ||
				s.core.Replayed(in) && r.Ready() // the sender joined at the process that read it
		}
	})
	if !joined {
		if hasBody || subject != nil || reactions != nil || retract != nil {
			s.core.ReplyError(in, stanzaerr.New("cancel", "not-acceptable", "You are not in this room."))
		}
		return
	}
	a := s.core.Adapter(u)
	if a == nil {
		if hasBody || subject != nil || reactions != nil || retract != nil {
			s.core.ReplyError(in, stanzaerr.New("wait", "recipient-unavailable", "You are not connected to %s. The message was not sent.", s.core.NetworkName()))
		}
		return
	}
	switch {
	case retract != nil:
		// Before the body: a retraction's body is only its fallback,
		// never sent.
		if err := s.core.WaitSend(ctx, u); err != nil {
			return // shutting down
		}
		if serr := s.core.Retract(ctx, a, u, id, retract.Attr("id")); serr != nil {
			s.core.ReplyError(in, serr)
		}
	case hasBody:
		s.sendGroupchat(ctx, in, a, id, body)
	case subject != nil:
		rs, ok := a.(transports.RoomSubject)
		if !ok {
			s.core.ReplyError(in, stanzaerr.New("cancel", "feature-not-implemented", "%s does not let you change the subject.", s.core.NetworkName()))
			return
		}
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := rs.SetSubject(sctx, id, subject.Text)
		cancel()
		if err != nil {
			s.core.ReplyError(in, stanzaerr.FromLegacy(err))
		}
	case reactions != nil:
		s.sendReactions(ctx, in, a, id, reactions)
	default:
		for _, st := range []struct {
			name  string
			state transports.ChatState
		}{{"composing", transports.Composing}, {"paused", transports.Paused}, {"active", transports.Active}} {
			if in.Child(stanza.NSChat, st.name) == nil {
				continue
			}
			if t, ok := a.(transports.Typer); ok && s.core.Capabilities().ChatStates {
				tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if err := t.SetTyping(tctx, id, st.state); err != nil {
					s.core.Logger().Debug("typing notification not sent", "user", u, "err", err)
				}
				cancel()
			}
			return
		}
	}
}

// sendGroupchat sends a group chat message (a correction where it
// replaces one) and pairs its legacy ID with the user's once the network
// confirmed it (SendWithFiles: maybe after the next messages were
// queued).
func (s *Service) sendGroupchat(ctx context.Context, in *stanza.In, a transports.Adapter, id transports.ID, body string) {
	u := in.From.Bare().String()
	if max := s.core.MaxBody(); len(body) > max {
		s.core.ReplyError(in, stanzaerr.New("modify", "policy-violation", "The message is longer than %d bytes.", max))
		return
	}
	if strings.TrimSpace(body) == "" {
		return
	}
	xid := in.ID
	if o := in.Child(stanza.NSSID, "origin-id"); o != nil && o.Attr("id") != "" {
		xid = o.Attr("id")
	}
	if xid == "" {
		xid = newID()
	}
	msg := transports.Message{To: id, Room: true, Body: body, ID: xid}
	if rest, ok := strings.CutPrefix(body, "/me "); ok {
		msg.Body, msg.Action = rest, true
	}
	if r := in.Child(stanza.NSReply, "reply"); r != nil {
		// "" for a message the network gave no ID: sent without the
		// reference, never with an ID the network did not issue.
		msg.ReplyTo = s.core.LegacyRef(ctx, u, id, r.Attr("id"))
	}
	if err := s.core.WaitSend(ctx, u); err != nil {
		return // shutting down
	}
	files := in.Element // the files it shares, if any
	if rep := in.Child(stanza.NSCorrect, "replace"); rep != nil {
		// XEP-0308: an edit, reflected when the network echoes it, where
		// the network has them; else a new message marked as a
		// correction, never a silent duplicate.
		edited, marked, serr := s.core.Correct(ctx, a, u, id, rep.Attr("id"), body)
		if serr != nil {
			s.core.CountSent(false)
			s.core.ReplyError(in, serr)
			return
		}
		if edited {
			s.core.CountSent(true)
			return
		}
		if len(marked) > s.core.MaxBody() {
			s.core.ReplyError(in, stanzaerr.New("modify", "policy-violation", "The message is longer than %d bytes.", s.core.MaxBody()))
			return
		}
		msg.Body, msg.Action = marked, false // "✎ /me …" reads better than an action
		files = nil                          // the files went with the original
	}
	s.core.SendWithFiles(ctx, in.From.Bare(), a, msg, files, func(ctx context.Context, rid transports.RemoteID, err error) {
		if err != nil {
			s.core.CountSent(false)
			s.core.ReplyError(in, stanzaerr.FromLegacy(err))
			return
		}
		s.core.CountSent(true)
		if rid == "" {
			// The network gave it no ID: the user's own id must not be
			// taken for one when a reply or correction names it.
			if err := s.core.PairID(ctx, u, id, "", xid); err != nil {
				s.core.Logger().Warn("storing message ID", "err", err)
			}
			return
		}
		s.mapRoomMessage(ctx, u, id, string(rid), xid)
	})
}

// sendReactions turns an XEP-0444 reactions element, the user's whole set
// of reactions to a message, into additions and removals.
func (s *Service) sendReactions(ctx context.Context, in *stanza.In, a transports.Adapter, id transports.ID, el *xmltree.Element) {
	user := in.From.Bare()
	u := user.String()
	reactor, ok := a.(transports.Reactor)
	if !ok || !s.core.Capabilities().Reactions {
		s.core.ReplyError(in, stanzaerr.New("cancel", "feature-not-implemented", "%s has no reactions.", s.core.NetworkName()))
		return
	}
	if el.Attr("id") == "" {
		s.core.ReplyError(in, stanzaerr.New("modify", "bad-request", "The reactions element has no id."))
		return
	}
	target := s.core.LegacyRef(ctx, u, id, el.Attr("id"))
	if target == "" {
		s.core.ReplyError(in, NoLegacyID("reacted to"))
		return
	}
	var want []string
	for _, ch := range el.Children {
		if ch.Name.Local == "reaction" && ch.Text != "" && !slices.Contains(want, ch.Text) {
			want = append(want, ch.Text)
		}
	}
	var have []string
	var r *Room // nil: not in the room; nothing to remember
	s.core.Own(ctx, u, func(context.Context) {
		if _, r = s.room(user, id); r != nil {
			have = slices.Clone(r.Reactions(target, r.Nick))
		}
	})
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, x := range want {
		if !slices.Contains(have, x) {
			if err := reactor.React(rctx, id, target, x, false); err != nil {
				s.core.ReplyError(in, stanzaerr.FromLegacy(err))
				return
			}
		}
	}
	for _, x := range have {
		if !slices.Contains(want, x) {
			if err := reactor.React(rctx, id, target, x, true); err != nil {
				s.core.ReplyError(in, stanzaerr.FromLegacy(err))
				return
			}
		}
	}
	if r == nil {
		return
	}
	s.core.Own(ctx, u, func(context.Context) {
		if _, cur := s.room(user, id); cur == r {
			r.SetReactions(target, r.Nick, want)
		}
	})
}

// Moderate handles a moderator's request to retract someone's message in
// room id (XEP-0425: q is the <moderate/> of an IQ set to the room) and
// answers it. It is lane work: it waits for the network, at most a
// minute.
func (s *Service) Moderate(ctx context.Context, in *stanza.In, q *xmltree.Element, id transports.ID) {
	user := in.From.Bare()
	u := user.String()
	ready := false
	s.core.Own(ctx, u, func(context.Context) {
		if _, r := s.room(user, id); r != nil {
			ready = r.Ready()
		}
	})
	if !ready {
		s.core.ReplyError(in, stanzaerr.New("cancel", "not-acceptable", "You are not in this room."))
		return
	}
	caps := s.core.Capabilities()
	mod, ok := s.core.Adapter(u).(transports.MessageModerator)
	if !ok || !caps.Moderation || !caps.Retractions {
		s.core.ReplyError(in, stanzaerr.New("cancel", "feature-not-implemented", "%s does not let moderators delete messages.", s.core.NetworkName()))
		return
	}
	if q.Child(stanza.NSRetract, "retract") == nil {
		s.core.ReplyError(in, stanzaerr.New("cancel", "feature-not-implemented", "Only retraction is supported as a moderation."))
		return
	}
	if q.Attr("id") == "" {
		s.core.ReplyError(in, stanzaerr.New("modify", "bad-request", "The moderate element has no id."))
		return
	}
	target := s.core.LegacyRef(ctx, u, id, q.Attr("id"))
	if target == "" {
		s.core.ReplyError(in, NoLegacyID("deleted"))
		return
	}
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := mod.ModerateRetract(mctx, id, target, q.ChildText(stanza.NSModerate, "reason"))
	cancel()
	if err != nil {
		s.core.ReplyError(in, stanzaerr.FromLegacy(err))
		return
	}
	s.core.Result(in, nil)
}
