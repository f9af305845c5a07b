package irc

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"

	"github.com/lrstanley/girc"
)

// The transport negotiates IRCv3 capabilities and SASL itself, on its
// own connection (conn.readLoop): girc is only its line parser.

// wantedCaps are the capabilities requested where a server offers them:
// the set girc's client asked for, echo-message, chat history and message
// deletion (redact.go); sasl is requested when the user has a password.
var wantedCaps = map[string]bool{
	"account-notify": true, "account-tag": true, "away-notify": true, "batch": true, "cap-notify": true,
	"chghost": true, "extended-join": true, "invite-notify": true, "message-tags": true, "msgid": true,
	"multi-prefix": true, "server-time": true, "userhost-in-names": true,
	"draft/message-tags-0.2": true, "draft/msgid": true,
	"echo-message": true, "draft/chathistory": true, "chathistory": true,
	redactCap: true,
}

// saslChunk is the longest AUTHENTICATE parameter (IRCv3 SASL).
const saslChunk = 400

// onCAP handles the server's CAP answers: LS (possibly on several lines)
// and NEW are answered with a REQ of what the transport wants; ACK
// enables what was accepted and goes on to SASL or ends the negotiation;
// NAK ends it; DEL disables. Lines are written at once, not paced: the
// registration waits on them.
func (c *conn) onCAP(e *girc.Event) {
	p := e.Params
	if len(p) < 3 {
		return
	}
	c.mu.Lock()
	var lines []string
	switch p[1] {
	case "LS", "NEW":
		r := c.regLinesLocked()
		r.capOffer = append(r.capOffer, strings.Fields(lastParam(p))...)
		if p[1] == "LS" && len(p) >= 4 && p[2] == "*" {
			break // more to come
		}
		var req []string
		for _, o := range r.capOffer {
			name, _, _ := strings.Cut(o, "=")
			if (wantedCaps[name] || name == "sasl" && c.password != "") && !c.caps.has(name) && !slices.Contains(req, name) {
				req = append(req, name)
			}
		}
		r.capOffer = nil
		c.tidyRegLocked()
		switch {
		case len(req) > 0:
			lines = append(lines, "CAP REQ :"+strings.Join(req, " "))
		case !c.registered:
			lines = append(lines, "CAP END")
		}
	case "ACK":
		for _, name := range strings.Fields(lastParam(p)) {
			if strings.HasPrefix(name, "-") {
				c.caps.del(name[1:])
				continue
			}
			c.caps.add(name)
		}
		switch {
		case c.caps.has("sasl") && c.password != "" && !c.saslTried && !c.registered:
			c.saslTried = true
			lines = append(lines, "AUTHENTICATE PLAIN")
		case !c.registered:
			lines = append(lines, "CAP END")
		}
	case "NAK":
		if !c.registered {
			lines = append(lines, "CAP END")
		}
	case "DEL":
		for _, name := range strings.Fields(lastParam(p)) {
			c.caps.del(name)
		}
	}
	c.mu.Unlock()
	c.writeNow(lines...)
}

// onAuthenticate answers the server's AUTHENTICATE + with the PLAIN
// credentials, in chunks of saslChunk.
func (c *conn) onAuthenticate(e *girc.Event) {
	if len(e.Params) != 1 || e.Params[0] != "+" || c.password == "" {
		return
	}
	auth := base64.StdEncoding.EncodeToString([]byte(c.wantNick + "\x00" + c.wantNick + "\x00" + c.password))
	var lines []string
	for len(auth) >= saslChunk {
		lines = append(lines, "AUTHENTICATE "+auth[:saslChunk])
		auth = auth[saslChunk:]
	}
	if auth == "" {
		auth = "+"
	}
	c.writeNow(append(lines, "AUTHENTICATE "+auth)...)
}

// hasCapLocked reports whether the server accepted capability name on
// this connection. Call with c.mu held.
func (c *conn) hasCapLocked(name string) bool { return c.caps.has(name) }

// capSet is the capabilities a server accepted on one connection, as
// one bit per capability the transport may request (capBits): a map per
// connection, and then a slice of names, cost every idle connection
// hundreds of bytes. The server acknowledges only what was requested, so
// a name outside capBits is never one the transport asks about: it is
// not kept.
type capSet uint32

// capBits numbers the capabilities the transport may request: wantedCaps
// and sasl.
var capBits = func() map[string]capSet {
	names := slices.Sorted(maps.Keys(wantedCaps))
	names = append(names, "sasl")
	if len(names) > 32 {
		panic("irc: more capabilities than a capSet holds")
	}
	m := make(map[string]capSet, len(names))
	for i, name := range names {
		m[name] = 1 << i
	}
	return m
}()

func (s capSet) has(name string) bool { return s&capBits[name] != 0 }

func (s *capSet) add(name string) { *s |= capBits[name] }

func (s *capSet) del(name string) { *s &^= capBits[name] }

// writeNow writes lines at once, unpaced, on the current connection:
// the negotiation's.
func (c *conn) writeNow(lines ...string) {
	if len(lines) == 0 {
		return
	}
	c.mu.Lock()
	w := c.wire
	c.mu.Unlock()
	if w == nil {
		return
	}
	for _, l := range lines {
		if err := w.writeLine(l); err != nil {
			c.logger().Debug("IRC line not sent", "command", strings.SplitN(l, " ", 2)[0], "err", err)
			return
		}
	}
}
