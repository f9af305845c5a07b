package muc

import (
	"context"
	"encoding/xml"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// The room archive (XEP-0313, Message Archive Management, on rooms), when
// the core has one (Core.Archive). Every room message a user's legacy
// session delivers is archived for that user in the owner step that
// handles the event (MessageEvent), whether or not a resource is in the
// room; the archive ID is the message's stanza-id (its legacy ID where the
// network gave one, else one made here, which the live message carries). A
// client that was away catches up with a MAM query to the room JID, paged
// with XEP-0059; a join's <history/> comes from the archive when the
// network has no transports.History. The room and the gateway domain
// advertise urn:xmpp:mam:2 only then (package component's discovery).
// Corrections, retractions and moderations are archived too, as messages
// of their own (archived.go).

// archiveRoomMessage archives ev, said in r, for user, and returns its
// archive ID: the legacy ID, or a new one for a message without (which the
// live stanza then carries as its stanza-id, so that clients match it with
// the archive's copy). Owner work: it only queues the message
// (archive.Archive.Add); a failure is logged, the message is still
// relayed.
func (s *Service) archiveRoomMessage(ctx context.Context, user string, r *Room, ev *transports.MessageEvent) string {
	e := archive.Entry{ID: string(ev.RemoteID), Legacy: ev.RemoteID != "", Time: ev.Time, Nick: ev.Nick,
		Body: ev.Body, Action: ev.Action, Own: ev.Own, ReplyTo: string(ev.ReplyTo)}
	if e.ID == "" {
		e.ID = s.madeID() // no legacy ID: known as the gateway's (MadeID)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for _, f := range ev.Attachments {
		if f.URL != "" { // uploaded by the core, as stanza.Links shows them
			e.Links = append(e.Links, archive.Link{URL: f.URL, Name: f.Name})
		}
	}
	if ev.Own {
		e.OriginID = ev.EchoOf
		if e.Nick == "" {
			e.Nick = r.Nick
		}
	}
	if err := s.core.Archive().Add(ctx, user, s.core.NetworkKey(), string(r.ID), e); err != nil {
		s.core.Logger().Warn("archiving a room message", "user", user, "room", string(r.ID), "err", err)
	}
	return e.ID
}

// archivedEvent is the message event an archived entry was made from, as
// join history shows it: its RemoteID is the archive ID, the stanza-id
// the live message carried (the legacy ID where there was one).
func archivedEvent(room transports.ID, e archive.Entry) transports.MessageEvent {
	ev := transports.MessageEvent{From: room, Room: true, Nick: e.Nick, Body: e.Body, Action: e.Action,
		Own: e.Own, EchoOf: e.OriginID, ReplyTo: transports.RemoteID(e.ReplyTo), Time: e.Time,
		RemoteID: transports.RemoteID(e.ID)}
	for _, l := range e.Links {
		ev.Attachments = append(ev.Attachments, transports.Attachment{URL: l.URL, Name: l.Name})
	}
	return ev
}

// archiveHistory is a join's history from the archive: at most max of
// the latest messages said at or after since, and how many messages of
// those archived while the user was away (away) the archive's bound let
// go. It runs in the user's lane.
func (s *Service) archiveHistory(ctx context.Context, user string, room transports.ID, since time.Time, max, away int) ([]transports.MessageEvent, int, error) {
	es, total, err := s.core.Archive().Latest(ctx, user, s.core.NetworkKey(), string(room), since, max)
	if err != nil {
		return nil, 0, err
	}
	var evs []transports.MessageEvent // nil when there is none, as Away.Since
	for _, e := range es {
		evs = append(evs, archivedEvent(room, e))
	}
	return evs, max0(away - total), nil
}

func max0(n int) int { return max(n, 0) }

// withAwayNotes merges history from the archive with notes kept while
// away (edits and deletions, which the archive does not hold), both oldest
// first, in time order (the archive's first on a tie), and keeps the
// latest max (> 0). It returns nil when both are empty.
func withAwayNotes(history, notes []transports.MessageEvent, max int) []transports.MessageEvent {
	if len(notes) == 0 {
		return history
	}
	out := make([]transports.MessageEvent, 0, len(history)+len(notes))
	i, j := 0, 0
	for i < len(history) || j < len(notes) {
		if j == len(notes) || i < len(history) && !notes[j].Time.Before(history[i].Time) {
			out = append(out, history[i])
			i++
		} else {
			out = append(out, notes[j])
			j++
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// MAM answers an archive request (q, in the urn:xmpp:mam:2 namespace) to
// the JID of room id: the query form (get), a query (set), or the
// archive's metadata. The user must be in the room (their legacy session
// is, even with no resource joined: bouncer mode); others are refused
// with forbidden, as XEP-0313 asks of an archive the requester may not
// read. The archive must be on (Core.Archive). It is lane work: it reads
// the archive and writes the results to the stream, the IQ result last.
func (s *Service) MAM(ctx context.Context, in *stanza.In, q *xmltree.Element, id transports.ID) {
	user := in.From.Bare()
	u := user.String()
	var room jid.JID
	inRoom := false
	s.core.Own(ctx, u, func(context.Context) {
		if _, r := s.room(user, id); r != nil {
			room, inRoom = r.JID, true
		}
	})
	if !inRoom {
		s.core.ReplyError(in, stanzaerr.New("auth", "forbidden", "Join %s to read its archive: this gateway keeps it for the members it relays it to.", in.To.Bare()))
		return
	}
	switch {
	case q.Name.Local == "metadata" && in.Type == "get":
		s.mamMetadata(ctx, in, u, id)
	case q.Name.Local == "query" && in.Type == "get":
		s.core.Result(in, mamForm())
	case q.Name.Local == "query" && in.Type == "set":
		s.mamQuery(ctx, in, q, u, id, room)
	default:
		s.core.ReplyError(in, stanzaerr.New("cancel", "bad-request", "Send <query/> (set) or <metadata/> (get)."))
	}
}

// mamQuery runs a query and sends its results, then the <fin/>.
func (s *Service) mamQuery(ctx context.Context, in *stanza.In, q *xmltree.Element, user string, id transports.ID, room jid.JID) {
	aq, none, serr := parseMAMQuery(q, room)
	if serr != nil {
		s.core.ReplyError(in, serr)
		return
	}
	var page archive.Page
	if !none {
		var err error
		page, err = s.core.Archive().Query(ctx, user, s.core.NetworkKey(), string(id), aq)
		if errors.Is(err, archive.ErrNotFound) {
			s.core.ReplyError(in, stanzaerr.New("cancel", "item-not-found", "A message ID in the query is not in this room's archive."))
			return
		}
		if err != nil {
			s.core.Logger().Warn("reading the room archive", "user", user, "room", string(id), "err", err)
			s.core.ReplyError(in, stanzaerr.New("wait", "internal-server-error", "The archive cannot be read now; try again later."))
			return
		}
	} else {
		page.Complete = true
	}
	order := slices.Clone(page.Entries)
	if q.Child("", "flip-page") != nil {
		slices.Reverse(order)
	}
	queryID := q.Attr("queryid")
	for _, e := range order {
		m := &mamResultMessage{ID: newID(), From: room.String(), To: in.From.String(), Result: mamResult{
			QueryID: queryID, ID: e.ID, Forwarded: forwardedMessage{
				Delay:   &stanza.Delay{Stamp: e.Time.UTC().Format(time.RFC3339Nano)},
				Message: archivedMessage(room, e),
			}}}
		if err := s.core.Write(ctx, m); errors.Is(err, ErrTooLarge) {
			// The live message was cut to fit; the archived one is whole.
			s.core.Logger().Info("archived message too large to forward", "user", user, "room", string(id), "err", err)
		} else if err != nil {
			s.core.Logger().Info("archive query cut short", "user", user, "room", string(id), "err", err)
			return // the stream is down: the client asks again
		}
	}
	fin := &mamFin{Complete: page.Complete}
	fin.Set.Count = page.Count
	if n := len(page.Entries); n > 0 {
		fin.Set.First = &discovery.First{Index: page.Index, Key: page.Entries[0].ID}
		fin.Set.Last = page.Entries[n-1].ID
	}
	s.core.Result(in, fin)
}

// parseMAMQuery reads a query's form, result-set and paging. none reports
// a filter that no message of this room can match (a 'with' of another
// JID).
func parseMAMQuery(q *xmltree.Element, room jid.JID) (aq archive.Query, none bool, serr *stanzaerr.Error) {
	aq.Max = -1
	if x := q.Child(nsData, "x"); x != nil {
		for _, f := range x.ChildrenNamed("", "field") {
			name := f.Attr("var")
			var values []string
			for _, v := range f.ChildrenNamed("", "value") {
				values = append(values, strings.TrimSpace(v.Text))
			}
			value := ""
			if len(values) > 0 {
				value = values[0]
			}
			switch name {
			case "FORM_TYPE":
				if value != discovery.NSMAM {
					return aq, false, stanzaerr.New("modify", "bad-request", "The form's FORM_TYPE must be %s.", discovery.NSMAM)
				}
			case "start", "end":
				if value == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339, value)
				if err != nil {
					return aq, false, stanzaerr.New("modify", "bad-request", "The %s field must be a date and time (XEP-0082).", name)
				}
				if name == "start" {
					aq.Start = t
				} else {
					aq.End = t
				}
			case "with":
				if value == "" {
					continue
				}
				j, err := jid.Parse(value)
				if err != nil {
					return aq, false, stanzaerr.New("modify", "jid-malformed", "The with field must be a JID.")
				}
				switch {
				case !j.Bare().Equal(room):
					none = true // nobody else publishes in this room
				case j.Resourcepart() != "":
					aq.With = j.Resourcepart()
				}
			case "after-id":
				aq.AfterID = value
			case "before-id":
				aq.BeforeID = value
			case "ids":
				for _, v := range values {
					if v != "" {
						aq.IDs = append(aq.IDs, v)
					}
				}
			default:
				return aq, false, stanzaerr.New("cancel", "feature-not-implemented", "This archive has no %q field.", name)
			}
		}
	}
	if set := q.Child(nsRSM, "set"); set != nil {
		if m := set.Child("", "max"); m != nil {
			n, err := strconv.Atoi(strings.TrimSpace(m.Text))
			if err != nil || n < 0 {
				return aq, false, stanzaerr.New("modify", "bad-request", "<max/> must be a number.")
			}
			aq.Max = n
		}
		if a := set.Child("", "after"); a != nil {
			if aq.After = strings.TrimSpace(a.Text); aq.After == "" {
				return aq, false, stanzaerr.New("modify", "bad-request", "<after/> must name a message.")
			}
		}
		if b := set.Child("", "before"); b != nil {
			aq.Before = strings.TrimSpace(b.Text)
			aq.Last = aq.Before == ""
		}
		if aq.After != "" && (aq.Before != "" || aq.Last) {
			return aq, false, stanzaerr.New("modify", "bad-request", "Use the after-id and before-id fields to ask for the messages between two.")
		}
	}
	return aq, none, nil
}

// mamMetadata answers <metadata/> (XEP-0313 §5): the first and the last
// message of the archive; nothing when it is empty.
func (s *Service) mamMetadata(ctx context.Context, in *stanza.In, user string, id transports.ID) {
	md := &mamMetadataElem{}
	for _, q := range []archive.Query{{Max: 1}, {Last: true, Max: 1}} {
		p, err := s.core.Archive().Query(ctx, user, s.core.NetworkKey(), string(id), q)
		if err != nil {
			s.core.Logger().Warn("reading the room archive", "user", user, "room", string(id), "err", err)
			s.core.ReplyError(in, stanzaerr.New("wait", "internal-server-error", "The archive cannot be read now; try again later."))
			return
		}
		if len(p.Entries) == 0 {
			break
		}
		e := p.Entries[0]
		end := &mamBound{ID: e.ID, Timestamp: e.Time.UTC().Format(time.RFC3339Nano)}
		if q.Last {
			md.End = end
		} else {
			md.Start = end
		}
	}
	s.core.Result(in, md)
}

// mamResultMessage carries one archived message to the requester.
type mamResultMessage struct {
	XMLName xml.Name  `xml:"message"`
	ID      string    `xml:"id,attr"`
	From    string    `xml:"from,attr"`
	To      string    `xml:"to,attr"`
	Result  mamResult `xml:"urn:xmpp:mam:2 result"`
}

type mamResult struct {
	QueryID   string           `xml:"queryid,attr,omitempty"`
	ID        string           `xml:"id,attr"`
	Forwarded forwardedMessage `xml:"urn:xmpp:forward:0 forwarded"`
}

type forwardedMessage struct {
	Delay   *stanza.Delay
	Message *storedMessage
}

// storedMessage is an archived room message as XEP-0313 forwards it: from
// the speaker's occupant JID, without a 'to'.
type storedMessage struct {
	XMLName  xml.Name         `xml:"jabber:client message"`
	ID       string           `xml:"id,attr,omitempty"`
	Type     string           `xml:"type,attr"`
	From     string           `xml:"from,attr"`
	Body     string           `xml:"body,omitempty"`
	StanzaID *stanza.StanzaID `xml:",omitempty"`
	OriginID *stanza.OriginID `xml:",omitempty"`
	Extra    []any            `xml:",omitempty"`
}

// archivedMessage builds the forwarded message of e, said in room, as
// groupchatStanza shows it live.
func archivedMessage(room jid.JID, e archive.Entry) *storedMessage {
	body := e.Body
	if e.Action {
		body = "/me " + body
	}
	m := &storedMessage{Type: "groupchat", From: OccupantJID(room, e.Nick), Body: body, ID: e.ID,
		StanzaID: &stanza.StanzaID{ID: e.ID, By: room.String()}}
	if e.Own && e.OriginID != "" {
		m.ID = e.OriginID
		m.OriginID = &stanza.OriginID{ID: e.OriginID}
	}
	if e.ReplyTo != "" {
		m.Extra = append(m.Extra, &stanza.Reply{ID: e.ReplyTo})
	}
	for _, l := range e.Links {
		m.Extra = append(m.Extra, &stanza.OOB{URL: l.URL, Desc: stanza.ShortName(l.Name, 200)})
	}
	archivedEdit(room, e, m) // archived.go
	return m
}

type mamFin struct {
	XMLName  xml.Name      `xml:"urn:xmpp:mam:2 fin"`
	Complete bool          `xml:"complete,attr"`
	Set      discovery.Set `xml:"http://jabber.org/protocol/rsm set"`
}

type mamMetadataElem struct {
	XMLName xml.Name  `xml:"urn:xmpp:mam:2 metadata"`
	Start   *mamBound `xml:"start,omitempty"`
	End     *mamBound `xml:"end,omitempty"`
}

type mamBound struct {
	ID        string `xml:"id,attr"`
	Timestamp string `xml:"timestamp,attr"`
}

// mamForm is the answer to a query of type get: the fields a query may
// use (XEP-0313 §4.1.5), none required.
func mamForm() any {
	type validate struct {
		XMLName  xml.Name `xml:"http://jabber.org/protocol/xdata-validate validate"`
		Datatype string   `xml:"datatype,attr"`
		Open     struct{} `xml:"open"`
	}
	type field struct {
		XMLName  xml.Name  `xml:"field"`
		Type     string    `xml:"type,attr"`
		Var      string    `xml:"var,attr"`
		Value    string    `xml:"value,omitempty"`
		Validate *validate `xml:",omitempty"`
	}
	type form struct {
		XMLName xml.Name `xml:"jabber:x:data x"`
		Type    string   `xml:"type,attr"`
		Fields  []field
	}
	type query struct {
		XMLName xml.Name `xml:"urn:xmpp:mam:2 query"`
		Form    form
	}
	return &query{Form: form{Type: "form", Fields: []field{
		{Type: "hidden", Var: "FORM_TYPE", Value: discovery.NSMAM},
		{Type: "jid-single", Var: "with"},
		{Type: "text-single", Var: "start"},
		{Type: "text-single", Var: "end"},
		{Type: "text-single", Var: "before-id"},
		{Type: "text-single", Var: "after-id"},
		{Type: "list-multi", Var: "ids", Validate: &validate{Datatype: "xs:string"}},
	}}}
}
