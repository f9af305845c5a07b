package component

import (
	"encoding/xml"
	"fmt"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// Namespaces the component speaks.
const (
	nsStanzas  = stanzaerr.NS
	nsDiscoInf = "http://jabber.org/protocol/disco#info"
	nsDiscoIt  = "http://jabber.org/protocol/disco#items"
	nsRegister = "jabber:iq:register"
	nsGateway  = "jabber:iq:gateway"
	nsPing     = "urn:xmpp:ping"
	nsVersion  = "jabber:iq:version"
	nsCommands = "http://jabber.org/protocol/commands"
	nsData     = "jabber:x:data"
	nsCaps     = "http://jabber.org/protocol/caps"
	nsMUC      = "http://jabber.org/protocol/muc"
	nsNick     = "http://jabber.org/protocol/nick"
	nsDelay    = "urn:xmpp:delay"
	nsReceipts = "urn:xmpp:receipts"
	nsSID      = "urn:xmpp:sid:0"
	nsChat     = "http://jabber.org/protocol/chatstates"
	nsOOB      = "jabber:x:oob"
)

// node is a parsed incoming stanza or payload.
type node = xmltree.Element

// rawXML is XML written verbatim into an outgoing stanza; only ever built by
// encoding/xml (never from user text).
type rawXML struct {
	Inner []byte `xml:",innerxml"`
}

// mustMarshal encodes v; the values passed are the component's own structs,
// so an error is a programming error.
func mustMarshal(v any) []byte {
	b, err := xml.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("component: marshal %T: %v", v, err))
	}
	return b
}

// outIQ is an IQ the component sends.
type outIQ struct {
	XMLName xml.Name        `xml:"iq"`
	ID      string          `xml:"id,attr"`
	Type    string          `xml:"type,attr"`
	From    string          `xml:"from,attr,omitempty"`
	To      string          `xml:"to,attr,omitempty"`
	Payload any             `xml:",omitempty"`
	Error   *stanzaerr.Wire `xml:",omitempty"`
}

// outMessage is a message the component sends.
type outMessage struct {
	XMLName  xml.Name        `xml:"message"`
	ID       string          `xml:"id,attr,omitempty"`
	Type     string          `xml:"type,attr,omitempty"`
	From     string          `xml:"from,attr,omitempty"`
	To       string          `xml:"to,attr"`
	Lang     string          `xml:"xml:lang,attr,omitempty"`
	Subject  string          `xml:"subject,omitempty"`
	Body     string          `xml:"body,omitempty"`
	Thread   string          `xml:"thread,omitempty"`
	Nick     *nickElem       `xml:",omitempty"`
	Delay    *delayElem      `xml:",omitempty"`
	StanzaID *stanzaID       `xml:",omitempty"`
	OriginID *originID       `xml:",omitempty"`
	Error    *stanzaerr.Wire `xml:",omitempty"`
	Extra    []any           `xml:",omitempty"`
}

type nickElem struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/nick nick"`
	Nick    string   `xml:",chardata"`
}

type delayElem struct {
	XMLName xml.Name `xml:"urn:xmpp:delay delay"`
	From    string   `xml:"from,attr,omitempty"`
	Stamp   string   `xml:"stamp,attr"`
}

type stanzaID struct {
	XMLName xml.Name `xml:"urn:xmpp:sid:0 stanza-id"`
	ID      string   `xml:"id,attr"`
	By      string   `xml:"by,attr"`
}

type originID struct {
	XMLName xml.Name `xml:"urn:xmpp:sid:0 origin-id"`
	ID      string   `xml:"id,attr"`
}

// outPresence is a presence the component sends.
type outPresence struct {
	XMLName  xml.Name        `xml:"presence"`
	ID       string          `xml:"id,attr,omitempty"`
	Type     string          `xml:"type,attr,omitempty"`
	From     string          `xml:"from,attr,omitempty"`
	To       string          `xml:"to,attr"`
	Show     string          `xml:"show,omitempty"`
	Status   string          `xml:"status,omitempty"`
	Priority string          `xml:"priority,omitempty"`
	Caps     *capsElem       `xml:",omitempty"`
	Nick     *nickElem       `xml:",omitempty"`
	Error    *stanzaerr.Wire `xml:",omitempty"`
	Extra    []any           `xml:",omitempty"`
}

type capsElem struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/caps c"`
	Hash    string   `xml:"hash,attr"`
	Node    string   `xml:"node,attr"`
	Ver     string   `xml:"ver,attr"`
}
