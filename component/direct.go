package component

import (
	"context"
	"encoding/xml"
	"slices"
	"sync"
	"time"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// One-to-one chats have what rooms have, where the network claims it:
// chat states (XEP-0085), reactions (XEP-0444), replies (XEP-0461),
// corrections and retractions (edits.go), both ways; and the user's own
// messages sent from another legacy client (MessageEvent.Own).
//
// Those own messages cannot come from the user's JID: a component may
// only send as its own domain unless the server grants it XEP-0356
// message permission (then they would be carbons, <sent/>). Not yet: the
// Prosody the tests run has no mod_privilege. Until then they arrive
// from the contact's JID, their body starting with ownMarker, never as
// if the contact had written them.

// ownMarker starts the body of the user's own message (or edit, or
// deletion) that reached the contact from another legacy client.
const ownMarker = "[you, from another client] "

// directPayload handles a message to a contact JID that carries no text to
// relay as such: a retraction (whose body is only a fallback), reactions,
// or a chat state without a body. It reports whether it handled s.
func (c *Component) directPayload(s *stanza.In, hasBody bool) bool {
	retract := s.Child(nsRetract, "retract")
	reactions := s.Child(nsReactions, "reactions")
	state, hasState := chatState(s)
	if retract == nil && reactions == nil && (hasBody || !hasState) {
		return false
	}
	caps := c.netCaps()
	switch {
	case retract != nil && !caps.Retractions:
		// Refused before any work: nothing is sent, the fallback least of all.
		c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented",
			"%s cannot delete messages: the message stays there, and nothing was sent.", c.net.Identity().Name))
		return true
	case retract == nil && reactions != nil && !caps.Reactions:
		c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented", "%s has no reactions.", c.net.Identity().Name))
		return true
	case retract == nil && reactions == nil && !caps.ChatStates:
		return true // nothing to relay
	}
	to, err := legacyID(s.To)
	if err != nil {
		if retract != nil || reactions != nil {
			c.replyError(s.Element, stanzaerr.New("modify", "jid-malformed", "%v", err))
		}
		return true
	}
	u := s.From.Bare().String()
	c.admit(s, func() {
		ctx := c.ctx()
		a := c.directAdapter(ctx, s, to, retract == nil && reactions == nil)
		if a == nil {
			return
		}
		switch {
		case retract != nil:
			if err := c.limiter(u).Wait(ctx); err != nil {
				return // shutting down
			}
			if serr := c.retract(ctx, a, u, to, false, retract.Attr("id")); serr != nil {
				c.replyError(s.Element, serr)
			}
		case reactions != nil:
			if err := c.limiter(u).Wait(ctx); err != nil {
				return // shutting down
			}
			c.directReactions(ctx, s, a, to, reactions)
		default:
			if t, ok := a.(transports.Typer); ok {
				tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if err := t.SetTyping(tctx, to, state); err != nil {
					c.log.Debug("typing notification not sent", "user", u, "err", err)
				}
				cancel()
			}
		}
	})
	return true
}

// chatState returns the XEP-0085 state s carries, if any.
func chatState(s *stanza.In) (transports.ChatState, bool) {
	for _, st := range []struct {
		name  string
		state transports.ChatState
	}{{"composing", transports.Composing}, {"paused", transports.Paused}, {"active", transports.Active}} {
		if s.Child(nsChat, st.name) != nil {
			return st.state, true
		}
	}
	return 0, false
}

// directAdapter returns the session that carries the user's one-to-one
// messages to to, or nil after replying with the error that says why
// (without replying when quiet). It runs in the user's lane.
func (c *Component) directAdapter(ctx context.Context, s *stanza.In, to transports.ID, quiet bool) transports.Adapter {
	user := s.From.Bare()
	reply := func(e *stanzaerr.Error) {
		if !quiet {
			c.replyError(s.Element, e)
		}
	}
	// An unregistered user may still have a session: the anonymous one
	// their room joins opened (IRC), which also carries their private
	// messages.
	registered := c.registered(ctx, user)
	if k, err := c.kindOf(to); !registered && err == nil && k == transports.KindServer {
		// Raw commands to a server: never through a session the
		// user's room joins opened anonymously.
		reply(stanzaerr.New("cancel", "not-allowed", "Commands to a server are for registered users: register with %s first.", c.domain))
		return nil
	}
	a := c.sup.Adapter(user.String())
	if a == nil && !registered {
		reply(stanzaerr.New("auth", "registration-required", "Register with %s first.", c.domain))
		return nil
	}
	if a == nil {
		st := c.sup.Status(user.String())
		text := "You are not connected to " + c.net.Identity().Name + " (" + st.State.String() + ")"
		if st.Text != "" {
			text += ": " + stanzaerr.Detail(st.Text)
		}
		reply(stanzaerr.New("wait", "recipient-unavailable", "%s. The message was not sent.", text))
		return nil
	}
	return a
}

// directReactions turns an XEP-0444 reactions element, the user's whole
// set of reactions to a one-to-one message, into additions and removals.
func (c *Component) directReactions(ctx context.Context, s *stanza.In, a transports.Adapter, to transports.ID, el *node) {
	u := s.From.Bare().String()
	reactor, ok := a.(transports.Reactor)
	if !ok {
		c.replyError(s.Element, stanzaerr.New("cancel", "feature-not-implemented", "%s has no reactions.", c.net.Identity().Name))
		return
	}
	if el.Attr("id") == "" {
		c.replyError(s.Element, stanzaerr.New("modify", "bad-request", "The reactions element has no id."))
		return
	}
	target := c.messageRef(ctx, u, to, false, el.Attr("id"))
	if target == "" {
		c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "The gateway does not know that message (too old, or not sent through it)."))
		return
	}
	var want []string
	for _, ch := range el.Children {
		if ch.Name.Local == "reaction" && ch.Text != "" && !slices.Contains(want, ch.Text) {
			want = append(want, ch.Text)
		}
	}
	have := c.reacts.get(u, to, target, "")
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, x := range want {
		if !slices.Contains(have, x) {
			if err := reactor.React(rctx, to, target, x, false); err != nil {
				c.replyError(s.Element, stanzaerr.FromLegacy(err))
				return
			}
		}
	}
	for _, x := range have {
		if !slices.Contains(want, x) {
			if err := reactor.React(rctx, to, target, x, true); err != nil {
				c.replyError(s.Element, stanzaerr.FromLegacy(err))
				return
			}
		}
	}
	c.reacts.set(u, to, target, "", want)
}

// typing shows a contact's typing notification; it is not stored.
func (s *userSink) typing(ctx context.Context, ev *transports.TypingEvent) {
	c := s.c
	from, err := c.legacyJID(ev.From)
	if err != nil {
		return // a typing notification is not worth a message from the gateway
	}
	c.sendQuiet(ctx, &stanza.Message{Type: "chat", From: from.String(), To: s.user.String(),
		Extra: []any{&stanza.ChatState{XMLName: xml.Name{Space: nsChat, Local: stanza.ChatStateName(ev.State)}}, stanza.NoStoreHint()}})
}

// reaction shows a contact's reaction as their whole set of reactions to
// the message (XEP-0444), or, when the message is unknown, as text.
func (s *userSink) reaction(ctx context.Context, ev *transports.ReactionEvent) {
	c := s.c
	u := s.user.String()
	from, err := c.legacyJID(ev.From)
	if err != nil || ev.Target == "" {
		c.log.Debug("reaction not shown", "user", u, "from", string(ev.From))
		return
	}
	set := c.reacts.react(u, ev.From, ev.Target, string(ev.From), ev.Reaction, ev.Remove)
	m := &stanza.Message{Type: "chat", ID: newID(), From: from.String(), To: u}
	if ref := c.xmppRef(ctx, u, ev.From, ev.Target); ref != "" {
		m.Extra = []any{&stanza.Reactions{ID: ref, Reactions: set}, stanza.StoreHint()}
	} else if ev.Remove {
		m.Body = "[took back the reaction " + ev.Reaction + " to an earlier message]"
	} else {
		m.Body = "[reacted " + ev.Reaction + " to an earlier message]"
	}
	s.queue(ctx, m)
}

// chatReactionTargets bounds, per user, the one-to-one messages whose
// reactions the component remembers; chatReactionUsers bounds the users
// remembered (the longest-remembered user is forgotten first), so that
// the memory needs no forgetting at unregistration.
const (
	chatReactionTargets = 500
	chatReactionUsers   = 4096
)

// chatReactions remembers reactions in one-to-one chats, since XEP-0444
// sends a reactor's whole set each time and the network adds and removes
// one at a time: the user's own (reactor "") and their contacts'. It is
// memory only, bounded; after a restart, or once forgotten, the first
// change of a set starts from nothing. Safe for concurrent use.
type chatReactions struct {
	mu    sync.Mutex
	m     map[string]*reactionBook // by user
	users []string                 // in the order their books were made
}

type reactionKey struct {
	conv    transports.ID
	target  transports.RemoteID
	reactor string
}

type reactionBook struct {
	sets  map[reactionKey][]string
	order []reactionKey
}

func (cr *chatReactions) get(user string, conv transports.ID, target transports.RemoteID, reactor string) []string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if b := cr.m[user]; b != nil {
		return slices.Clone(b.sets[reactionKey{conv, target, reactor}])
	}
	return nil
}

func (cr *chatReactions) set(user string, conv transports.ID, target transports.RemoteID, reactor string, set []string) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.setLocked(user, reactionKey{conv, target, reactor}, set)
}

func (cr *chatReactions) setLocked(user string, k reactionKey, set []string) {
	if cr.m == nil {
		cr.m = make(map[string]*reactionBook)
	}
	b := cr.m[user]
	if b == nil {
		b = &reactionBook{sets: make(map[reactionKey][]string)}
		cr.m[user] = b
		cr.users = append(cr.users, user)
		if len(cr.users) > chatReactionUsers {
			delete(cr.m, cr.users[0])
			cr.users = cr.users[1:]
		}
	}
	if _, ok := b.sets[k]; !ok {
		b.order = append(b.order, k)
		if len(b.order) > chatReactionTargets {
			delete(b.sets, b.order[0])
			b.order = b.order[1:]
		}
	}
	b.sets[k] = slices.Clone(set)
}

// react adds or removes one reaction of reactor's and returns reactor's
// whole set after it.
func (cr *chatReactions) react(user string, conv transports.ID, target transports.RemoteID, reactor, reaction string, remove bool) []string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	k := reactionKey{conv, target, reactor}
	var out []string
	if b := cr.m[user]; b != nil {
		for _, x := range b.sets[k] {
			if x != reaction {
				out = append(out, x)
			}
		}
	}
	if !remove {
		out = append(out, reaction)
	}
	cr.setLocked(user, k, out)
	return out
}
