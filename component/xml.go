package component

import (
	"encoding/xml"
	"fmt"

	"github.com/switchboard-im/switchboard/component/stanza"
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
	nsCaps     = stanza.NSCaps
	nsMUC      = "http://jabber.org/protocol/muc"
	nsNick     = stanza.NSNick
	nsDelay    = stanza.NSDelay
	nsReceipts = "urn:xmpp:receipts"
	nsSID      = stanza.NSSID
	nsChat     = stanza.NSChat
	nsOOB      = stanza.NSOOB
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
