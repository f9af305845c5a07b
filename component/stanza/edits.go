package stanza

import "encoding/xml"

// Namespaces of corrections (XEP-0308), retractions (XEP-0424),
// moderation (XEP-0425) and fallback indication (XEP-0428).
const (
	NSCorrect  = "urn:xmpp:message-correct:0"
	NSRetract  = "urn:xmpp:message-retract:1"
	NSModerate = "urn:xmpp:message-moderate:1"
	NSFallback = "urn:xmpp:fallback:0"
)

// Replace marks a message as the correction of the message with ID ID
// (XEP-0308).
type Replace struct {
	XMLName xml.Name `xml:"urn:xmpp:message-correct:0 replace"`
	ID      string   `xml:"id,attr"`
}

// Retract withdraws the message with ID ID (XEP-0424); Moderated and
// Reason are set for a moderator's retraction (XEP-0425).
type Retract struct {
	XMLName   xml.Name   `xml:"urn:xmpp:message-retract:1 retract"`
	ID        string     `xml:"id,attr"`
	Moderated *Moderated `xml:",omitempty"`
	Reason    string     `xml:"reason,omitempty"`
}

// Moderated says a moderator retracted the message, By being the
// moderator's occupant JID when known (XEP-0425).
type Moderated struct {
	XMLName xml.Name `xml:"urn:xmpp:message-moderate:1 moderated"`
	By      string   `xml:"by,attr,omitempty"`
}

// Fallback marks the body as a fallback for clients without the feature
// of namespace For (XEP-0428).
type Fallback struct {
	XMLName xml.Name `xml:"urn:xmpp:fallback:0 fallback"`
	For     string   `xml:"for,attr"`
}

// CorrectionMarker starts a correction that a network without edits gets
// as a new message, and a legacy edit the user's client cannot apply (its
// original is unknown), so that nobody takes it for a new remark.
const CorrectionMarker = "✎ "

// RetractFallback is the body of a retraction for clients without
// XEP-0424 support.
const RetractFallback = "[deleted a message; your client does not support retractions]"
