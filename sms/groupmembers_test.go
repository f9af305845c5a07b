package sms

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

const memE = "+15556667777"

// TestGroupParticipants: onParticipantAdded and onParticipantRemoved
// change the stored members of a group text and come to its user as
// occupant join and leave in its room, once (Twilio's retry changes
// nothing); the user's own participant, a forged or malformed event and
// one of an unknown group deliver nothing; a failed delivery is a 5xx
// and stores nothing, so Twilio's retry is delivered.
func TestGroupParticipants(t *testing.T) {
	ctx := context.Background()
	f, h := twilioOperator(t)
	h.register(t, "alice@example.org", nil)
	hook := h.public + "twilio/conversations"
	f.SetConversationsURL(opSID, hook)
	ch := f.AddGroup(opSID, numA, "alice-chat", memC, memD)
	room := GroupRoom(ch)
	if code, err := f.ConversationAdded(ctx, ch, memC); err != nil || code != http.StatusOK {
		t.Fatalf("onConversationAdded: HTTP %d, %v", code, err)
	}
	h.rec.wait(t, 1)
	members := func() []string {
		t.Helper()
		g, err := h.net.group(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		return g.Members
	}

	if code, err := f.AddParticipant(ctx, ch, memE); err != nil || code != http.StatusOK {
		t.Fatalf("onParticipantAdded: HTTP %d, %v", code, err)
	}
	got := h.rec.wait(t, 2)
	wantJoin := &transports.OccupantEvent{Room: room, Nick: "(555) 666-7777", OccupantID: memE,
		Role: transports.RoleParticipant, Affiliation: transports.AffiliationMember}
	if len(got) != 2 || got[1].user != "alice@example.org" || !reflect.DeepEqual(got[1].ev, wantJoin) {
		t.Fatalf("the new member came as %#v, want %#v", got, wantJoin)
	}
	if m := members(); !slices.Contains(m, memE) {
		t.Fatalf("the stored members are %v, without %s", m, memE)
	}

	added := url.Values{"EventType": {"onParticipantAdded"}, "AccountSid": {opSID}, "ConversationSid": {ch},
		"ParticipantSid": {"MB0123456789abcdef0123456789abcdef"}, "MessagingBinding.Address": {memE},
		"MessagingBinding.ProxyAddress": {numA}}
	for name, c := range map[string]struct {
		token  string
		params url.Values
		status int
	}{
		"Twilio's retry":            {opToken, added, http.StatusOK},
		"the user's participant":    {opToken, cloneWith(added, "MessagingBinding.Address", numA), http.StatusOK},
		"a chat participant":        {opToken, cloneWith(added, "MessagingBinding.Address", ""), http.StatusOK},
		"signed with another token": {"guessed", cloneWith(added, "MessagingBinding.Address", "+15550001111"), http.StatusForbidden},
		"a member no number":        {opToken, cloneWith(added, "MessagingBinding.Address", "bob"), http.StatusBadRequest},
		"an unknown group":          {opToken, cloneWith(added, "ConversationSid", "CHffffffffffffffffffffffffffffffff"), http.StatusNotFound},
		"a removal of a stranger":   {opToken, cloneWith(added, "EventType", "onParticipantRemoved"), http.StatusOK},
	} {
		params := c.params
		if name == "a removal of a stranger" {
			params = cloneWith(params, "MessagingBinding.Address", "+15550002222")
		}
		if code, _ := webhook(t, hook, c.token, params); code != c.status {
			t.Errorf("%s: HTTP %d, want %d", name, code, c.status)
		}
	}
	if got := h.rec.events(); len(got) != 2 {
		t.Fatalf("events that change nothing delivered %#v", got[2:])
	}
	// onConversationAdded named the author only; the room's join reads the rest.
	if m := members(); !reflect.DeepEqual(m, []string{memC, memE}) {
		t.Fatalf("the stored members are %v", m)
	}

	h.rec.failNext(errors.Join(transports.ErrUnavailable, errors.New("the gateway is stopping")))
	removed := cloneWith(cloneWith(added, "EventType", "onParticipantRemoved"), "MessagingBinding.Address", memC)
	if code, _ := webhook(t, hook, opToken, removed); code < 500 {
		t.Fatalf("a removal not delivered: HTTP %d, want a 5xx for Twilio to retry", code)
	}
	if m := members(); !slices.Contains(m, memC) {
		t.Fatalf("a removal not delivered was stored: %v", m)
	}
	if code, err := f.RemoveParticipant(ctx, ch, memC); err != nil || code != http.StatusOK {
		t.Fatalf("onParticipantRemoved: HTTP %d, %v", code, err)
	}
	got = h.rec.wait(t, 3)
	wantLeave := &transports.OccupantEvent{Room: room, Nick: "(555) 111-2222", OccupantID: memC,
		Role: transports.RoleParticipant, Affiliation: transports.AffiliationMember, Left: true, Reason: "left the group text"}
	if len(got) != 3 || !reflect.DeepEqual(got[2].ev, wantLeave) {
		t.Fatalf("the member who left came as %#v, want %#v", got[2:], wantLeave)
	}
	if m := members(); !reflect.DeepEqual(m, []string{memE}) {
		t.Fatalf("the stored members are %v", m)
	}
}
