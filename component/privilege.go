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
	// injected are the messages sent on users' behalf (asUser) not yet
	// seen coming back, by user and ID; bounded by maxInjected.
	injected map[string]bool
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

// nsForward is XEP-0297's namespace.
const nsForward = "urn:xmpp:forward:0"

// privilegedMessage is a message the gateway sends on a user's behalf with
// the message privilege (XEP-0356 §5): the server routes Message as if
// the user had sent it from a client, so their other clients get it as a
// carbon (XEP-0280) and their archive keeps it (XEP-0313).
type privilegedMessage struct {
	XMLName   xml.Name       `xml:"message"`
	ID        string         `xml:"id,attr"`
	From      string         `xml:"from,attr"`
	To        string         `xml:"to,attr"`
	Privilege privilegeInner `xml:"privilege"`
}

type privilegeInner struct {
	XMLName   xml.Name // the namespace the server advertised, local name privilege
	Forwarded struct {
		XMLName xml.Name      `xml:"urn:xmpp:forward:0 forwarded"`
		Message clientMessage `xml:"message"`
	}
}

// clientMessage writes a message in the client namespace, as a forwarded
// stanza must be (XEP-0297), whatever namespace it sits in.
type clientMessage struct{ *stanza.Message }

func (m clientMessage) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	return e.EncodeElement(m.Message, xml.StartElement{Name: xml.Name{Space: "jabber:client", Local: "message"}})
}

// asUser wraps m, a message from user's bare JID, for user's server with
// the namespace of its grant; nil when the server granted no message
// privilege.
func (c *Component) asUser(user string, m *stanza.Message) *privilegedMessage {
	domain := user
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		domain = user[i+1:]
	}
	g := c.privs.of(domain)
	if g.message != "outgoing" {
		return nil
	}
	p := &privilegedMessage{ID: newID(), From: c.domain.String(), To: domain}
	p.Privilege.XMLName = xml.Name{Space: g.ns, Local: "privilege"}
	p.Privilege.Forwarded.Message = clientMessage{m}
	c.privs.sent(user, m.ID)
	return p
}

// maxInjected bounds the IDs of messages sent on users' behalf that the
// gateway waits to see come back.
const maxInjected = 10000

// sent records that the server will route the message with id, sent on
// user's behalf, back to the gateway.
func (p *privileges) sent(user, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.injected == nil {
		p.injected = make(map[string]bool)
	}
	if len(p.injected) >= maxInjected {
		for k := range p.injected {
			delete(p.injected, k)
			break
		}
	}
	p.injected[user+"\x00"+id] = true
}

// echoOfOwn reports whether s is a message the gateway sent on its
// sender's behalf, which the server routed on to the legacy contact's
// JID: the gateway wrote it, so it must not reach the network again.
func (c *Component) echoOfOwn(s *stanza.In) bool {
	if s.Name.Local != "message" || s.ID == "" || s.From.Resourcepart() != "" {
		return false
	}
	c.privs.mu.Lock()
	defer c.privs.mu.Unlock()
	k := s.From.Bare().String() + "\x00" + s.ID
	if !c.privs.injected[k] {
		return false
	}
	delete(c.privs.injected, k)
	return true
}
