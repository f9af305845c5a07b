package sms

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
	"github.com/switchboard-im/switchboard/transports"
)

// TestStartGroupText: with group_texts, alice's first message in a
// fan-out room creates one Conversation (her number projected, the
// members texting through it), which becomes hers; the room tells her
// the group's room, and the message, and the next one, go as one
// Conversations message each, never as single texts; a member's answer
// reaches her from the group's room.
func TestStartGroupText(t *testing.T) {
	ctx := context.Background()
	f := twiliotest.New(t)
	f.AddAccount(opSID, opToken, numA, numB)
	h := newHookServer(t, Config{Provider: ProviderTwilio, DefaultCountry: "US", Numbers: []string{numA, numB},
		Twilio:    TwilioConfig{APIURL: f.URL, AccountSID: opSID, AuthToken: opToken, GroupTexts: true},
		RetryWait: time.Millisecond, Timeout: 2 * time.Second})
	f.SetConversationsURL(opSID, h.public+"twilio/conversations")
	creds := h.register(t, "alice@example.org", nil)
	sink := &events{}
	a := h.connectTo(t, "alice@example.org", creds, sink).(*adapter)
	room, _ := FanOutRoom(memC, memD)
	if err := a.JoinRoom(ctx, room, "alice"); err != nil {
		t.Fatal(err)
	}
	sink.take()

	for i, body := range []string{"dinner at 8?", "or 9"} {
		id, err := a.Send(ctx, transports.Message{To: room, Room: true, Body: body, ID: "m" + body})
		if err != nil {
			t.Fatal(err)
		}
		created := f.CreatedGroups()
		if len(created) != 1 {
			t.Fatalf("message %d: %d Conversations created, want 1", i, len(created))
		}
		ch := created[0]
		cm, err := f.NextConversationMessage(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if cm.Conversation != ch || cm.Author != "alice@example.org" || cm.Body != body || string(id) != cm.SID || f.MessageRequests() != 0 {
			t.Fatalf("Twilio got %+v (Send returned %q, %d single texts)", cm, id, f.MessageRequests())
		}
		evs := sink.take()
		echo := &transports.MessageEvent{From: room, Room: true, Nick: "alice", OccupantID: numA, RemoteID: id, Body: body, Own: true, EchoOf: "m" + body}
		if i == 0 {
			n, ok := evs[0].(*transports.NoticeEvent)
			if len(evs) != 2 || !ok || n.About != room || n.Invite != GroupRoom(ch) || n.Text == "" {
				t.Fatalf("the first message delivered %#v, want a notice inviting to %s", evs, GroupRoom(ch))
			}
			evs = evs[1:]
		}
		if len(evs) != 1 || !reflect.DeepEqual(evs[0], echo) {
			t.Fatalf("message %d delivered %#v, want the echo", i, evs)
		}
	}
	ch := f.CreatedGroups()[0]
	number, identity, members, proxies := f.GroupParticipants(ch)
	if number != numA || identity != "alice@example.org" || !reflect.DeepEqual(members, []string{memC, memD}) || !reflect.DeepEqual(proxies, []string{numA, numA}) {
		t.Fatalf("the Conversation has %s, %s, %v through %v", number, identity, members, proxies)
	}
	if g, err := h.net.group(ctx, ch); err != nil || g.User != "alice@example.org" || g.Number != numA {
		t.Fatalf("the group's record is %+v, %v", g, err)
	}

	code, sid, err := f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memD, Body: "9 works"})
	if err != nil || code != http.StatusOK {
		t.Fatalf("onMessageAdded: HTTP %d, %v", code, err)
	}
	got := h.rec.wait(t, 1)
	want := &transports.MessageEvent{From: GroupRoom(ch), Room: true, Nick: "(555) 333-4444", OccupantID: memD,
		RemoteID: transports.RemoteID(sid), Body: "9 works", Mention: true}
	if got[len(got)-1].user != "alice@example.org" || !reflect.DeepEqual(got[len(got)-1].ev, want) {
		t.Fatalf("the answer came as %#v", got)
	}
}
