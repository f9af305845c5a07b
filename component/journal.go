package component

import (
	"context"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// The inbound journal (Config.Journal, package journal): a user's message
// to the legacy network — text to a contact or a room, a correction, a
// retraction, reactions — is written to the journal before its handling
// starts (by the journal writer, with the stanzas read back to back in
// one transaction: journal_writer.go), and acknowledged once
// its handling is over: after its lane work (the legacy send, or its
// queueing where the network pipelines, and the error stanza of a
// refusal) and after its confirmation (the message-ID pair, the receipt
// or the error), which is where the acknowledgement job runs, queued
// behind both. Components have no stream management: without the
// journal, a message the server handed over and the gateway had not yet
// sent dies with a killed process.
//
// When Run starts (after a restart, or on a standby that took the
// domain's lease) replayJournal routes again, once and in each user's
// order, what was left unacknowledged, with its original stanza id so
// that the message-ID map and the receipt line up; each user's replayed
// messages wait in their lane, ahead of anything new, for the user's
// legacy session (or its failure: then they get the usual error). An
// entry older than the journal's MaxAge is not sent: it is logged and the
// user gets an error for it.
//
// Duplicates: a message the legacy network took whose acknowledgement
// the process did not live to write is sent again — at most the user's
// messages in flight (one, where the network does not pipeline), less
// those whose message-ID pair was written (journal_paired.go).
// Nothing is acknowledged once Run's context is done: a send that failed
// because the component was stopping is handled again by the next one.

// journaled reports whether the message s goes to the legacy network
// and is journaled: addressed to a contact or a room, not an error or a
// headline, carrying a body, a retraction or reactions. Chat states
// alone are not worth a write; messages to the gateway itself (the chat
// door) reach no legacy network.
func journaled(s *stanza.In) bool {
	if s.Name.Local != "message" || s.To.Localpart() == "" || s.Type == "error" || s.Type == "headline" {
		return false
	}
	return s.Child("", "body") != nil || s.Child(stanza.NSRetract, "retract") != nil || s.Child(stanza.NSReactions, "reactions") != nil
}

// journals reports whether s is written to the journal: a message that
// goes to the legacy network (journaled), from a user of a domain the
// gateway serves — a stranger's message costs no write (it is refused as
// it is), so strangers cannot make the stream's reader wait on storage.
func (c *Component) journals(s *stanza.In) bool {
	return c.cfg.Journal != nil && journaled(s) && c.allowedUser(s.From)
}

// message handles the message stanza s: journaled first when it goes to
// the legacy network and is not yet (seq 0: the journal writer did not
// take it), or already journaled at seq (by the journal writer, or a
// replay), and acknowledged in the journal once handled. On the stream's
// goroutine, the journal writer's, or Run's for a replay.
func (c *Component) message(s *stanza.In, seq uint64) {
	j := c.cfg.Journal
	if !c.journals(s) {
		c.handleMessage(s)
		return
	}
	user := s.From.Bare().String()
	if seq != 0 {
		c.replays.reached.Store(s.Element, struct{}{})
	}
	if seq == 0 {
		ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
		var err error
		seq, err = j.Write(ctx, c.net.Name(), user, []byte(s.Element.String()))
		cancel()
		if err != nil {
			c.journalRefused(s.Element, user, err)
			return
		}
	}
	c.handleMessage(s)
	ack := func(ctx context.Context) {
		// Behind the message's confirmation.
		c.confirms.Post(ctx, user, func(ctx context.Context) { c.journalAck(ctx, s.Element, user, seq) })
	}
	if _, room := c.isRoom(s.To); room && s.To.Resourcepart() != "" && s.Type != "groupchat" {
		// A private message through a room: its lane work looks the
		// occupant up and then admits the one-to-one send as a further
		// lane job; the acknowledgement goes behind that one.
		next := ack
		ack = func(ctx context.Context) { c.lanes.Post(ctx, user, next) }
	}
	// Behind the message's lane work.
	c.lanes.Post(c.ctx(), user, ack)
}

// journalAck removes the entry seq of user from the journal, unless Run
// is ending: the stanza's handling may then have failed for that reason
// alone, and the next start handles it again.
func (c *Component) journalAck(ctx context.Context, n *node, user string, seq uint64) {
	defer c.replays.done(n)
	if ctx.Err() != nil {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.cfg.Journal.Ack(actx, c.net.Name(), user, seq); err != nil {
		c.log.Warn("acknowledging a journaled message; it will be sent again after a restart", "user", user, "err", err)
	}
}

// replays is the set of journaled stanzas being handled again: admit
// queues them whatever the lane's length (the journal bounded them when
// they were taken), and replyError queues their errors in the outbox,
// since they may come before the stream is up.
type replays struct {
	m sync.Map // *node -> struct{}
	// reached holds, while replayJournal routes one, the replayed
	// stanzas that routing brought to message.
	reached sync.Map // *node -> struct{}
}

func (r *replays) add(n *node)     { r.m.Store(n, struct{}{}) }
func (r *replays) done(n *node)    { r.m.Delete(n) }
func (r *replays) is(n *node) bool { _, ok := r.m.Load(n); return ok }

// replayJournal routes again what the journal kept of the network's
// messages (see the top of this file). Run calls it before the stream
// loop, so each user's replayed messages are in their lane before any new
// stanza of theirs; it does not wait for their handling.
func (c *Component) replayJournal(ctx context.Context) {
	j := c.cfg.Journal
	if j == nil {
		return
	}
	entries, err := j.Pending(ctx, c.net.Name())
	if err != nil {
		c.log.Error("reading the journal", "err", err)
	}
	if len(entries) > 0 {
		c.log.Info("handling again the messages a stopped process left unsent", "messages", len(entries))
	}
	nodes := make([]*node, len(entries))
	roomBound := make(map[string]bool) // users with a replayed message to a room
	for i, e := range entries {
		n, err := xmltree.Parse(string(e.Stanza))
		if err != nil {
			c.log.Error("journaled message unreadable, dropped", "user", e.User, "err", err)
			c.journalAck(ctx, nil, e.User, e.Seq)
			continue
		}
		nodes[i] = n
		if c.toRoom(n) {
			roomBound[e.User] = true
		}
	}
	waiting := make(map[string]bool)
	for i, e := range entries {
		n := nodes[i]
		if n == nil {
			continue // unreadable, dropped above
		}
		if j.Expired(e) {
			c.log.Warn("journaled message too old to send, dropped", "user", e.User, "id", logAttr(n.Attr("id")),
				"to", logAttr(n.Attr("to")), "age", time.Since(e.At).Round(time.Second))
			c.replays.add(n)
			c.replyError(n, stanzaerr.New("cancel", "remote-server-timeout",
				"The gateway stopped before this message was sent, and it is now too old to send (over %s): it was not sent.", j.MaxAge()))
			c.journalAck(ctx, n, e.User, e.Seq)
			continue
		}
		if c.pairedBefore(ctx, e.User, n) {
			c.log.Info("journaled message already sent before the stop, not sent again", "user", e.User, "id", logAttr(n.Attr("id")))
			c.journalAck(ctx, nil, e.User, e.Seq)
			continue
		}
		if !waiting[e.User] {
			waiting[e.User] = true
			user := e.User
			rooms := roomBound[user]
			c.lanes.Post(ctx, user, func(ctx context.Context) { c.awaitSession(ctx, user, rooms) })
		}
		c.replays.add(n)
		c.routeAt(n, e.Seq)
		if _, ok := c.replays.reached.LoadAndDelete(n); !ok {
			// Dropped by routing this time (the configuration changed:
			// another domain, say); never left to come back at every
			// start.
			c.log.Warn("journaled message no longer routed, dropped", "user", e.User, "id", logAttr(n.Attr("id")), "to", logAttr(n.Attr("to")))
			c.journalAck(ctx, n, e.User, e.Seq)
		}
	}
}

// awaitSession waits, in user's lane, until the stream is up and the
// user's legacy session is (it starts it for a registered user), or has
// failed, or connectWait passed: then the user's replayed messages run,
// and get the usual error where the session is not there. With rooms
// (the user has replayed messages to rooms), it then rejoins the user's
// remembered rooms (bouncer mode) before returning, so those messages
// find the rooms joined; see holdForRooms.
func (c *Component) awaitSession(ctx context.Context, user string, rooms bool) {
	if rooms {
		defer c.holdForRooms(ctx, user)
	}
	u, err := jid.Parse(user)
	if err != nil {
		return
	}
	if c.registered(ctx, u) && !c.sup.Running(user) {
		c.startUser(ctx, u)
	}
	wctx, cancel := context.WithTimeout(ctx, connectWait)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		up := c.sup.Adapter(user) != nil || !c.sup.Running(user) || c.sup.Status(user).State == transports.StateBadCredentials
		if up && c.session() != nil {
			return
		}
		select {
		case <-wctx.Done():
			return
		case <-tick.C:
		}
	}
}
