package stanza

import "encoding/xml"

// NSReceipts is the namespace of message delivery receipts (XEP-0184).
const NSReceipts = "urn:xmpp:receipts"

// Received is a delivery receipt (XEP-0184) for the message with stanza
// id ID.
type Received struct {
	XMLName xml.Name `xml:"urn:xmpp:receipts received"`
	ID      string   `xml:"id,attr"`
}
