// Package direct is what one-to-one chats with legacy contacts have
// besides text, where the network claims it: chat states (XEP-0085),
// reactions (XEP-0444), corrections (XEP-0308) and retractions
// (XEP-0424), both ways, and the user's own messages sent from another
// legacy client (OwnMarker).
//
// Service reaches the bridge core only through Core, the small interface
// package component implements, as bridgev2 keeps its bridge core apart
// from a connector. The pure parts (reading a chat state, reaction set
// arithmetic, building the stanzas) are functions of their own, table
// tested; Reactions is the bounded memory of one-to-one reaction sets.
package direct

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Core is what the one-to-one flows need of the bridge core (package
// component implements it).
//
// Admit, Capabilities, NetworkName, Domain, LegacyJID, LegacyID, Kind,
// Adapter, Status, MaxBody, Count and Logger return at once and may be
// called from any goroutine. ReplyError and SendQuiet write to the
// stream (each write bounded to seconds; a failure is only logged).
// Registered, MessageRef, XMPPRef, Pair, the receipt methods and Deliver
// use storage, WaitToSend waits for the user's send budget, Correct,
// Retract and SendMessage wait for the network (SendMessage, where the
// network pipelines, only for a place among the user's unconfirmed
// messages; MessageRef, Correct and Retract first for those messages'
// pairs in the message-ID map): these may block until ctx ends, so the
// service calls them from the user's lane (Admit's job) or, for XMPPRef,
// AwaitedReceipt, ReceiptResolved and Deliver, from the owner work that
// delivers a legacy event. None retries; a failure reads as "unknown"
// (refs) or is an error for the user.
type Core interface {
	// NetworkName is the network's name as users read it ("IRC").
	NetworkName() string
	// Capabilities returns the network's static capabilities.
	Capabilities() transports.Capabilities
	// Domain is the gateway's JID, the sender of what no contact JID
	// can send.
	Domain() jid.JID
	// LegacyJID returns the XMPP address of a legacy contact, or an
	// error for an ID that has none; LegacyID is the legacy contact an
	// address of the gateway's domain stands for; Kind tells a contact
	// from a server (Addresser), an error when the network cannot tell.
	LegacyJID(id transports.ID) (jid.JID, error)
	LegacyID(j jid.JID) (transports.ID, error)
	Kind(id transports.ID) (transports.IDKind, error)

	// Registered reports whether user registered with the gateway.
	Registered(ctx context.Context, user jid.JID) bool
	// Adapter returns user's running legacy session, nil when none runs
	// (it does not start one); Status is that session's state.
	Adapter(user string) transports.Adapter
	Status(user string) transports.Status

	// Admit runs job in the sender's lane, after their earlier stanzas,
	// with a context that ends with the component; when too many of
	// their stanzas wait already it answers s with resource-constraint
	// instead. It does not wait for job.
	Admit(s *stanza.In, job func(ctx context.Context))
	// ReplyError answers s with e (never an error or a result).
	ReplyError(s *stanza.In, e *stanzaerr.Error)
	// WaitToSend waits for user's budget of messages towards the
	// network; an error means ctx ended (shutting down).
	WaitToSend(ctx context.Context, user string) error

	// Retract relays the user's retraction of their message ref in the
	// one-to-one conversation to through a (the component's one
	// retraction flow, shared with rooms), or returns the error to
	// answer with: feature-not-implemented, item-not-found, the
	// network's refusal.
	Retract(ctx context.Context, a transports.Adapter, user string, to transports.ID, ref string) *stanzaerr.Error
	// MessageRef is the legacy ID of the message the user's client
	// names ref in the conversation with to, "" when unknown; XMPPRef
	// is the XMPP id the user's client knows the legacy message target
	// of conversation conv by, "" when unknown. Both read the
	// message-ID map.
	MessageRef(ctx context.Context, user string, to transports.ID, ref string) transports.RemoteID
	XMPPRef(ctx context.Context, user string, conv transports.ID, target transports.RemoteID) string

	// MaxBody is the longest body the network takes, in bytes.
	MaxBody() int
	// Correct relays the user's correction of their message ref in the
	// one-to-one conversation to (the component's one correction flow,
	// shared with rooms): edited when the network edited it, else the
	// body to send as a new message, marked; a refusal of the network
	// as the error to answer with. It may wait for the network.
	Correct(ctx context.Context, a transports.Adapter, user string, to transports.ID, ref, body string) (edited bool, marked string, serr *stanzaerr.Error)
	// SendMessage sends msg through a, with the files s shares when
	// files is set and the network takes files (the component fetches
	// them), and calls done with the network's ID of the message or the
	// network's error (bounded to a minute of waiting). The done calls
	// of a user's messages run one at a time, in the order of the
	// messages. Where the network pipelines (transports.Queuer), it
	// returns once msg is queued, before the network confirmed it, and
	// done runs later on another goroutine of the user's (with a
	// context that ends with the component); otherwise done runs before
	// it returns.
	SendMessage(ctx context.Context, s *stanza.In, a transports.Adapter, msg transports.Message, files bool,
		done func(ctx context.Context, rid transports.RemoteID, err error))
	// Pair remembers that the user's message xid is rid on the network,
	// in the conversation with to (the message-ID map), so that later
	// corrections, retractions, replies and reactions find it.
	Pair(ctx context.Context, user string, to transports.ID, rid transports.RemoteID, xid string) error
	// AwaitReceipt keeps p, durably, until the network reports on the
	// user's message rid in the conversation with to (beside the
	// message-ID map, bounded by its age); AwaitedReceipt returns it,
	// found false when nothing awaits a report on rid (resolved, pruned,
	// never sent), an error when storage could not be read;
	// ReceiptResolved forgets it.
	AwaitReceipt(ctx context.Context, user string, to transports.ID, rid transports.RemoteID, p PendingReceipt) error
	AwaitedReceipt(ctx context.Context, user string, to transports.ID, rid transports.RemoteID) (p PendingReceipt, found bool, err error)
	ReceiptResolved(ctx context.Context, user string, to transports.ID, rid transports.RemoteID) error
	// SendQuiet writes m to the stream now, where losing it is harmless
	// (a receipt of a message being answered); a failure is only
	// logged. Deliver queues m durably, or, when storage fails, writes
	// it to the stream now; the error says it is lost. Both may block on
	// the stream or storage for a few seconds.
	SendQuiet(ctx context.Context, m *stanza.Message)
	Deliver(ctx context.Context, m *stanza.Message) error
	// Count counts one message towards the network: taken (ok) or
	// refused.
	Count(ok bool)

	// Logger is where the service logs, never with message content.
	Logger() *slog.Logger
}

// Service runs the one-to-one flows of one gateway. Its methods say
// which goroutine may call them.
type Service struct {
	core      Core
	reactions Reactions
	receipts  receiptBook
	now       func() time.Time
}

// NewService returns the one-to-one flows of the network core bridges.
func NewService(core Core) *Service {
	return &Service{core: core, now: time.Now}
}

// typingTimeout bounds a chat state notification's legacy call;
// reactTimeout bounds a reaction's.
const (
	typingTimeout = 10 * time.Second
	reactTimeout  = time.Minute
)

// Payload handles a message to a contact JID that carries no text to
// relay as such: a retraction (whose body is only a fallback), reactions,
// or a chat state without a body. It reports whether it handled s; when
// it did not, s is a text message for the component to send. It runs on
// the stream's goroutine and leaves the legacy calls to the user's lane.
func (d *Service) Payload(s *stanza.In, hasBody bool) bool {
	c := d.core
	retract := s.Child(stanza.NSRetract, "retract")
	reactions := s.Child(stanza.NSReactions, "reactions")
	state, hasState := ChatState(s.Element)
	if retract == nil && reactions == nil && (hasBody || !hasState) {
		return false
	}
	caps := c.Capabilities()
	switch {
	case retract != nil && !caps.Retractions:
		// Refused before any work: nothing is sent, the fallback least of all.
		c.ReplyError(s, stanzaerr.New("cancel", "feature-not-implemented",
			"%s cannot delete messages: the message stays there, and nothing was sent.", c.NetworkName()))
		return true
	case retract == nil && reactions != nil && !caps.Reactions:
		c.ReplyError(s, stanzaerr.New("cancel", "feature-not-implemented", "%s has no reactions.", c.NetworkName()))
		return true
	case retract == nil && reactions == nil && !caps.ChatStates:
		return true // nothing to relay
	}
	to, err := c.LegacyID(s.To)
	if err != nil {
		if retract != nil || reactions != nil {
			c.ReplyError(s, stanzaerr.New("modify", "jid-malformed", "%v", err))
		}
		return true
	}
	u := s.From.Bare().String()
	c.Admit(s, func(ctx context.Context) {
		a := d.Adapter(ctx, s, to, retract == nil && reactions == nil)
		if a == nil {
			return
		}
		switch {
		case retract != nil:
			if err := c.WaitToSend(ctx, u); err != nil {
				return // shutting down
			}
			if serr := c.Retract(ctx, a, u, to, retract.Attr("id")); serr != nil {
				c.ReplyError(s, serr)
			}
		case reactions != nil:
			if err := c.WaitToSend(ctx, u); err != nil {
				return // shutting down
			}
			d.react(ctx, s, a, to, reactions.Attr("id"), wanted(reactions))
		default:
			if t, ok := a.(transports.Typer); ok {
				tctx, cancel := context.WithTimeout(ctx, typingTimeout)
				if err := t.SetTyping(tctx, to, state); err != nil {
					c.Logger().Debug("typing notification not sent", "user", u, "err", err)
				}
				cancel()
			}
		}
	})
	return true
}

// Send relays the user's text message s to the contact it is addressed
// to: body is its text (with the links of the files it shares, files
// telling whether it shares any), a correction (XEP-0308) where it
// carries one, a reply (XEP-0461) where the network has them. A body too
// long or an address that names no contact is answered at once; the rest
// runs in the user's lane, within their send budget, and ends with the
// receipt or the error that says why the message was not sent. It runs
// on the stream's goroutine.
func (d *Service) Send(s *stanza.In, body string, files bool) {
	c := d.core
	if max := c.MaxBody(); len(body) > max {
		c.ReplyError(s, stanzaerr.New("modify", "policy-violation", "The message is longer than %d bytes.", max))
		return
	}
	if strings.TrimSpace(body) == "" {
		return
	}
	to, err := c.LegacyID(s.To)
	if err != nil {
		c.ReplyError(s, stanzaerr.New("modify", "jid-malformed", "%v", err))
		return
	}
	user := s.From.Bare().String()
	c.Admit(s, func(ctx context.Context) {
		a := d.Adapter(ctx, s, to, false)
		if a == nil {
			return
		}
		if err := c.WaitToSend(ctx, user); err != nil {
			return // shutting down
		}
		msg := Outgoing(s, to, body)
		xid := msg.ID
		if r := s.Child(stanza.NSReply, "reply"); r != nil && c.Capabilities().Replies {
			msg.ReplyTo = c.MessageRef(ctx, user, to, r.Attr("id"))
		}
		if rep := s.Child(stanza.NSCorrect, "replace"); rep != nil {
			// XEP-0308: an edit where the network has them, else a new
			// message marked as a correction; never a silent duplicate.
			// The original keeps its pairing: later corrections name it.
			edited, marked, serr := c.Correct(ctx, a, user, to, rep.Attr("id"), body)
			if serr != nil {
				c.Count(false)
				c.ReplyError(s, serr)
				return
			}
			if edited {
				c.Count(true)
				d.receipt(ctx, s)
				return
			}
			msg.Body, xid = marked, ""
			files = false // the files went with the original
			if max := c.MaxBody(); len(msg.Body) > max {
				c.ReplyError(s, stanzaerr.New("modify", "policy-violation", "The message is longer than %d bytes.", max))
				return
			}
		}
		c.SendMessage(ctx, s, a, msg, files, func(ctx context.Context, rid transports.RemoteID, err error) {
			if err != nil {
				c.Count(false)
				c.ReplyError(s, stanzaerr.FromLegacy(err))
				return
			}
			c.Count(true)
			if rid != "" && xid != "" {
				if err := c.Pair(ctx, user, to, rid, xid); err != nil {
					c.Logger().Warn("storing message ID", "err", err)
				}
			}
			// XEP-0184: acknowledge only once the legacy network took it,
			// or delivered it where it says so later (receipts.go).
			d.acknowledge(ctx, s, to, rid)
		})
	})
}

// Outgoing is the legacy message that the user's one-to-one message s
// with text body becomes: to the contact to, with its subject and thread,
// and the ID the user's client knows it by (its origin-id, XEP-0359, else
// its stanza id), which corrections and retractions will name. Replies
// and files are Send's. It does no I/O.
func Outgoing(s *stanza.In, to transports.ID, body string) transports.Message {
	xid := s.ID
	if o := s.Child(stanza.NSSID, "origin-id"); o != nil && o.Attr("id") != "" {
		xid = o.Attr("id")
	}
	return transports.Message{To: to, Body: body, Subject: s.ChildText("", "subject"), Thread: s.ChildText("", "thread"), ID: xid}
}

// Adapter returns the session that carries the user's one-to-one
// messages to to, or nil after answering s with the error that says why
// (without answering when quiet). Lane work: it reads storage.
func (d *Service) Adapter(ctx context.Context, s *stanza.In, to transports.ID, quiet bool) transports.Adapter {
	c := d.core
	user := s.From.Bare()
	reply := func(e *stanzaerr.Error) {
		if !quiet {
			c.ReplyError(s, e)
		}
	}
	// An unregistered user may still have a session: the anonymous one
	// their room joins opened (IRC), which also carries their private
	// messages.
	registered := c.Registered(ctx, user)
	if k, err := c.Kind(to); !registered && err == nil && k == transports.KindServer {
		// Raw commands to a server: never through a session the
		// user's room joins opened anonymously.
		reply(stanzaerr.New("cancel", "not-allowed", "Commands to a server are for registered users: register with %s first.", c.Domain()))
		return nil
	}
	a := c.Adapter(user.String())
	if a == nil && !registered {
		reply(stanzaerr.New("auth", "registration-required", "Register with %s first.", c.Domain()))
		return nil
	}
	if a == nil {
		st := c.Status(user.String())
		text := "You are not connected to " + c.NetworkName() + " (" + st.State.String() + ")"
		if st.Text != "" {
			text += ": " + stanzaerr.Detail(st.Text)
		}
		reply(stanzaerr.New("wait", "recipient-unavailable", "%s. The message was not sent.", text))
		return nil
	}
	return a
}

// react turns the user's whole set of reactions (want) to the message
// their client names ref into the network's additions and removals, and
// remembers the set. Lane work.
func (d *Service) react(ctx context.Context, s *stanza.In, a transports.Adapter, to transports.ID, ref string, want []string) {
	c := d.core
	u := s.From.Bare().String()
	reactor, ok := a.(transports.Reactor)
	if !ok {
		c.ReplyError(s, stanzaerr.New("cancel", "feature-not-implemented", "%s has no reactions.", c.NetworkName()))
		return
	}
	if ref == "" {
		c.ReplyError(s, stanzaerr.New("modify", "bad-request", "The reactions element has no id."))
		return
	}
	target := c.MessageRef(ctx, u, to, ref)
	if target == "" {
		c.ReplyError(s, stanzaerr.New("cancel", "item-not-found", "The gateway does not know that message (too old, or not sent through it)."))
		return
	}
	add, remove := Diff(d.reactions.Get(u, to, target, ""), want)
	rctx, cancel := context.WithTimeout(ctx, reactTimeout)
	defer cancel()
	for _, x := range add {
		if err := reactor.React(rctx, to, target, x, false); err != nil {
			c.ReplyError(s, stanzaerr.FromLegacy(err))
			return
		}
	}
	for _, x := range remove {
		if err := reactor.React(rctx, to, target, x, true); err != nil {
			c.ReplyError(s, stanzaerr.FromLegacy(err))
			return
		}
	}
	d.reactions.Set(u, to, target, "", want)
}

// Typing is a contact's typing notification for user, to send as it is
// (not stored), or nil when the contact has no JID: a typing notification
// is not worth a message from the gateway. It does no I/O.
func (d *Service) Typing(user jid.JID, ev *transports.TypingEvent) *stanza.Message {
	from, err := d.core.LegacyJID(ev.From)
	if err != nil {
		return nil
	}
	return typingMessage(from.String(), user.String(), ev.State)
}

// Reaction is a contact's reaction for user, to queue: their whole set of
// reactions to the message (XEP-0444), or, when the user's client does
// not know the message, the change as text; nil when it cannot be shown
// (no JID, no target). Owner work: it reads the message-ID map.
func (d *Service) Reaction(ctx context.Context, user jid.JID, ev *transports.ReactionEvent) *stanza.Message {
	c := d.core
	u := user.String()
	from, err := c.LegacyJID(ev.From)
	if err != nil || ev.Target == "" {
		c.Logger().Debug("reaction not shown", "user", u, "from", string(ev.From))
		return nil
	}
	reactor := string(ev.From)
	if ev.Own {
		reactor = "" // the user's own set, as their XMPP reactions keep it
	}
	set := d.reactions.React(u, ev.From, ev.Target, reactor, ev.Reaction, ev.Remove)
	ref := c.XMPPRef(ctx, u, ev.From, ev.Target)
	return reactionMessage(newID(), from.String(), u, ref, set, ev.Reaction, ev.Remove)
}

// OwnReactionText is m, the user's own reaction from another legacy
// client as Reaction built it, as a marked text for when it cannot be
// sent as theirs: a reactions element from the contact's JID would read
// as the contact's.
func OwnReactionText(m *stanza.Message, ev *transports.ReactionEvent) *stanza.Message {
	t := *m
	t.Extra = nil
	verb := "reacted "
	if ev.Remove {
		verb = "took back the reaction "
	}
	t.Body = OwnMarker + "[" + verb + ev.Reaction + " to an earlier message]"
	return &t
}

// Edit is a contact's edit (or the user's own from another client) for
// user, to queue: a correction of the original, or, when the original is
// unknown, a new message marked as a correction. A contact without a JID
// is named in a message from the gateway. Owner work: it reads the
// message-ID map.
func (d *Service) Edit(ctx context.Context, user jid.JID, ev *transports.EditEvent) *stanza.Message {
	c := d.core
	from, err := c.LegacyJID(ev.From)
	if err != nil {
		return &stanza.Message{Type: "chat", From: c.Domain().String(), To: user.String(),
			Body: "Correction from " + string(ev.From) + ": " + ev.Body}
	}
	delay := ""
	if !ev.Time.IsZero() && d.now().Sub(ev.Time) > liveDelay {
		delay = c.Domain().String()
	}
	ref := c.XMPPRef(ctx, user.String(), ev.From, ev.Target)
	return editMessage(newID(), from.String(), user.String(), ref, ev, delay)
}

// Retracted is a contact's deletion (or the user's own from another
// client) for user, to queue: a retraction with a fallback body, or, when
// the original is unknown, a note that a message was deleted. Owner work:
// it reads the message-ID map.
func (d *Service) Retracted(ctx context.Context, user jid.JID, ev *transports.RetractEvent) *stanza.Message {
	c := d.core
	from, err := c.LegacyJID(ev.From)
	if err != nil {
		return &stanza.Message{Type: "chat", From: c.Domain().String(), To: user.String(),
			Body: string(ev.From) + " deleted a message."}
	}
	ref := c.XMPPRef(ctx, user.String(), ev.From, ev.Target)
	return retractMessage(newID(), from.String(), user.String(), ref, ev.Own)
}
