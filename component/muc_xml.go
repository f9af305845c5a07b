package component

import (
	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/component/stanza"
)

// Namespaces of the MUC service side (package muc owns its elements) and
// of the message features rooms use.
const (
	nsMUCUser   = muc.NSUser
	nsMUCAdmin  = muc.NSAdmin
	nsRSM       = "http://jabber.org/protocol/rsm"
	nsReactions = stanza.NSReactions
	nsReply     = stanza.NSReply
	nsHints     = stanza.NSHints
)
