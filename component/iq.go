package component

import (
	"encoding/xml"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/component/vcard"
)

func (c *Component) handleIQ(s *stanza.In) {
	if s.Type != "get" && s.Type != "set" {
		return // results are matched by the session; stray ones are ignored
	}
	q := s.First()
	if q == nil || len(s.Children) != 1 {
		c.replyError(s.Element, stanzaerr.New("modify", "bad-request", "An IQ must have exactly one child element."))
		return
	}
	toGateway := s.To.Localpart() == "" && s.To.Resourcepart() == ""
	ns := q.Name.Space

	// Discovery and ping answer everyone: that is how a user learns
	// whether they may register.
	switch {
	case ns == nsDiscoInf && q.Name.Local == "query" && s.Type == "get":
		c.discoInfo(s, q)
		return
	case ns == nsDiscoIt && q.Name.Local == "query" && s.Type == "get":
		c.discoItems(s, q)
		return
	case ns == nsPing && q.Name.Local == "ping" && s.Type == "get" && toGateway:
		c.result(s, nil)
		return
	case ns == nsVersion && q.Name.Local == "query" && s.Type == "get" && toGateway:
		c.result(s, &versionQuery{Name: "Switchboard", Version: c.cfg.Version})
		return
	}

	if !c.allowedUser(s.From) {
		c.replyError(s.Element, c.forbidden())
		return
	}
	if id, ok := c.isRoom(s.To); ok {
		switch {
		case vcard.IsRequest(q.Name) && s.Type == "get" && s.To.Resourcepart() != "" && c.occupantProfiles():
			c.occupantVCard(s, id) // message.go
		case ns == nsPing && q.Name.Local == "ping" && s.Type == "get":
			c.muc.SelfPing(s, id)
		case ns == nsMUCAdmin && q.Name.Local == "query" && s.To.Resourcepart() == "":
			c.mucAdmin(s, q, id)
		case ns == stanza.NSModerate && q.Name.Local == "moderate" && s.Type == "set" && s.To.Resourcepart() == "":
			c.admit(s, func() { c.muc.Moderate(c.ctx(), s, q, id) })
		case ns == nsMAM && c.cfg.Archive != nil && s.To.Resourcepart() == "":
			c.admit(s, func() { c.muc.MAM(c.ctx(), s, q, id) })
		default:
			c.replyError(s.Element, stanzaerr.New("cancel", "service-unavailable", "%s is not supported here.", q.Name.Space))
		}
		return
	}
	switch {
	case ns == nsRegister && q.Name.Local == "query" && toGateway:
		c.handleRegister(s, q)
	case ns == nsGateway && q.Name.Local == "query" && toGateway:
		c.handleGateway(s, q)
	case ns == nsCommands && q.Name.Local == "command" && s.Type == "set" && toGateway:
		c.commands.Handle(s, q)
	case vcard.IsRequest(q.Name) && s.Type == "get" && !toGateway && c.netCaps().Profiles:
		c.contacts.VCard(s)
	default:
		c.replyError(s.Element, stanzaerr.New("cancel", "service-unavailable", "%s is not supported here.", q.Name.Space))
	}
}

// versionQuery is the XEP-0092 answer. It has no <os/>: the version
// answers anyone, and the host's details are nobody's business.
type versionQuery struct {
	XMLName xml.Name `xml:"jabber:iq:version query"`
	Name    string   `xml:"name"`
	Version string   `xml:"version"`
}

// XEP-0100 §6.3: jabber:iq:gateway translates a legacy address to a JID.
type gatewayQuery struct {
	XMLName xml.Name `xml:"jabber:iq:gateway query"`
	Desc    string   `xml:"desc,omitempty"`
	Prompt  string   `xml:"prompt,omitempty"`
	JID     string   `xml:"jid,omitempty"`
}

func (c *Component) handleGateway(s *stanza.In, q *node) {
	if s.Type == "get" {
		c.result(s, &gatewayQuery{
			Desc:   "Enter the " + c.net.Identity().Name + " address of the contact you would like to add.",
			Prompt: "Contact address",
		})
		return
	}
	prompt := q.ChildText(nsGateway, "prompt")
	if prompt == "" {
		c.replyError(s.Element, stanzaerr.New("modify", "bad-request", "The <prompt/> element with the legacy address is missing."))
		return
	}
	id, nerr := c.normalizeAddress(prompt) // hooks_register.go
	if nerr != nil {
		c.replyError(s.Element, nerr)
		return
	}
	j, err := c.legacyJID(id)
	if err != nil {
		c.replyError(s.Element, stanzaerr.New("modify", "jid-malformed", "%q cannot be turned into an address.", prompt))
		return
	}
	c.result(s, &gatewayQuery{JID: j.String(), Prompt: j.String()})
}
