package component

import (
	"context"
	"encoding/xml"
	"strings"
	"sync"

	"github.com/switchboard-im/switchboard/component/stanza"
)

// Privileged entity (XEP-0356): a server may grant the gateway the right
// to change its users' rosters and to send messages on their behalf.
// Prosody's mod_privilege speaks version 2 of the XEP (namespace
// urn:xmpp:privilege:2), ejabberd 23 version 1; both advertise the grant
// with a message from the server's domain right after the component
// stream opened, and again at every new stream. With the roster grant the
// legacy contact list goes into the roster directly (roster.go), without
// a subscription request per contact.

// Namespaces of XEP-0356 (both versions) and XEP-0297.
const (
	nsPrivilege1 = "urn:xmpp:privilege:1"
	nsPrivilege2 = "urn:xmpp:privilege:2"
	nsRoster     = "jabber:iq:roster"
)

// grant is what one server granted the gateway.
type grant struct {
	ns      string // the namespace the server advertised in, for replies in kind
	roster  string // "get", "set", "both" or "" (none)
	message string // "outgoing" or "" (none)
}

// privileges are the grants of the servers whose users the gateway
// serves, by server domain (lower case). A table across users, under mu;
// reset at every new stream, since the server advertises again.
type privileges struct {
	mu sync.Mutex
	m  map[string]grant
}

func (p *privileges) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m = nil
}

func (p *privileges) set(domain string, g grant) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]grant)
	}
	p.m[strings.ToLower(domain)] = g
}

func (p *privileges) of(domain string) grant {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[strings.ToLower(domain)]
}

// canSetRoster reports whether the gateway may write the rosters of
// domain's users.
func (p *privileges) canSetRoster(domain string) bool {
	r := p.of(domain).roster
	return r == "set" || r == "both"
}

// privilegeAdvert takes a server's XEP-0356 advertisement, reporting
// whether s was one. Only a bare server domain whose users may use the
// gateway is believed: a user cannot grant anything, and another server's
// grant is worth nothing to this gateway. The advertisement replaces what
// the server granted before.
func (c *Component) privilegeAdvert(s *stanza.In) bool {
	if s.Name.Local != "message" || s.To.Localpart() != "" || s.To.Resourcepart() != "" {
		return false
	}
	var priv *node
	for _, ns := range []string{nsPrivilege2, nsPrivilege1} {
		if priv = s.Child(ns, "privilege"); priv != nil {
			break
		}
	}
	if priv == nil {
		return false
	}
	if s.From.Localpart() != "" || s.From.Resourcepart() != "" || !c.allowedUser(s.From) {
		c.dropped(s.Element, "privilege advertised by an entity that is not a served server")
		return true
	}
	g := grant{ns: priv.Name.Space}
	for _, perm := range priv.ChildrenNamed(priv.Name.Space, "perm") {
		switch typ := perm.Attr("type"); perm.Attr("access") {
		case "roster":
			if typ == "get" || typ == "set" || typ == "both" {
				g.roster = typ
			}
		case "message":
			if typ == "outgoing" {
				g.message = typ
			}
		}
	}
	c.privs.set(s.From.Domainpart(), g)
	c.log.Info("server privileges", "server", s.From.Domainpart(), "roster", g.roster, "message", g.message, "version", g.ns)
	return true
}

// rosterQuery is a roster set (RFC 6121 §2.3) the gateway sends with the
// roster privilege: one item, added, changed or (subscription "remove")
// removed.
type rosterQuery struct {
	XMLName xml.Name   `xml:"jabber:iq:roster query"`
	Item    rosterItem `xml:"item"`
}

type rosterItem struct {
	JID          string   `xml:"jid,attr"`
	Name         string   `xml:"name,attr,omitempty"`
	Subscription string   `xml:"subscription,attr"`
	Groups       []string `xml:"group,omitempty"`
}

// setRosterItem writes item into user's roster with the roster privilege
// and waits for the server's answer. It may block until ctx ends; lane
// work.
func (c *Component) setRosterItem(ctx context.Context, user string, item rosterItem) error {
	_, err := c.iqRequest(ctx, "set", user, &rosterQuery{Item: item})
	return err
}
