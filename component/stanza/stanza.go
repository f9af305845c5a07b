package stanza

import (
	"encoding/xml"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Namespaces of the payload elements of this package.
const (
	NSNick      = "http://jabber.org/protocol/nick"
	NSDelay     = "urn:xmpp:delay"
	NSSID       = "urn:xmpp:sid:0"
	NSChat      = "http://jabber.org/protocol/chatstates"
	NSOOB       = "jabber:x:oob"
	NSCaps      = "http://jabber.org/protocol/caps"
	NSReactions = "urn:xmpp:reactions:0"
	NSReply     = "urn:xmpp:reply:0"
	NSHints     = "urn:xmpp:hints"
)

// IQ is an IQ the gateway sends: a request of its own or the answer to
// one. Payload is the single child element; Error is set on type error.
type IQ struct {
	XMLName xml.Name        `xml:"iq"`
	ID      string          `xml:"id,attr"`
	Type    string          `xml:"type,attr"`
	From    string          `xml:"from,attr,omitempty"`
	To      string          `xml:"to,attr,omitempty"`
	Payload any             `xml:",omitempty"`
	Error   *stanzaerr.Wire `xml:",omitempty"`
}

// Message is a message the gateway sends. Extra holds the payload
// elements that have no field of their own (chat state, reactions,
// links, hints, …), in the order they are written.
type Message struct {
	XMLName  xml.Name        `xml:"message"`
	ID       string          `xml:"id,attr,omitempty"`
	Type     string          `xml:"type,attr,omitempty"`
	From     string          `xml:"from,attr,omitempty"`
	To       string          `xml:"to,attr"`
	Lang     string          `xml:"xml:lang,attr,omitempty"`
	Subject  string          `xml:"subject,omitempty"`
	Body     string          `xml:"body,omitempty"`
	Thread   string          `xml:"thread,omitempty"`
	Nick     *Nick           `xml:",omitempty"`
	Delay    *Delay          `xml:",omitempty"`
	StanzaID *StanzaID       `xml:",omitempty"`
	OriginID *OriginID       `xml:",omitempty"`
	Error    *stanzaerr.Wire `xml:",omitempty"`
	Extra    []any           `xml:",omitempty"`
}

// Presence is a presence the gateway sends. Extra holds payload elements
// such as a MUC <x/>.
type Presence struct {
	XMLName  xml.Name        `xml:"presence"`
	ID       string          `xml:"id,attr,omitempty"`
	Type     string          `xml:"type,attr,omitempty"`
	From     string          `xml:"from,attr,omitempty"`
	To       string          `xml:"to,attr"`
	Show     string          `xml:"show,omitempty"`
	Status   string          `xml:"status,omitempty"`
	Priority string          `xml:"priority,omitempty"`
	Caps     *Caps           `xml:",omitempty"`
	Nick     *Nick           `xml:",omitempty"`
	Error    *stanzaerr.Wire `xml:",omitempty"`
	Extra    []any           `xml:",omitempty"`
}

// Nick is a user nickname (XEP-0172): the legacy sender's name where the
// address alone does not show it.
type Nick struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/nick nick"`
	Nick    string   `xml:",chardata"`
}

// Delay marks a message as sent earlier (XEP-0203): history, and what was
// kept while the user was away. Stamp is in XEP-0082 date-time form.
type Delay struct {
	XMLName xml.Name `xml:"urn:xmpp:delay delay"`
	From    string   `xml:"from,attr,omitempty"`
	Stamp   string   `xml:"stamp,attr"`
}

// StanzaID is the ID a message has at the entity named by By (XEP-0359):
// the legacy network's or the archive's ID, which corrections, replies
// and MAM refer to.
type StanzaID struct {
	XMLName xml.Name `xml:"urn:xmpp:sid:0 stanza-id"`
	ID      string   `xml:"id,attr"`
	By      string   `xml:"by,attr"`
}

// OriginID is the ID the sender gave a message (XEP-0359), echoed back so
// a client recognises its own message.
type OriginID struct {
	XMLName xml.Name `xml:"urn:xmpp:sid:0 origin-id"`
	ID      string   `xml:"id,attr"`
}

// Caps announces entity capabilities (XEP-0115) in a presence.
type Caps struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/caps c"`
	Hash    string   `xml:"hash,attr"`
	Node    string   `xml:"node,attr"`
	Ver     string   `xml:"ver,attr"`
}

// Subject is a <subject/> that is written even when empty: a room's
// first subject message ends the join (XEP-0045 §7.2.15). Message.Subject
// is left out when empty, so a room's subject goes in Extra as a Subject.
type Subject struct {
	XMLName xml.Name `xml:"subject"`
	Text    string   `xml:",chardata"`
}

// ChatState is a chat state notification (XEP-0085); XMLName's local
// name is the state (see ChatStateName), in namespace NSChat.
type ChatState struct {
	XMLName xml.Name
}

// ChatStateName is the element name of s (XEP-0085): composing, paused,
// or active for every other state.
func ChatStateName(s transports.ChatState) string {
	switch s {
	case transports.Composing:
		return "composing"
	case transports.Paused:
		return "paused"
	}
	return "active"
}

// Reactions is the whole set of reactions of one sender to the message
// with stanza ID ID (XEP-0444); an empty set withdraws them all.
type Reactions struct {
	XMLName   xml.Name `xml:"urn:xmpp:reactions:0 reactions"`
	ID        string   `xml:"id,attr"`
	Reactions []string `xml:"reaction"`
}

// Reply says which message a message answers (XEP-0461): ID is that
// message's stanza ID, To its sender when known.
type Reply struct {
	XMLName xml.Name `xml:"urn:xmpp:reply:0 reply"`
	ID      string   `xml:"id,attr"`
	To      string   `xml:"to,attr,omitempty"`
}

// DirectInvite invites the recipient to the room JID (XEP-0249), with
// Reason for the user to read.
type DirectInvite struct {
	XMLName xml.Name `xml:"jabber:x:conference x"`
	JID     string   `xml:"jid,attr"`
	Reason  string   `xml:"reason,attr,omitempty"`
}

// Hint is a message processing hint (XEP-0334); XMLName's local name is
// the hint, in namespace NSHints.
type Hint struct {
	XMLName xml.Name
}

// StoreHint asks archives to keep a message they would otherwise skip
// (one with no body, such as a reaction).
func StoreHint() *Hint { return &Hint{XMLName: xml.Name{Space: NSHints, Local: "store"}} }

// NoStoreHint asks archives not to keep a message (a chat state, for one).
func NoStoreHint() *Hint { return &Hint{XMLName: xml.Name{Space: NSHints, Local: "no-store"}} }

// OOB is an out-of-band link (XEP-0066): a file shared on the legacy
// network, by its URL and an optional description.
type OOB struct {
	XMLName xml.Name `xml:"jabber:x:oob x"`
	URL     string   `xml:"url"`
	Desc    string   `xml:"desc,omitempty"`
}
