package stanza

import (
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// In is a stanza the gateway received, its addresses parsed and checked
// by the router: From is a valid, non-empty JID outside the gateway's
// domains, To a valid JID of the gateway's domain. Element is the whole
// stanza as parsed (its content not yet checked beyond valid UTF-8); ID
// and Type are its attributes as sent, possibly empty.
type In struct {
	*xmltree.Element
	From, To jid.JID
	ID, Type string
}
