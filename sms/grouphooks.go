package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

// Group texts reach the gateway through the Conversations service's
// post-event webhook (its "Post-Event URL", pointed at twilio/
// conversations), a form POST signed in X-Twilio-Signature exactly as
// the Messages webhooks are, and checked by the same code (twilioSigned):
//
//	onConversationAdded  ConversationSid, MessagingBinding.ProxyAddress (the
//	                     user's number; ProjectedAddress where it is the
//	                     group's), MessagingBinding.AuthorAddress/Address
//	                     (who started it): the group becomes the user's
//	                     (group/<CH…> in the store) and they are told of its
//	                     room.
//	onMessageAdded       ConversationSid, MessageSid (IM…), Author, Body,
//	                     Media (JSON): a room message from the author's
//	                     occupant, once per IM… (seen/, as SM…).
//	onParticipantAdded,  MessagingBinding.Address: the group's stored
//	onParticipantRemoved members change and the user's room shows the
//	                     member join or leave (groupmembers.go).
//
// Other events are answered 200 and ignored. As for single texts, an
// accepted event is answered 2xx only once it is delivered (in the
// outbox); a group nobody has is 404, and Twilio retries what failed.
const pathTwilioConversations = "twilio/conversations"

// Conversations webhook fields.
const (
	fieldProxy     = "MessagingBinding.ProxyAddress"
	fieldProjected = "MessagingBinding.ProjectedAddress"
	fieldAuthor    = "MessagingBinding.AuthorAddress"
	fieldAddress   = "MessagingBinding.Address"
)

func (n *Network) twilioConversations(w http.ResponseWriter, r *http.Request) {
	// The event type decides whose token checks the signature; it is
	// read from the body by twilioSigned's callback, before the check,
	// and trusted only after it.
	var event string
	var rec groupRecord
	form, token, err := n.twilioSigned(r, func(form url.Values) (string, error) {
		event = form.Get("EventType")
		switch event {
		case "onConversationAdded":
			return groupNumber(form), nil
		case "onMessageAdded", eventParticipantAdded, eventParticipantRemoved:
			sid := canonicalSID(form.Get("ConversationSid"))
			if !conversationSID.MatchString(sid) {
				return "", refuse(http.StatusBadRequest, "%q is not a Conversation SID", clip(sid))
			}
			g, err := n.group(r.Context(), sid)
			if err != nil {
				return "", err
			}
			if g.User == "" { // its number is nobody's now (groupmove.go)
				return "", refuse(http.StatusNotFound, "no user has the group text %s", sid)
			}
			rec = g
			return g.Number, nil
		default:
			return "", errIgnored
		}
	})
	switch {
	case errors.Is(err, errIgnored):
		err = nil
	case err != nil:
	case event == "onConversationAdded":
		err = n.groupAdded(r.Context(), form)
	case event == eventParticipantAdded || event == eventParticipantRemoved:
		err = n.groupParticipant(r.Context(), form, rec, event == eventParticipantAdded)
	default:
		sid := n.cfg.Twilio.AccountSID
		if n.cfg.Mode == ModeOwn {
			sid = form.Get("AccountSid")
		}
		err = n.groupMessage(r.Context(), form, rec, n.twilioFor(sid, token))
	}
	n.answer(w, r, err, func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
}

// errIgnored is a Conversations event this network has no use for.
var errIgnored = errors.New("an event of no use here")

// groupNumber is the gateway user's number in an onConversationAdded
// form: the proxy address (the Twilio number the group texts), or the
// projected address of a group text.
func groupNumber(form url.Values) string {
	if p := form.Get(fieldProxy); p != "" {
		return p
	}
	return form.Get(fieldProjected)
}

// groupAdded makes a new group text the user's whose number it texts,
// and tells them its room once.
func (n *Network) groupAdded(ctx context.Context, form url.Values) error {
	sid := canonicalSID(form.Get("ConversationSid"))
	if !conversationSID.MatchString(sid) {
		return refuse(http.StatusBadRequest, "%q is not a Conversation SID", clip(sid))
	}
	number := groupNumber(form)
	user, err := n.owner(ctx, number)
	if err != nil {
		return err
	}
	g := groupRecord{User: user, Number: number}
	for _, f := range []string{fieldAuthor, fieldAddress} {
		if a := form.Get(f); e164.MatchString(a) && a != number && !slices.Contains(g.Members, a) {
			g.Members = append(g.Members, a)
		}
	}
	v, err := json.Marshal(g)
	if err != nil {
		return err
	}
	st := n.Hooks().Store
	added, err := st.CompareAndSwap(ctx, keyGroup+sid, nil, v)
	switch {
	case err != nil:
		return fmt.Errorf("%w: storing group text %s: %w", transports.ErrUnavailable, sid, err)
	case !added:
		return nil // Twilio sent it again
	}
	room := GroupRoom(sid)
	who := "someone"
	if len(g.Members) > 0 {
		nicks := make([]string, len(g.Members))
		for i, m := range g.Members {
			nicks[i] = n.nick(m)
		}
		who = strings.Join(nicks, ", ")
	}
	ev := &transports.NoticeEvent{About: room, Invite: room,
		Text: fmt.Sprintf("A group text with %s and you started; join its room to read it with everyone and answer them all:", who)}
	if err := n.Hooks().Deliver.Deliver(ctx, user, ev); err != nil {
		// Told or not at all: Twilio sends it again.
		if _, derr := st.CompareAndSwap(ctx, keyGroup+sid, v, nil); derr != nil {
			n.log.Warn("forgetting a group text not told", "group", sid, "err", derr)
		}
		return err
	}
	return nil
}

// groupMessage delivers an onMessageAdded to the user of group g as a
// room message from its author. It is marked a mention: a group text is
// addressed to the user's phone, so while no client of theirs is in the
// room it reaches them one to one, from the author's occupant, and is
// kept offline, never dropped.
func (n *Network) groupMessage(ctx context.Context, form url.Values, g groupRecord, tw *twilioClient) error {
	sid, id, author, body := canonicalSID(form.Get("ConversationSid")), form.Get("MessageSid"), form.Get("Author"), form.Get("Body")
	switch {
	case id == "":
		return refuse(http.StatusBadRequest, "a group message without a MessageSid")
	case !utf8.ValidString(body):
		return refuse(http.StatusBadRequest, "the text is not UTF-8")
	case author == g.Number || (g.Author != "" && author == g.Author):
		return nil // the user's own, sent through this gateway
	case !IsAddress(author):
		return refuse(http.StatusBadRequest, "author %q is not a phone number", clip(author))
	}
	switch seen, err := n.seen(ctx, id); {
	case err != nil:
		return err
	case seen:
		n.log.Info("Twilio sent a group message again; not delivered twice", "id", id)
		return nil
	}
	files, left := n.groupFiles(form, tw)
	if len(left) > 0 {
		body = strings.TrimSpace(body + "\n[" + strings.Join(left, ", ") + ": a file of the group text, which this gateway cannot fetch]")
	}
	ev := &transports.MessageEvent{From: GroupRoom(sid), Room: true, Nick: n.nick(author), OccupantID: author,
		RemoteID: transports.RemoteID(id), Body: body, Mention: true, Attachments: files}
	if err := n.Hooks().Deliver.Deliver(ctx, g.User, ev); err != nil {
		return err
	}
	n.markSeen(ctx, id, g.User)
	if !slices.Contains(g.Members, author) {
		g.Members = append(g.Members, author)
		if err := n.putGroup(ctx, sid, g); err != nil {
			n.log.Warn("storing a group text's members", "group", sid, "err", err)
		}
	}
	return nil
}
