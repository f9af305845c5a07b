package component

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// maxBodyBytes bounds a message body accepted towards a legacy network.
const maxBodyBytes = 64 << 10

type receivedElem struct {
	XMLName xml.Name `xml:"urn:xmpp:receipts received"`
	ID      string   `xml:"id,attr"`
}

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
		c.roomMessage(s, id)
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
	if s.To.Localpart() != "" && c.directPayload(s, hasBody) {
		return // a retraction, reactions or a chat state
	}
	if !hasBody {
		return // other payloads without a body: nothing to relay
	}
	user := s.From.Bare()
	if s.To.Localpart() == "" {
		c.admit(s, func() { c.chatCommand(s.From, body) })
		return
	}
	if max := c.maxBody(); len(body) > max {
		c.replyError(s.Element, stanzaerr.New("modify", "policy-violation", "The message is longer than %d bytes.", max))
		return
	}
	if strings.TrimSpace(body) == "" {
		return
	}
	to, err := legacyID(s.To)
	if err != nil {
		c.replyError(s.Element, stanzaerr.New("modify", "jid-malformed", "%v", err))
		return
	}
	c.admit(s, func() {
		ctx := c.ctx()
		a := c.directAdapter(ctx, s, to, false)
		if a == nil {
			return
		}
		if err := c.limiter(user.String()).Wait(ctx); err != nil {
			return // shutting down
		}
		xid := s.ID
		if o := s.Child(nsSID, "origin-id"); o != nil && o.Attr("id") != "" {
			xid = o.Attr("id")
		}
		msg := transports.Message{To: to, Body: body, Subject: s.ChildText("", "subject"), Thread: s.ChildText("", "thread"), ID: xid}
		if r := s.Child(nsReply, "reply"); r != nil && c.netCaps().Replies {
			msg.ReplyTo = c.messageRef(ctx, user.String(), to, false, r.Attr("id"))
		}
		if rep := s.Child(nsCorrect, "replace"); rep != nil {
			// XEP-0308: an edit where the network has them, else a new
			// message marked as a correction; never a silent duplicate.
			// The original keeps its pairing: later corrections name it.
			edited, marked, serr := c.correct(ctx, a, user.String(), to, false, rep.Attr("id"), body)
			if serr != nil {
				c.stats.legacyErrors.Add(1)
				c.replyError(s.Element, serr)
				return
			}
			if edited {
				c.stats.toLegacy.Add(1)
				c.receipt(ctx, s)
				return
			}
			msg.Body, xid = marked, ""
			shared = nil // the files went with the original
			if max := c.maxBody(); len(msg.Body) > max {
				c.replyError(s.Element, stanzaerr.New("modify", "policy-violation", "The message is longer than %d bytes.", max))
				return
			}
		}
		rid, err := c.sendWithFiles(ctx, user, a, msg, shared)
		if err != nil {
			c.stats.legacyErrors.Add(1)
			c.replyError(s.Element, stanzaerr.FromLegacy(err))
			return
		}
		c.stats.toLegacy.Add(1)
		if rid != "" && xid != "" {
			if err := c.ids.Pair(ctx, user.String(), c.net.Name(), string(to), string(rid), xid); err != nil {
				c.log.Warn("storing message ID", "err", err)
			}
		}
		// XEP-0184: acknowledge only once the legacy network took it,
		// or delivered it where it says so later (receipts.go).
		c.acknowledge(ctx, s, to, rid)
	})
}

// receipt acknowledges s (XEP-0184) if it asked for it; call it only once
// the legacy network took the message.
func (c *Component) receipt(ctx context.Context, s *stanza.In) {
	if s.Child(nsReceipts, "request") != nil && s.ID != "" {
		c.sendQuiet(ctx, &stanza.Message{From: s.To.String(), To: s.From.String(), Extra: []any{&receivedElem{ID: s.ID}}})
	}
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
