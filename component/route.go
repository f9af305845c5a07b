package component

import (
	"context"
	"errors"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
)

// stanza is an incoming stanza with its addresses parsed.
type stanza struct {
	*node
	from, to jid.JID
	id, typ  string
}

// route dispatches one incoming top-level element.
func (c *Component) route(n *node) {
	if n.Name.Local != "iq" && n.Name.Local != "message" && n.Name.Local != "presence" {
		return // not a stanza; nothing to answer
	}
	if n.Name.Local == "iq" && (n.Attr("type") == "result" || n.Attr("type") == "error") && c.iqResult(n) {
		return // the answer to a request of the component's (a server may omit its own address)
	}
	s := &stanza{node: n, id: n.Attr("id"), typ: n.Attr("type")}
	var err error
	if s.from, err = jid.Parse(n.Attr("from")); err != nil || s.from.Localpart() == "" && s.from.Domainpart() == "" {
		c.log.Debug("stanza with an invalid sender dropped", "from", n.Attr("from"), "stanza", n.String())
		return
	}
	if s.to, err = jid.Parse(n.Attr("to")); err != nil {
		c.replyError(n, errorf("modify", "jid-malformed", "The recipient address is not a valid JID."))
		return
	}
	if s.typ == "error" {
		if n.Name.Local == "presence" {
			c.presenceError(s)
		}
		return // never answer an error with an error
	}
	if !n.ValidUTF8() {
		c.replyError(n, errorf("modify", "bad-request", "The stanza is not valid UTF-8."))
		return
	}
	switch n.Name.Local {
	case "iq":
		c.handleIQ(s)
	case "message":
		c.handleMessage(s)
	case "presence":
		c.handlePresence(s)
	}
}

// allowedUser reports whether the sender's server may use this gateway.
func (c *Component) allowedUser(from jid.JID) bool {
	if c.allowed["*"] {
		return true
	}
	return c.allowed[strings.ToLower(from.Domainpart())]
}

func (c *Component) forbidden() *stanzaError {
	domains := make([]string, 0, len(c.allowed))
	for d := range c.allowed {
		domains = append(domains, d)
	}
	return errorf("cancel", "forbidden", "This gateway only serves users of: %s.", strings.Join(domains, ", "))
}

func (c *Component) isAdmin(from jid.JID) bool {
	return c.admins[from.Bare().String()]
}

// replyError answers stanza n with err, if n is a stanza that may be
// answered.
func (c *Component) replyError(n *node, err *stanzaError) {
	typ := n.Attr("type")
	if typ == "error" || typ == "result" {
		return
	}
	x := err.xml()
	from, to, id := n.Attr("to"), n.Attr("from"), n.Attr("id")
	if to == "" {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
	defer cancel()
	switch n.Name.Local {
	case "iq":
		c.sendQuiet(ctx, &outIQ{ID: id, Type: "error", From: from, To: to, Error: x})
	case "message":
		c.sendQuiet(ctx, &outMessage{ID: id, Type: "error", From: from, To: to, Error: x})
	case "presence":
		c.sendQuiet(ctx, &outPresence{ID: id, Type: "error", From: from, To: to, Error: x})
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
func (c *Component) result(s *stanza, payload any) {
	ctx, cancel := context.WithTimeout(c.ctx(), 10*time.Second)
	defer cancel()
	c.sendQuiet(ctx, &outIQ{ID: s.id, Type: "result", From: s.to.String(), To: s.from.String(), Payload: payload})
}

// asStanzaError classifies err for the sender.
func asStanzaError(err error) *stanzaError {
	var se *stanzaError
	if errors.As(err, &se) {
		return se
	}
	return legacyError(err)
}
