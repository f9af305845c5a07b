package irc

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/internal/bounded"
	"github.com/switchboard-im/switchboard/transports"
)

// Message deletion with IRCv3 draft/message-redaction, where the server
// offers it (negotiated in caps.go, with message-tags and the msgid tags
// that name messages):
//
//   - the user's retraction (transports.Retractor) and a moderator's
//     (transports.MessageModerator) become REDACT <target> <msgid>
//     [:reason]; the server's FAIL REDACT … is the refusal, its answer to
//     a PING sent after it the success (after the REDACT's echo, on a
//     server that echoes: echo-message);
//   - a REDACT from the server becomes a transports.RetractEvent: by the
//     author, or, in a channel, a moderation when someone else deleted
//     the message.
//
// The network's Capabilities are static, and whether a server offers the
// capability is known only once connected: the gateway claims Retractions
// and Moderation for every IRC server, and on a server without it Retract
// and ModerateRetract fail with ErrUnsupported and a text naming the
// server (the component answers feature-not-implemented with it), before
// anything is sent.
//
// IRC does not say who wrote the message a REDACT names. Each channel's
// shared view (roomView) remembers the authors of its latest messages by
// msgid (authorLog); for older ones, a REDACT by a member without channel
// status can only be of their own message (the server checks), and one
// by an operator is shown as a moderation.

// redactCap is the IRCv3 capability of message deletion (a draft: the
// final specification will drop the prefix).
const redactCap = "draft/message-redaction"

// Bounds on deletions.
const (
	// maxAuthors is how many of a channel's latest message authors its
	// view remembers.
	maxAuthors = 256
	// maxMsgID is the longest msgid the gateway sends in a REDACT.
	maxMsgID = 256
	// maxRedactReason bounds a deletion's reason, both ways.
	maxRedactReason = 300
)

var (
	_ transports.Retractor        = (*adapter)(nil)
	_ transports.MessageModerator = (*adapter)(nil)
)

// Retract implements transports.Retractor with REDACT: the user's message
// target in the channel or private chat to. It fails with ErrUnsupported
// on a server that does not offer draft/message-redaction (nothing is
// sent), and with the server's refusal (FAIL REDACT) mapped to
// ErrForbidden or ErrNotFound otherwise. In a channel the deletion is
// delivered as a RetractEvent once the server took it (its echo, or, on a
// server that does not echo, by the adapter itself).
func (a *adapter) Retract(ctx context.Context, to transports.ID, target transports.RemoteID) error {
	t, err := a.target(to)
	if err != nil {
		return err
	}
	c, name, err := a.peer(to)
	if err != nil {
		return err
	}
	return c.redact(ctx, name, to, t.Channel != "", target, "")
}

// ModerateRetract implements transports.MessageModerator with REDACT and
// the reason: the server decides whether the user may delete someone
// else's message (channel operators, usually). Errors are as for Retract.
func (a *adapter) ModerateRetract(ctx context.Context, room transports.ID, target transports.RemoteID, reason string) error {
	c, name, err := a.channel(room)
	if err != nil {
		return err
	}
	return c.redact(ctx, name, room, true, target, reason)
}

// redact sends REDACT for message msgid in target (a channel or nick;
// id as the user named it, room when a channel), and for the further
// lines of the user's message msgid names (rememberLines), and waits for
// the server's answer: FAIL REDACT about msgid (or 421, an unknown
// command) is the refusal, the answer to the PING queued right after the
// REDACTs the success, bounded by ctx and the network timeout. The
// further lines' echoes are not shown: the user's message is one.
func (c *conn) redact(ctx context.Context, target string, id transports.ID, room bool, msgid transports.RemoteID, reason string) error {
	c.mu.Lock()
	if !c.registered || c.wire == nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: not connected to %s right now", transports.ErrNotConnected, c.server)
	}
	if !c.hasCapLocked("message-tags") || !c.hasCapLocked(redactCap) {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s does not offer message deletion (IRCv3 %s): the message stays there, and nothing was sent",
			transports.ErrUnsupported, c.server, redactCap)
	}
	c.seq++
	token := "sbr" + strconv.Itoa(c.seq)
	me := c.nick
	c.mu.Unlock()
	if !validMsgID(string(msgid)) {
		return fmt.Errorf("%w: that message has no IRC message ID %s could delete", transports.ErrNotFound, c.server)
	}
	reason = cutUTF8(strings.TrimSpace(Sanitize(reason)), maxRedactReason)
	further := c.furtherLines(ctx, target, string(msgid))
	lines := make([]string, 0, len(further)+2)
	for _, m := range append([]string{string(msgid)}, further...) {
		l := "REDACT " + target + " " + m
		if reason != "" {
			l += " :" + reason
		}
		lines = append(lines, l)
	}
	lines = append(lines, "PING :"+token)
	c.quiet(further, 1)
	defer c.quiet(further, -1)
	key := FoldName(target)
	echoed := false // set by the reading goroutine before it completes w
	w := c.addAwait(func(e *girc.Event, self bool) (bool, error) {
		p := e.Params
		switch e.Command {
		case "FAIL":
			if len(p) < 3 || p[0] != "REDACT" {
				return false, nil
			}
			// FAIL REDACT <code> [<target> [<msgid> …]] <description>: a
			// context that names another deletion is not this one's.
			if ctxt := p[2 : len(p)-1]; len(ctxt) >= 1 && FoldName(ctxt[0]) != key || len(ctxt) >= 2 && p[1] != "INVALID_TARGET" && ctxt[1] != string(msgid) {
				return false, nil
			}
			return true, redactFailure(c.server, target, p[1])
		case "421":
			if len(p) >= 2 && strings.EqualFold(p[1], "REDACT") {
				return true, fmt.Errorf("%w: %s does not know the REDACT command; nothing was deleted", transports.ErrUnsupported, c.server)
			}
		case "REDACT":
			// The echo comes before the PONG, and so do the further
			// lines' echoes, which the PONG lets be shown again.
			if self && len(p) >= 2 && FoldName(p[0]) == key && p[1] == string(msgid) {
				echoed = true
			}
		case "PONG":
			return len(p) >= 1 && lastParam(p) == token, nil
		}
		return false, nil
	})
	if err := c.request(ctx, w, "the deletion", lines...); err != nil {
		return err
	}
	if room && !echoed {
		// The server took it without echoing it: the user's resources
		// see it now, as they would see the echo.
		c.a.deliver(c.channelRetraction(target, id, string(msgid), me, me, reason))
	}
	return nil
}

// validMsgID reports whether id can be sent as REDACT's msgid parameter:
// non-empty, bounded, no spaces or control characters, not a trailing
// parameter.
func validMsgID(id string) bool {
	if id == "" || len(id) > maxMsgID || id[0] == ':' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] == 0x7f {
			return false
		}
	}
	return true
}

// redactFailure is the error for the server's FAIL REDACT code about a
// deletion in target: a text of the gateway's own for each code the
// specification defines (the server's description is never quoted).
func redactFailure(server, target, code string) error {
	switch code {
	case "INVALID_TARGET":
		return fmt.Errorf("%w: %s does not let you delete messages in %s", transports.ErrForbidden, server, target)
	case "REDACT_FORBIDDEN":
		return fmt.Errorf("%w: %s does not allow you to delete that message", transports.ErrForbidden, server)
	case "REDACT_WINDOW_EXPIRED":
		return fmt.Errorf("%w: %s no longer lets you delete that message: the time to do so has passed", transports.ErrForbidden, server)
	case "UNKNOWN_MSGID":
		return fmt.Errorf("%w: %s does not know that message (it may be too old); nothing was deleted", transports.ErrNotFound, server)
	}
	return fmt.Errorf("%w: %s refused to delete that message", transports.ErrForbidden, server)
}

// onRedact turns a REDACT from the server into a RetractEvent: in a
// channel the user is in, from the author or as a moderation
// (channelRetraction); to the user, from the contact who deleted their
// own message. The user's own deletions in private chats are not
// mirrored, as their own private messages are not (onMessage).
func (c *conn) onRedact(e *girc.Event) []transports.Event {
	p := e.Params
	if len(p) < 2 || e.Source == nil || !validMsgID(p[1]) || !c.isRegistered() {
		return nil
	}
	target, msgid := p[0], p[1]
	if c.isSelf(e) && c.quieted(msgid) {
		return nil // a further line of a message whose deletion the user sees once
	}
	by := e.Source.Name
	if fromServer(e) {
		by = "" // a server (or its services) deleted it: nobody the room knows
	}
	if c.isChannel(target) {
		reason := ""
		if len(p) >= 3 {
			reason = cutUTF8(strings.TrimSpace(StripFormatting(DecodeText(p[2]))), maxRedactReason)
		}
		c.mu.Lock()
		ch := c.channels[FoldName(target)]
		if ch == nil || !ch.joined || ch.sub == nil {
			c.mu.Unlock()
			return nil
		}
		id, me := ch.id, c.nick
		c.mu.Unlock()
		return []transports.Event{c.channelRetraction(target, id, msgid, by, me, reason)}
	}
	if by == "" || c.isSelf(e) || !EqualFold(target, c.currentNick()) {
		return nil
	}
	from := c.nickID(by)
	if from == "" {
		return nil
	}
	return []transports.Event{&transports.RetractEvent{From: from, Target: transports.RemoteID(msgid)}}
}

// channelRetraction is the RetractEvent for the deletion of message msgid
// in channel name (the user's room id) by nick by ("" for a server), the
// user being me: by its author when the channel's view knows the author
// and it is by, or when it does not and by holds no channel status (such
// a member can delete only their own messages); a moderation by by, with
// reason, otherwise.
func (c *conn) channelRetraction(name string, id transports.ID, msgid, by, me, reason string) *transports.RetractEvent {
	author, byOp := "", false
	c.mu.Lock()
	if ch := c.channels[FoldName(name)]; ch != nil && ch.sub != nil {
		author = ch.sub.author(msgid)
		if by != "" {
			if m, ok := ch.sub.member(by); ok {
				byOp = strings.ContainsAny(m.prefixes, "qaoh")
			}
		}
	}
	c.mu.Unlock()
	ev := &transports.RetractEvent{From: id, Room: true, Target: transports.RemoteID(msgid)}
	switch {
	case author != "" && by != "" && EqualFold(author, by), author == "" && by != "" && !byOp:
		ev.Nick = by
	default:
		ev.Nick, ev.Moderated, ev.By, ev.Reason = author, true, by, reason
	}
	ev.Own = ev.Nick != "" && EqualFold(ev.Nick, me)
	return ev
}

// A message of the user's longer than one IRC line goes out as several
// PRIVMSGs, each with its own msgid, and is known by the first (Send's
// RemoteID). So that deleting it deletes every line, the msgids of the
// further lines are kept in the user's durable store (Account.Store) per
// server and conversation, for the latest maxLineSets such messages.

// maxLineSets is how many multi-line messages per conversation keep the
// msgids of their further lines.
const maxLineSets = 32

// linesKey is the store key of the line sets of conversation target.
func (c *conn) linesKey(target string) string {
	return "redact-lines:" + c.server + " " + FoldName(target)
}

// rememberLines stores ids, the msgids of the lines of one message the
// user sent to target, where the server can delete messages. A store
// that fails is logged: the message's first line can still be deleted.
func (c *conn) rememberLines(ctx context.Context, target string, ids []string) {
	st := c.a.acct.Store
	if st == nil || !c.hasCap(redactCap) {
		return
	}
	for _, id := range ids {
		if !validMsgID(id) {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c.linesMu.Lock()
	defer c.linesMu.Unlock()
	key := c.linesKey(target)
	var sets []string
	if v, err := st.Get(ctx, key); err == nil && len(v) > 0 {
		sets = strings.Split(string(v), "\n")
	}
	sets = append(sets, strings.Join(ids, " "))
	if len(sets) > maxLineSets {
		sets = sets[len(sets)-maxLineSets:]
	}
	if err := st.Put(ctx, key, []byte(strings.Join(sets, "\n"))); err != nil {
		c.logger().Warn("the lines of a long message not remembered; deleting it will delete its first line only", "err", err)
	}
}

// furtherLines returns the msgids of the lines after the first of the
// user's message msgid to target, as rememberLines stored them.
func (c *conn) furtherLines(ctx context.Context, target, msgid string) []string {
	st := c.a.acct.Store
	if st == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := st.Get(ctx, c.linesKey(target))
	if err != nil {
		return nil
	}
	for _, set := range strings.Split(string(v), "\n") {
		ids := strings.Fields(set)
		if len(ids) < 2 || ids[0] != msgid {
			continue
		}
		var rest []string
		for _, id := range ids[1:] {
			if validMsgID(id) && len(rest) < c.a.n.cfg.MaxLinesPerMessage {
				rest = append(rest, id)
			}
		}
		return rest
	}
	return nil
}

// quiet adds d to the count of deletions under way of each of msgids.
func (c *conn) quiet(msgids []string, d int) {
	if len(msgids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.quietRedacts == nil {
		c.quietRedacts = make(map[string]int)
	}
	for _, m := range msgids {
		if c.quietRedacts[m] += d; c.quietRedacts[m] <= 0 {
			delete(c.quietRedacts, m)
		}
	}
}

// quieted reports whether msgid is a further line of a deletion under way.
func (c *conn) quieted(msgid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.quietRedacts[msgid] > 0
}

// noteAuthor records in the view of channel name that nick wrote the
// message msgid.
func (c *conn) noteAuthor(name, msgid, nick string) {
	if msgid == "" || nick == "" || len(msgid) > maxMsgID {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.channels[FoldName(name)]; ch != nil && ch.sub != nil {
		ch.sub.noteAuthor(msgid, nick)
	}
}

// authorLog remembers who wrote a channel's latest messages, by msgid,
// at most maxAuthors of them, oldest out first. Its owner guards it.
type authorLog struct {
	by *bounded.Map[string, string] // nil until the first note
}

// note records that nick wrote msgid; a msgid seen already keeps its
// author (every connection in the channel reads the same message).
func (l *authorLog) note(msgid, nick string) {
	if l.by == nil {
		l.by = bounded.New[string, string](maxAuthors)
	}
	if _, ok := l.by.Get(msgid); ok {
		return
	}
	// Clones: not the whole line.
	l.by.Put(strings.Clone(msgid), strings.Clone(nick))
}

// of is the author of msgid, if the log remembers it.
func (l *authorLog) of(msgid string) string {
	if l.by == nil {
		return ""
	}
	nick, _ := l.by.Get(msgid)
	return nick
}

// len is how many msgids the log remembers.
func (l *authorLog) len() int {
	if l.by == nil {
		return 0
	}
	return l.by.Len()
}

// noteAuthor records in the view that nick wrote msgid.
func (s *viewSub) noteAuthor(msgid, nick string) {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	v.authors.note(msgid, nick)
}

// author is the nick that wrote msgid, if the view remembers it.
func (s *viewSub) author(msgid string) string {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.authors.of(msgid)
}
