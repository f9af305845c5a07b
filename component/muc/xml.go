package muc

import (
	"encoding/xml"
	"strings"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// Namespaces of the MUC service side (XEP-0045).
const (
	NS      = "http://jabber.org/protocol/muc"
	NSUser  = "http://jabber.org/protocol/muc#user"
	NSAdmin = "http://jabber.org/protocol/muc#admin"
)

// Status codes (XEP-0045 §15.6) the service sends.
const (
	StatusSelf         = 110 // this presence is about you
	StatusNickModified = 210 // the service gave you another nick
	StatusBanned       = 301
	StatusNewNick      = 303
	StatusKicked       = 307
	StatusTechnical    = 333 // removed for technical reasons (session lost)
)

// JoinX is the <x xmlns='…/muc'/> of join presences and their errors.
type JoinX struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/muc x"`
}

// UserX is the <x xmlns='…/muc#user'/> of occupant presences and of
// messages that come through a room.
type UserX struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/muc#user x"`
	Item    *Item
	Status  []Status
}

// Item is an occupant's <item/>, in muc#user presences and muc#admin
// queries alike.
type Item struct {
	XMLName     xml.Name `xml:"item"`
	Affiliation string   `xml:"affiliation,attr,omitempty"`
	Role        string   `xml:"role,attr,omitempty"`
	Nick        string   `xml:"nick,attr,omitempty"`
	JID         string   `xml:"jid,attr,omitempty"`
	Actor       *Actor   `xml:",omitempty"`
	Reason      string   `xml:"reason,omitempty"`
}

// Actor names who kicked or banned an occupant.
type Actor struct {
	XMLName xml.Name `xml:"actor"`
	Nick    string   `xml:"nick,attr"`
}

// Status is a <status code='…'/>.
type Status struct {
	XMLName xml.Name `xml:"status"`
	Code    int      `xml:"code,attr"`
}

// Statuses returns a <status/> per code, in order.
func Statuses(codes ...int) []Status {
	out := make([]Status, len(codes))
	for i, c := range codes {
		out[i] = Status{Code: c}
	}
	return out
}

// AdminQuery is a muc#admin <query/>, the answer to a get.
type AdminQuery struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/muc#admin query"`
	Items   []Item
}

// RoleName is r's XEP-0045 name.
func RoleName(r transports.Role) string {
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

// PresentRole is the role shown for someone in the room: a network that
// has no roles says RoleNone, which in MUC would mean "not in the room".
func PresentRole(r transports.Role) string {
	if r == transports.RoleNone {
		return "participant"
	}
	return RoleName(r)
}

// ParseRole is the role an XEP-0045 name stands for; ok is false for an
// unknown name.
func ParseRole(s string) (r transports.Role, ok bool) {
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

// AffName is a's XEP-0045 name.
func AffName(a transports.Affiliation) string {
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

// ParseAff is the affiliation an XEP-0045 name stands for; ok is false
// for an unknown name.
func ParseAff(s string) (a transports.Affiliation, ok bool) {
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

// AdminChange is one <item/> of a muc#admin set (XEP-0045 §8, §9): whom
// it is about and what changes. Kick is a role change to none.
type AdminChange struct {
	Nick        string
	Reason      string
	Role        transports.Role
	SetRole     bool // Role is given
	Affiliation transports.Affiliation
	SetAff      bool // Affiliation is given
}

// ParseAdminItem reads one <item/> of a muc#admin set sent to room (the
// room's bare JID, as a string). The occupant is named by its nick, or by
// an occupant JID room/nick; legacy networks show no real JIDs. The error,
// a *stanzaerr.Error (bad-request), says what is wrong.
func ParseAdminItem(it *xmltree.Element, room string) (AdminChange, error) {
	ch := AdminChange{Nick: it.Attr("nick"), Reason: it.ChildText("", "reason")}
	if ch.Nick == "" {
		if j := it.Attr("jid"); j != "" {
			if occ, ok := strings.CutPrefix(j, room+"/"); ok {
				ch.Nick = occ
			}
		}
	}
	if ch.Nick == "" {
		return ch, stanzaerr.New("modify", "bad-request", "Name the occupant with the nick attribute; real addresses are not known here.")
	}
	role, aff := it.Attr("role"), it.Attr("affiliation")
	if role == "" && aff == "" {
		return ch, stanzaerr.New("modify", "bad-request", "The item changes neither role nor affiliation.")
	}
	if role != "" {
		r, ok := ParseRole(role)
		if !ok {
			return ch, stanzaerr.New("modify", "bad-request", "Unknown role %q.", role)
		}
		ch.Role, ch.SetRole = r, true
	}
	if aff != "" {
		a, ok := ParseAff(aff)
		if !ok {
			return ch, stanzaerr.New("modify", "bad-request", "Unknown affiliation %q.", aff)
		}
		ch.Affiliation, ch.SetAff = a, true
	}
	return ch, nil
}
