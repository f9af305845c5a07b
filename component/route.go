package component

import (
	"context"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
)

// nsComponent is the namespace of the stanzas of a component stream
// (XEP-0114).
const nsComponent = "jabber:component:accept"

// routeAt dispatches one incoming top-level element: at place seq of the
// network's journal when it is journaled (read from the stream, or
// handled again by replayJournal), 0 for a stanza with no entry.
//
// Nothing of a stanza's content is ever logged, at any level: a dropped
// stanza is logged by dropped, with its kind, type, id and addresses only.
func (c *Component) routeAt(n *node, seq uint64) {
	if n.Name.Space != nsComponent || n.Name.Local != "iq" && n.Name.Local != "message" && n.Name.Local != "presence" {
		c.dropped(n, "not a stanza")
		return // nothing to answer
	}
	if n.Name.Local == "iq" && (n.Attr("type") == "result" || n.Attr("type") == "error") && c.iqResult(n) {
		return // the answer to a request of the component's (a server may omit its own address)
	}
	s := &stanza.In{Element: n, ID: n.Attr("id"), Type: n.Attr("type")}
	var err error
	if s.From, err = jid.Parse(n.Attr("from")); err != nil || s.From.Localpart() == "" && s.From.Domainpart() == "" {
		c.dropped(n, "invalid sender")
		return
	}
	// Defence in depth: the server never routes these to a component. A
	// stanza from the gateway's own domain (or another gateway of this
	// process) would be served as if a user of that domain sent it.
	if c.gatewayDomain(s.From.Domainpart()) {
		c.dropped(n, "sender is a gateway domain")
		return
	}
	if s.To, err = jid.Parse(n.Attr("to")); err != nil {
		c.replyError(n, stanzaerr.New("modify", "jid-malformed", "The recipient address is not a valid JID."))
		return
	}
	if !strings.EqualFold(s.To.Domainpart(), c.domain.Domainpart()) {
		c.dropped(n, "recipient outside the gateway's domain")
		return
	}
	if s.Type == "error" {
		if n.Name.Local == "presence" {
			c.presenceError(s)
		}
		return // never answer an error with an error
	}
	if !n.ValidUTF8() {
		c.replyError(n, stanzaerr.New("modify", "bad-request", "The stanza is not valid UTF-8."))
		return
	}
	if c.contacts.Advert(s) {
		return // a server's XEP-0356 grant (package contacts)
	}
	if c.contacts.Echo(s) {
		return // a message sent on the user's behalf, routed back (package contacts)
	}
	switch n.Name.Local {
	case "iq":
		c.handleIQ(s)
	case "message":
		c.message(s, seq)
	case "presence":
		c.handlePresence(s)
	}
}

// gatewayDomain reports whether domain is this component's or another
// gateway domain of the process (Config.OtherDomains).
func (c *Component) gatewayDomain(domain string) bool {
	d := strings.ToLower(domain)
	return d == strings.ToLower(c.domain.Domainpart()) || c.others[d]
}

// maxLoggedAttr bounds each attribute value dropped writes to the log.
const maxLoggedAttr = 256

// dropped logs a stanza the component does not handle, with its element
// name, type, id and addresses (each cut to maxLoggedAttr bytes) and never
// its content, which may hold a message body or a password.
func (c *Component) dropped(n *node, why string) {
	c.log.Debug("stanza dropped", "why", why,
		"element", logAttr(n.Name.Local), "type", logAttr(n.Attr("type")), "id", logAttr(n.Attr("id")),
		"from", logAttr(n.Attr("from")), "to", logAttr(n.Attr("to")))
}

// logAttr cuts s to maxLoggedAttr bytes on a UTF-8 boundary.
func logAttr(s string) string {
	if len(s) <= maxLoggedAttr {
		return s
	}
	return stanza.CutUTF8(s, maxLoggedAttr) + "…"
}

// allowedUser reports whether the sender's server may use this gateway.
func (c *Component) allowedUser(from jid.JID) bool {
	if c.allowed["*"] {
		return true
	}
	return c.allowed[strings.ToLower(from.Domainpart())]
}

func (c *Component) forbidden() *stanzaerr.Error {
	domains := make([]string, 0, len(c.allowed))
	for d := range c.allowed {
		domains = append(domains, d)
	}
	return stanzaerr.New("cancel", "forbidden", "This gateway only serves users of: %s.", strings.Join(domains, ", "))
}

func (c *Component) isAdmin(from jid.JID) bool {
	return c.admins[from.Bare().String()]
}

// replyError answers stanza n with err, if n is a stanza that may be
// answered.
func (c *Component) replyError(n *node, err *stanzaerr.Error) {
	typ := n.Attr("type")
	if typ == "error" || typ == "result" {
		return
	}
	x := err.Wire()
	from, to, id := n.Attr("to"), n.Attr("from"), n.Attr("id")
	if to == "" {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
	defer cancel()
	if c.replays.is(n) && n.Name.Local == "message" {
		// A replayed message's answer may come before the stream is up:
		// queued, like the receipt it replaces.
		if qerr := c.queue(ctx, &stanza.Message{ID: id, Type: "error", From: from, To: to, Error: x}); qerr == nil {
			return
		}
	}
	switch n.Name.Local {
	case "iq":
		c.sendQuiet(ctx, &stanza.IQ{ID: id, Type: "error", From: from, To: to, Error: x})
	case "message":
		c.sendQuiet(ctx, &stanza.Message{ID: id, Type: "error", From: from, To: to, Error: x})
	case "presence":
		c.sendQuiet(ctx, &stanza.Presence{ID: id, Type: "error", From: from, To: to, Error: x})
	}
}

// ctx is the context for work started by a stanza: it ends with Run.
func (c *Component) ctx() context.Context {
	if c.runCtx == nil {
		return context.Background()
	}
	return c.runCtx
}

// result answers an IQ get/set with payload (nil for an empty result).
func (c *Component) result(s *stanza.In, payload any) {
	ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
	defer cancel()
	c.sendQuiet(ctx, &stanza.IQ{ID: s.ID, Type: "result", From: s.To.String(), To: s.From.String(), Payload: payload})
}
