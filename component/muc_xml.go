package component

import (
	"encoding/xml"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/transports"
)

// Namespaces of the MUC service side (package muc owns its elements) and
// of the message features rooms use.
const (
	nsMUCUser   = muc.NSUser
	nsMUCAdmin  = muc.NSAdmin
	nsRSM       = "http://jabber.org/protocol/rsm"
	nsReactions = "urn:xmpp:reactions:0"
	nsReply     = "urn:xmpp:reply:0"
	nsHints     = "urn:xmpp:hints"
)

// subjectElem is a <subject/> that is written even when empty: a room's
// first subject message ends the join (XEP-0045 §7.2.15).
type subjectElem struct {
	XMLName xml.Name `xml:"subject"`
	Text    string   `xml:",chardata"`
}

type chatStateElem struct {
	XMLName xml.Name
}

type reactionsElem struct {
	XMLName   xml.Name `xml:"urn:xmpp:reactions:0 reactions"`
	ID        string   `xml:"id,attr"`
	Reactions []string `xml:"reaction"`
}

type replyElem struct {
	XMLName xml.Name `xml:"urn:xmpp:reply:0 reply"`
	ID      string   `xml:"id,attr"`
	To      string   `xml:"to,attr,omitempty"`
}

type hintElem struct {
	XMLName xml.Name
}

func storeHint() *hintElem   { return &hintElem{XMLName: xml.Name{Space: nsHints, Local: "store"}} }
func noStoreHint() *hintElem { return &hintElem{XMLName: xml.Name{Space: nsHints, Local: "no-store"}} }

func chatStateName(s transports.ChatState) string {
	switch s {
	case transports.Composing:
		return "composing"
	case transports.Paused:
		return "paused"
	}
	return "active"
}
