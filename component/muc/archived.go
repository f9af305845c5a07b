package muc

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/transports"
)

// With a room archive (package archive), what is said while the user is
// away is archived, not kept in the room's Away backlog: the room only
// counts it, so that the next join can tell how much of it the archive's
// bound let go.

// ArchivedAway counts one message archived while no resource is in the
// room.
func (r *Room) ArchivedAway() { r.archivedAway++ }

// TakeArchivedAway returns how many messages were archived while no
// resource was in the room, and starts counting again from zero.
func (r *Room) TakeArchivedAway() int {
	n := r.archivedAway
	r.archivedAway = 0
	return n
}

// Corrections, retractions and moderations are archived as Prosody's MUC
// archive keeps them: as messages of their own, with their own archive
// ID (the stanza-id the live stanza carries too), carrying <replace/> or
// <retract/> as the component sends them live (the current namespaces),
// so that a client catching up with MAM applies them to what it fetched.
// The user's own corrections echoed by the network are archived the same
// way. Join history leaves them out (archive.Query.NoEdits): it shows
// what was said, with the notes kept while away (edits.go).

// moderatedFallback is the body of a moderation for clients without
// retractions.
const moderatedFallback = "[a moderator deleted a message; your client does not support retractions]"

// archiveEdit archives the correction of ref (the id the room's members
// know the message by) that nick made in r, for user, and returns its
// archive ID; "" without an archive. Owner work: it only queues the
// entry; a failure is logged.
func (s *Service) archiveEdit(ctx context.Context, user string, r *Room, nick, ref string, ev *transports.EditEvent) string {
	return s.archiveEntry(ctx, user, r, archive.Entry{Time: ev.Time, Nick: nick, Own: ev.Own, Body: ev.Body, Replace: ref})
}

// archiveRetract archives ev's retraction or moderation of a message of
// r, whose author is nick, for user, and returns its archive ID; "" without an
// archive. Owner work, like archiveEdit.
func (s *Service) archiveRetract(ctx context.Context, user string, r *Room, nick string, ev *transports.RetractEvent) string {
	e := archive.Entry{Nick: nick, Own: ev.Own, Retract: string(ev.Target)}
	if ev.Moderated {
		// From the room, as live; the author is not who says it.
		e = archive.Entry{Retract: string(ev.Target), Moderated: true, By: ev.By, Reason: ev.Reason}
	}
	return s.archiveEntry(ctx, user, r, e)
}

func (s *Service) archiveEntry(ctx context.Context, user string, r *Room, e archive.Entry) string {
	a := s.core.Archive()
	if a == nil {
		return ""
	}
	e.ID = newID()
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if err := a.Add(ctx, user, s.core.NetworkKey(), string(r.ID), e); err != nil {
		s.core.Logger().Warn("archiving a room correction or retraction", "user", user, "room", string(r.ID), "err", err)
	}
	return e.ID
}

// archivedEdit adds to m, the archived message of e, what makes it a
// correction or a retraction, as the live stanza has it.
func archivedEdit(room jid.JID, e archive.Entry, m *storedMessage) {
	switch {
	case e.Replace != "":
		m.Extra = append(m.Extra, &stanza.Replace{ID: e.Replace})
	case e.Retract != "":
		el := &stanza.Retract{ID: e.Retract}
		m.Body = stanza.RetractFallback
		if e.Moderated {
			m.From = room.String()
			el.Moderated = &stanza.Moderated{}
			if e.By != "" {
				el.Moderated.By = OccupantJID(room, e.By)
			}
			el.Reason = e.Reason
			m.Body = moderatedFallback
		}
		m.Extra = append(m.Extra, el, &stanza.Fallback{For: stanza.NSRetract})
	}
}
