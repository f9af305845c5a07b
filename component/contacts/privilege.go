package contacts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"strings"
	"sync"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// Privileged entity (XEP-0356): a server may grant the gateway the right
// to change its users' rosters and to send messages on their behalf.
// Prosody's mod_privilege speaks version 2 of the XEP (namespace
// urn:xmpp:privilege:2), ejabberd 23 version 1; both advertise the grant
// with a message from the server's domain right after the component
// stream opened, and again at every new stream. With the roster grant the
// legacy contact list goes into the roster directly (roster.go), without
// a subscription request per contact.

// Namespaces of XEP-0356 (both versions), the roster (RFC 6121) and
// XEP-0297.
const (
	NSPrivilege1 = "urn:xmpp:privilege:1"
	NSPrivilege2 = "urn:xmpp:privilege:2"
	NSRoster     = "jabber:iq:roster"
	NSForward    = "urn:xmpp:forward:0"
)

// Grant is what one server granted the gateway.
type Grant struct {
	NS      string // the namespace the server advertised in, for replies in kind
	Roster  string // "get", "set", "both" or "" (none)
	Message string // "outgoing" or "" (none)
	// MessageChecked says the message grant was found usable on this
	// server (software.go); until then it is not used.
	MessageChecked bool
}

// CanSetRoster reports whether g lets the gateway write the rosters of
// the server's users.
func (g Grant) CanSetRoster() bool { return g.Roster == "set" || g.Roster == "both" }

// ReadGrant reads the XEP-0356 advertisement el carries (a message's
// <privilege/> child, either version), reporting whether it has one.
// Permissions of unknown access or type grant nothing.
func ReadGrant(el *xmltree.Element) (Grant, bool) {
	var priv *xmltree.Element
	for _, ns := range []string{NSPrivilege2, NSPrivilege1} {
		if priv = el.Child(ns, "privilege"); priv != nil {
			break
		}
	}
	if priv == nil {
		return Grant{}, false
	}
	g := Grant{NS: priv.Name.Space}
	for _, perm := range priv.ChildrenNamed(priv.Name.Space, "perm") {
		switch typ := perm.Attr("type"); perm.Attr("access") {
		case "roster":
			if typ == "get" || typ == "set" || typ == "both" {
				g.Roster = typ
			}
		case "message":
			if typ == "outgoing" {
				g.Message = typ
			}
		}
	}
	return g, true
}

// Privileges are the grants of the servers whose users the gateway
// serves, by server domain (lower case). A table across users, under its
// lock; the grants are reset at every new stream, since the server
// advertises again. The zero Privileges grant nothing.
//
// Messages sent on users' behalf come back to the gateway (the server
// routes them on to the legacy contact's JID) and must not reach the
// network again: their IDs are signed with Key (an HMAC of the user and a
// random part), so their echo is known by its ID alone, also after a
// restart, while no user can make an ID that passes for one.
type Privileges struct {
	// Key signs the IDs of messages sent on users' behalf. It must
	// outlive the process (the component derives it from its secret).
	Key []byte

	mu sync.Mutex
	m  map[string]Grant
}

// Reset forgets every grant (a new stream).
func (p *Privileges) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m = nil
}

// Set records what domain's server granted, replacing its last grant.
func (p *Privileges) Set(domain string, g Grant) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]Grant)
	}
	p.m[strings.ToLower(domain)] = g
}

// settle records whether the message grant of domain's server is usable
// (software.go): checked, or withdrawn.
func (p *Privileges) settle(domain string, usable bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.m[strings.ToLower(domain)]
	if !ok || g.Message == "" {
		return // a new stream reset it meanwhile; its advert checks again
	}
	if usable {
		g.MessageChecked = true
	} else {
		g.Message = ""
	}
	p.m[strings.ToLower(domain)] = g
}

// Of returns what domain's server granted.
func (p *Privileges) Of(domain string) Grant {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[strings.ToLower(domain)]
}

// PrivilegedMessage is a message the gateway sends on a user's behalf
// with the message privilege (XEP-0356 §5): the server routes Message as
// if the user had sent it from a client, so their other clients get it
// as a carbon (XEP-0280) and their archive keeps it (XEP-0313).
type PrivilegedMessage struct {
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

// AsUser wraps m, a message from user's bare JID, for user's server with
// the namespace of its grant, from gateway with the stanza ID id; nil
// when the server granted no message privilege, or one not (yet) found
// usable (software.go). m gets a signed ID (and
// origin-id), by which its echo is known (Echo).
func (p *Privileges) AsUser(gateway, user, id string, m *stanza.Message) *PrivilegedMessage {
	domain := user
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		domain = user[i+1:]
	}
	g := p.Of(domain)
	if g.Message != "outgoing" || !g.MessageChecked {
		return nil
	}
	m.ID = p.signedID(user)
	m.OriginID = &stanza.OriginID{ID: m.ID}
	pm := &PrivilegedMessage{ID: id, From: gateway, To: domain}
	pm.Privilege.XMLName = xml.Name{Space: g.NS, Local: "privilege"}
	pm.Privilege.Forwarded.Message = clientMessage{m}
	return pm
}

// signedID is a fresh ID for a message sent on user's behalf: a random
// part, a dot, and the first 16 bytes of HMAC-SHA256(Key, user, random
// part), hex.
func (p *Privileges) signedID(user string) string {
	var r [9]byte
	rand.Read(r[:])
	part := hex.EncodeToString(r[:])
	return part + "." + hex.EncodeToString(p.mac(user, part))
}

func (p *Privileges) mac(user, part string) []byte {
	h := hmac.New(sha256.New, p.Key)
	h.Write([]byte(user + "\x00" + part))
	return h.Sum(nil)[:16]
}

// Echo reports whether s is a message the gateway sent on its sender's
// behalf (AsUser), which the server routed on to the legacy contact's
// JID: the gateway wrote it, so it must not reach the network again. Its
// ID, signed for its sender, tells; without a Key nothing is an echo.
func (p *Privileges) Echo(s *stanza.In) bool {
	if len(p.Key) == 0 || s.Name.Local != "message" || s.From.Resourcepart() != "" {
		return false
	}
	part, sig, ok := strings.Cut(s.ID, ".")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, p.mac(s.From.Bare().String(), part))
}

// Advert takes a server's XEP-0356 advertisement, reporting whether s
// was one. Only a bare server domain whose users may use the gateway is
// believed: a user cannot grant anything, and another server's grant is
// worth nothing to this gateway. The advertisement replaces what the
// server granted before. The stream's goroutine; no I/O.
func (d *Service) Advert(s *stanza.In) bool {
	if s.Name.Local != "message" || s.To.Localpart() != "" || s.To.Resourcepart() != "" {
		return false
	}
	g, ok := ReadGrant(s.Element)
	if !ok {
		return false
	}
	if s.From.Localpart() != "" || s.From.Resourcepart() != "" || !d.core.AllowedUser(s.From) {
		d.core.Dropped(s, "privilege advertised by an entity that is not a served server")
		return true
	}
	domain := s.From.Domainpart()
	d.privs.Set(domain, g)
	d.core.Logger().Info("server privileges", "server", domain, "roster", g.Roster, "message", g.Message, "version", g.NS)
	if g.Message != "" {
		// Checked before use, in the lane of the server's domain (no
		// user's: a user's JID has a local part).
		d.core.Later(domain, func(ctx context.Context) { d.checkMessageGrant(ctx, domain) })
	}
	return true
}

// StreamUp forgets every server's grant: a new stream is up, and the
// servers advertise their grants again. Any goroutine.
func (d *Service) StreamUp() { d.privs.Reset() }

// Echo reports whether s is the server's echo of a message the gateway
// sent on its sender's behalf (Privileges.Echo). The stream's goroutine.
func (d *Service) Echo(s *stanza.In) bool { return d.privs.Echo(s) }

// AsUser wraps m, a message from user's bare JID, to be sent on their
// behalf with their server's message privilege; nil without one
// (Privileges.AsUser). Any goroutine; no I/O.
func (d *Service) AsUser(user, id string, m *stanza.Message) *PrivilegedMessage {
	return d.privs.AsUser(d.core.Domain().String(), user, id, m)
}
