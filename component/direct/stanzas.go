package direct

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"slices"
	"time"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// The one-to-one stanzas: what the user's messages carry besides a body,
// read; and what the contacts' events become, built. No I/O, no state.

// OwnMarker starts the body of the user's own message (or edit, or
// deletion) that reached the contact from another legacy client: the
// gateway may only send as its own domain (without XEP-0356), so such a
// message comes from the contact's JID, and must never read as the
// contact's.
const OwnMarker = "[you, from another client] "

// liveDelay is how old a legacy edit's timestamp must be before it is
// shown with a delay stamp: a live one is not history.
const liveDelay = 30 * time.Second

// ChatState returns the XEP-0085 state a message carries, if any:
// composing, paused or active (the states a network can show).
func ChatState(msg *xmltree.Element) (transports.ChatState, bool) {
	for _, st := range []struct {
		name  string
		state transports.ChatState
	}{{"composing", transports.Composing}, {"paused", transports.Paused}, {"active", transports.Active}} {
		if msg.Child(stanza.NSChat, st.name) != nil {
			return st.state, true
		}
	}
	return 0, false
}

// wanted is the set an XEP-0444 <reactions/> element asks for: its
// non-empty reactions, each once, in order.
func wanted(el *xmltree.Element) []string {
	var want []string
	for _, ch := range el.Children {
		if ch.Name.Space == stanza.NSReactions && ch.Name.Local == "reaction" && ch.Text != "" && !slices.Contains(want, ch.Text) {
			want = append(want, ch.Text)
		}
	}
	return want
}

// Diff returns what turns the reaction set have into want, one reaction
// at a time as networks take them: the additions in want's order, then
// the removals in have's.
func Diff(have, want []string) (add, remove []string) {
	for _, x := range want {
		if !slices.Contains(have, x) {
			add = append(add, x)
		}
	}
	for _, x := range have {
		if !slices.Contains(want, x) {
			remove = append(remove, x)
		}
	}
	return add, remove
}

// typingMessage shows a contact's chat state; it is not to be stored.
func typingMessage(from, to string, state transports.ChatState) *stanza.Message {
	return &stanza.Message{Type: "chat", From: from, To: to,
		Extra: []any{&stanza.ChatState{XMLName: xml.Name{Space: stanza.NSChat, Local: stanza.ChatStateName(state)}}, stanza.NoStoreHint()}}
}

// reactionMessage shows a contact's whole set of reactions to the message
// the user knows as ref (XEP-0444); without ref, the one change as text.
func reactionMessage(id, from, to, ref string, set []string, reaction string, remove bool) *stanza.Message {
	m := &stanza.Message{Type: "chat", ID: id, From: from, To: to}
	switch {
	case ref != "":
		m.Extra = []any{&stanza.Reactions{ID: ref, Reactions: set}, stanza.StoreHint()}
	case remove:
		m.Body = "[took back the reaction " + reaction + " to an earlier message]"
	default:
		m.Body = "[reacted " + reaction + " to an earlier message]"
	}
	return m
}

// editMessage shows a contact's edit as a correction of the message the
// user knows as ref (XEP-0308), or, without ref, as a new message marked
// as a correction; delay is the gateway's JID when the edit is old enough
// to be stamped, else "".
func editMessage(id, from, to, ref string, ev *transports.EditEvent, delay string) *stanza.Message {
	m := &stanza.Message{Type: "chat", ID: id, From: from, To: to, Body: ev.Body}
	m.OriginID = &stanza.OriginID{ID: m.ID}
	if ref != "" {
		m.Extra = append(m.Extra, &stanza.Replace{ID: ref})
	} else {
		m.Body = stanza.CorrectionMarker + m.Body
	}
	if ev.Own {
		m.Body = OwnMarker + m.Body
	}
	if delay != "" {
		m.Delay = &stanza.Delay{From: delay, Stamp: ev.Time.UTC().Format(time.RFC3339Nano)}
	}
	return m
}

// retractMessage shows a contact's deletion as a retraction of the
// message the user knows as ref (XEP-0424, with a fallback body), or,
// without ref, as a note that a message was deleted.
func retractMessage(id, from, to, ref string, own bool) *stanza.Message {
	m := &stanza.Message{Type: "chat", ID: id, From: from, To: to, Body: stanza.RetractFallback}
	if ref != "" {
		m.Extra = append(m.Extra, &stanza.Retract{ID: ref}, &stanza.Fallback{For: stanza.NSRetract}, stanza.StoreHint())
	} else {
		m.Body = "[deleted a message]"
	}
	if own {
		m.Body = OwnMarker + m.Body
	}
	return m
}

func newID() string {
	var b [9]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
