package muc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/transports"
)

// The stanzas the service writes to the user's resources in rooms, built
// from the room's state and the legacy events; no I/O, no state.

// occupantPresence is another occupant's presence, as to sees it.
func occupantPresence(r *Room, o Occupant, to jid.JID) *stanza.Presence {
	p := &stanza.Presence{From: r.OccupantJID(o.Nick), To: to.String(), Show: o.Presence.Show.String(), Status: o.Presence.Status}
	p.Extra = []any{&UserX{Item: &Item{Affiliation: AffName(o.Affiliation), Role: PresentRole(o.Role)}}}
	p.Extra = withOccupantID(p.Extra, r, o.OccupantID, o.Nick)
	if h := hatsOf(r, o.Hats); h != nil {
		p.Extra = append(p.Extra, h)
	}
	return p
}

// NSHats is the namespace of XEP-0317 hats.
const NSHats = "urn:xmpp:hats:0"

// HatsElem is XEP-0317's <hats/>: an occupant's named roles.
type HatsElem struct {
	XMLName xml.Name  `xml:"urn:xmpp:hats:0 hats"`
	Hats    []HatElem `xml:"hat"`
}

// HatElem is one hat: URI names it for good, Title for people, Hue (an
// XEP-0392 angle) colours it where the network gave a colour.
type HatElem struct {
	URI   string `xml:"uri,attr"`
	Title string `xml:"title,attr"`
	Hue   string `xml:"hue,attr,omitempty"`
}

// maxHats bounds the hats one presence carries.
const maxHats = 20

// hatsOf is the <hats/> of an occupant with hats, nil for none: each
// hat's URI is the room's JID with the role's ID as a query (hats are
// the room's), its title cut to a line.
func hatsOf(r *Room, hats []transports.Hat) *HatsElem {
	if len(hats) == 0 {
		return nil
	}
	h := &HatsElem{}
	for _, hat := range hats[:min(len(hats), maxHats)] {
		e := HatElem{URI: "xmpp:" + r.JID.String() + "?hat=" + url.QueryEscape(hat.ID), Title: stanza.ShortName(hat.Title, 100)}
		if hat.Hue >= 0 && hat.Hue < 360 {
			e.Hue = strconv.FormatFloat(hat.Hue, 'f', 1, 64)
		}
		h.Hats = append(h.Hats, e)
	}
	return h
}

// NSOccupantID is the namespace of XEP-0421 occupant identifiers.
const NSOccupantID = "urn:xmpp:occupant-id:0"

// OccupantIDElem is XEP-0421's <occupant-id/>.
type OccupantIDElem struct {
	XMLName xml.Name `xml:"urn:xmpp:occupant-id:0 occupant-id"`
	ID      string   `xml:"id,attr"`
}

// occupantIDOf is the occupant-id of the member the network knows as
// occupantID (else by nick) in r, nil when r's network gives no occupant
// IDs: a hash of the room and that identity, the same for every user of
// the gateway who shares the room, telling nothing of the legacy
// identity, and kept across nick changes where the network gave an ID.
func occupantIDOf(r *Room, occupantID, nick string) *OccupantIDElem {
	if !r.OccupantIDs {
		return nil
	}
	key := "id:" + occupantID
	if occupantID == "" {
		key = "nick:" + strings.ToLower(nick)
	}
	sum := sha256.Sum256([]byte(r.JID.String() + "\x00" + key))
	return &OccupantIDElem{ID: base64.RawURLEncoding.EncodeToString(sum[:18])}
}

// selfPresence is the user's own occupant presence (status 110, and
// codes), as their resource to sees it.
func selfPresence(r *Room, to jid.JID, codes ...int) *stanza.Presence {
	p := &stanza.Presence{From: r.OccupantJID(r.Nick), To: to.String(), Show: r.Presence.Show.String(), Status: r.Presence.Status}
	p.Extra = []any{&UserX{
		Item:   &Item{Affiliation: AffName(r.Affiliation), Role: PresentRole(r.Role)},
		Status: Statuses(append([]int{StatusSelf}, codes...)...),
	}}
	p.Extra = withOccupantID(p.Extra, r, r.OccupantID, r.Nick)
	return p
}

// selfUnavailable tells a resource it is out of the room.
func selfUnavailable(r *Room, nick string, to jid.JID, status string, item *Item, codes ...int) *stanza.Presence {
	if item == nil {
		item = &Item{}
	}
	item.Affiliation, item.Role = AffName(r.Affiliation), "none"
	return &stanza.Presence{Type: "unavailable", From: r.OccupantJID(nick), To: to.String(), Status: status,
		Extra: []any{&UserX{Item: item, Status: Statuses(append([]int{StatusSelf}, codes...)...)}}}
}

// subjectMessage is the room's subject for to: from the occupant who set
// it (else the room), with a delay stamp when the network dated it.
func subjectMessage(r *Room, to jid.JID) *stanza.Message {
	subject := r.Subject()
	from := r.JID.String()
	if subject.Nick != "" {
		from = r.OccupantJID(subject.Nick)
	}
	m := &stanza.Message{Type: "groupchat", ID: newID(), From: from, To: to.String(), Extra: []any{&stanza.Subject{Text: subject.Subject}}}
	if !subject.Time.IsZero() {
		m.Delay = &stanza.Delay{From: r.JID.String(), Stamp: subject.Time.UTC().Format(time.RFC3339Nano)}
	}
	return m
}

// roomMessageID is the XMPP ID of a room message: the user's own ID for
// the echo of their message, else the legacy ID, which is also its
// stanza-id, so that clients, which reference group chat messages by
// stanza-id (XEP-0461, XEP-0444), and the network agree.
func roomMessageID(ev *transports.MessageEvent) string {
	if ev.Own && ev.EchoOf != "" {
		return ev.EchoOf
	}
	return string(ev.RemoteID)
}

// groupchatStanza is a room message for one resource.
func groupchatStanza(r *Room, ev *transports.MessageEvent, to jid.JID, history bool) *stanza.Message {
	nick := ev.Nick
	if ev.Own && nick == "" {
		nick = r.Nick
	}
	id := roomMessageID(ev)
	if id == "" {
		id = newID()
	}
	body := ev.Body
	if ev.Action {
		body = "/me " + body
	}
	m := &stanza.Message{Type: "groupchat", ID: id, From: r.OccupantJID(nick), To: to.String(), Body: body}
	if r.OccupantIDs { // else no occupant to look up, on every message
		occID := ev.OccupantID
		switch {
		case ev.Own:
			occID = r.OccupantID
		case occID == "":
			if o := r.occupant(nick); o != nil {
				occID = o.OccupantID
			}
		}
		m.Extra = withOccupantID(m.Extra, r, occID, nick)
	}
	if !ev.Time.IsZero() && (history || time.Since(ev.Time) > LiveDelay) {
		m.Delay = &stanza.Delay{From: r.JID.String(), Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	if ev.RemoteID != "" {
		m.StanzaID = &stanza.StanzaID{ID: string(ev.RemoteID), By: r.JID.String()}
	}
	if ev.Own && ev.EchoOf != "" {
		m.OriginID = &stanza.OriginID{ID: ev.EchoOf}
	}
	if ev.ReplyTo != "" {
		m.Extra = append(m.Extra, &stanza.Reply{ID: string(ev.ReplyTo)})
	}
	m.Extra = append(m.Extra, stanza.Links(ev.Attachments)...) // uploaded by the core
	return m
}

// withOccupantID appends the occupant-id of the member (occupantID, else
// nick) to a stanza's payload elements when r has occupant IDs.
func withOccupantID(extra []any, r *Room, occupantID, nick string) []any {
	if oid := occupantIDOf(r, occupantID, nick); oid != nil {
		extra = append(extra, oid)
	}
	return extra
}
