package component

import (
	"encoding/xml"

	"github.com/switchboard-im/switchboard/transports"
)

// Namespaces of the MUC service side and of the message features rooms use.
const (
	nsMUCUser   = "http://jabber.org/protocol/muc#user"
	nsMUCAdmin  = "http://jabber.org/protocol/muc#admin"
	nsRSM       = "http://jabber.org/protocol/rsm"
	nsReactions = "urn:xmpp:reactions:0"
	nsReply     = "urn:xmpp:reply:0"
	nsHints     = "urn:xmpp:hints"
)

// MUC status codes (XEP-0045 §15.6).
const (
	statusSelf         = 110 // this presence is about you
	statusNickModified = 210 // the service gave you another nick
	statusBanned       = 301
	statusNewNick      = 303
	statusKicked       = 307
	statusTechnical    = 333 // removed for technical reasons (session lost)
)

// mucJoinX is the <x xmlns='…/muc'/> of join presences and their errors.
type mucJoinX struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/muc x"`
}

// mucUserX is the <x xmlns='…/muc#user'/> of occupant presences.
type mucUserX struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/muc#user x"`
	Item    *mucItem
	Status  []mucStatus
}

type mucItem struct {
	XMLName     xml.Name  `xml:"item"`
	Affiliation string    `xml:"affiliation,attr,omitempty"`
	Role        string    `xml:"role,attr,omitempty"`
	Nick        string    `xml:"nick,attr,omitempty"`
	JID         string    `xml:"jid,attr,omitempty"`
	Actor       *mucActor `xml:",omitempty"`
	Reason      string    `xml:"reason,omitempty"`
}

type mucActor struct {
	XMLName xml.Name `xml:"actor"`
	Nick    string   `xml:"nick,attr"`
}

type mucStatus struct {
	XMLName xml.Name `xml:"status"`
	Code    int      `xml:"code,attr"`
}

func statuses(codes ...int) []mucStatus {
	out := make([]mucStatus, len(codes))
	for i, c := range codes {
		out[i] = mucStatus{Code: c}
	}
	return out
}

// mucAdminQuery answers a muc#admin get.
type mucAdminQuery struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/muc#admin query"`
	Items   []mucItem
}

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

func roleName(r transports.Role) string {
	switch r {
	case transports.RoleVisitor:
		return "visitor"
	case transports.RoleModerator:
		return "moderator"
	case transports.RoleNone:
		return "none"
	}
	return "participant"
}

// presentRole is the role shown for someone in the room: a network that
// has no roles says RoleNone, which in MUC would mean "not in the room".
func presentRole(r transports.Role) string {
	if r == transports.RoleNone {
		return "participant"
	}
	return roleName(r)
}

func parseRole(s string) (transports.Role, bool) {
	switch s {
	case "none":
		return transports.RoleNone, true
	case "visitor":
		return transports.RoleVisitor, true
	case "participant":
		return transports.RoleParticipant, true
	case "moderator":
		return transports.RoleModerator, true
	}
	return 0, false
}

func affName(a transports.Affiliation) string {
	switch a {
	case transports.AffiliationMember:
		return "member"
	case transports.AffiliationAdmin:
		return "admin"
	case transports.AffiliationOwner:
		return "owner"
	case transports.AffiliationOutcast:
		return "outcast"
	}
	return "none"
}

func parseAff(s string) (transports.Affiliation, bool) {
	switch s {
	case "none":
		return transports.AffiliationNone, true
	case "member":
		return transports.AffiliationMember, true
	case "admin":
		return transports.AffiliationAdmin, true
	case "owner":
		return transports.AffiliationOwner, true
	case "outcast":
		return transports.AffiliationOutcast, true
	}
	return 0, false
}

func chatStateName(s transports.ChatState) string {
	switch s {
	case transports.Composing:
		return "composing"
	case transports.Paused:
		return "paused"
	}
	return "active"
}
