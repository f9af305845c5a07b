package sms

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
	"github.com/switchboard-im/switchboard/transports"
)

const (
	groupSID = "CH0123456789abcdef0123456789abcdef"
	memC     = "+15551112222"
	memD     = "+15553334444"
)

func TestParseRoom(t *testing.T) {
	tests := []struct {
		id      transports.ID
		want    Room
		wantErr string
	}{
		{id: "ch0123456789abcdef0123456789abcdef%group", want: Room{Group: groupSID}},
		{id: groupSID + "%group", wantErr: "in lower case"},
		{id: memC + "," + memD, want: Room{Members: []string{memC, memD}}},
		{id: memC + "," + memD + ",+442079460000", want: Room{Members: []string{memC, memD, "+442079460000"}}},
		{id: "+442079460000," + memC, wantErr: "sorted and each once: " + memC + ",+442079460000"},
		{id: memD + "," + memC, wantErr: "sorted and each once: " + memC + "," + memD},
		{id: memC + "," + memC, wantErr: "sorted and each once: " + memC},
		{id: memC + ",", wantErr: `"" in the group is not a phone number`},
		{id: memC + ",12345", wantErr: `"12345" in the group is not a phone number`},
		{id: "CH0123%group", wantErr: "not a group text's ID"},
		{id: "ch0123456789abcdef0123456789abcdeg%group", wantErr: "not a group text's ID"},
		{id: transports.ID(strings.Repeat(memC+",", 10) + memD), wantErr: "at most 10 numbers"},
		{id: memC, wantErr: "at least two numbers"},
	}
	for _, tt := range tests {
		t.Run(string(tt.id), func(t *testing.T) {
			got, err := ParseRoom(tt.id)
			if tt.wantErr != "" {
				if !errors.Is(err, transports.ErrInvalidInput) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRoom = %+v, %v; want an invalid-input error saying %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseRoom = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestKindAndNormalize(t *testing.T) {
	n := New(Config{Provider: ProviderTwilio, DefaultCountry: "US"})
	kinds := []struct {
		id   transports.ID
		want transports.IDKind
		ok   bool
	}{
		{contact, transports.KindContact, true},
		{"12345", transports.KindContact, true},
		{GroupRoom(groupSID), transports.KindRoom, true},
		{memC + "," + memD, transports.KindRoom, true},
		{memD + "," + memC, 0, false},
		{"alice", 0, false},
		{"bad%group", 0, false},
	}
	for _, k := range kinds {
		got, err := n.Kind(k.id)
		if k.ok && (err != nil || got != k.want) || !k.ok && !errors.Is(err, transports.ErrInvalidInput) {
			t.Errorf("Kind(%q) = %v, %v; want %v (valid: %v)", k.id, got, err, k.want, k.ok)
		}
	}
	if id, err := FanOutRoom(memD, memC, memD); err != nil || id != memC+","+memD {
		t.Errorf("FanOutRoom = %q, %v", id, err)
	}
	if id, err := n.NormalizeAddress("(555) 333-4444, +1 555 111 2222"); err != nil || id != memC+","+memD {
		t.Errorf("NormalizeAddress of a list = %q, %v", id, err)
	}
	if _, err := n.NormalizeAddress("(555) 333-4444, 12"); !errors.Is(err, transports.ErrInvalidInput) {
		t.Errorf("NormalizeAddress of a list with a bad number: %v", err)
	}
	for number, want := range map[string]string{memC: "(555) 111-2222", "+442079460000": "+442079460000"} {
		if got := n.nick(number); got != want {
			t.Errorf("nick(%s) = %q, want %q", number, got, want)
		}
	}
}

// FuzzParseRoom: any input is read without a panic; an address read as a
// fan-out room is in its one form, and Kind agrees with ParseRoom.
func FuzzParseRoom(f *testing.F) {
	for _, s := range []string{memC + "," + memD, string(GroupRoom(groupSID)), memD + "," + memC, ",", "+1,+2", contact} {
		f.Add(s)
	}
	n := New(Config{Provider: ProviderKannel, DefaultCountry: "US", Logger: discard()})
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRoom(transports.ID(s))
		kind, kerr := n.Kind(transports.ID(s))
		if err != nil {
			if !errors.Is(err, transports.ErrInvalidInput) {
				t.Fatalf("ParseRoom(%q): %v does not wrap ErrInvalidInput", s, err)
			}
			if kerr == nil && kind == transports.KindRoom {
				t.Fatalf("Kind(%q) is a room, ParseRoom refuses it: %v", s, err)
			}
			return
		}
		if kerr != nil || kind != transports.KindRoom {
			t.Fatalf("ParseRoom(%q) = %+v, Kind = %v, %v", s, r, kind, kerr)
		}
		if r.Group != "" {
			if GroupRoom(r.Group) != transports.ID(s) {
				t.Fatalf("group %q is not written %q", r.Group, s)
			}
			return
		}
		if id, err := FanOutRoom(r.Members...); err != nil || id != transports.ID(s) {
			t.Fatalf("members %v make %q, %v; read from %q", r.Members, id, err, s)
		}
	})
}

// events is a Sink that keeps what a session delivers.
type events struct {
	mu  sync.Mutex
	got []transports.Event
}

func (e *events) Deliver(ev transports.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// take returns what was delivered since the last take.
func (e *events) take() []transports.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := e.got
	e.got = nil
	return got
}

// TestFanOutRoom: a room of two numbers shows them as occupants in
// national format; a message in it goes to each as a text of its own, in
// order and without delivery reports; the room says so the first time
// only; the echo follows; a member whose text failed is named in the
// room, and only when every text failed is the send an error.
func TestFanOutRoom(t *testing.T) {
	ctx := context.Background()
	f, h := twilioOperator(t)
	creds := h.register(t, "alice@example.org", nil)
	sink := &events{}
	a := h.connectTo(t, "alice@example.org", creds, sink).(*adapter)
	sink.take() // the number she was given
	room, _ := FanOutRoom(memD, memC)

	if _, err := a.Send(ctx, transports.Message{To: room, Room: true, Body: "before joining"}); !errors.Is(err, transports.ErrNotFound) {
		t.Fatalf("a message before joining: %v", err)
	}
	if err := a.JoinRoom(ctx, room, "(555) 111-2222"); !errors.Is(err, transports.ErrConflict) {
		t.Fatalf("joining with a member's nick: %v", err)
	}
	if err := a.JoinRoom(ctx, room, "alice"); err != nil {
		t.Fatal(err)
	}
	want := []transports.Event{
		&transports.OccupantEvent{Room: room, Nick: "(555) 111-2222", OccupantID: memC, Role: transports.RoleParticipant, Affiliation: transports.AffiliationMember},
		&transports.OccupantEvent{Room: room, Nick: "(555) 333-4444", OccupantID: memD, Role: transports.RoleParticipant, Affiliation: transports.AffiliationMember},
		&transports.RoomReadyEvent{Room: room, Nick: "alice", Role: transports.RoleParticipant, Affiliation: transports.AffiliationMember,
			Name: "(555) 111-2222, (555) 333-4444", OccupantID: numA},
	}
	if got := sink.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the join delivered %#v, want %#v", got, want)
	}

	for i, body := range []string{"dinner at 8?", "or 9"} {
		id, err := a.Send(ctx, transports.Message{To: room, Room: true, Body: body, ID: "x" + body})
		if err != nil {
			t.Fatal(err)
		}
		m1, m2 := nextSent(t, f), nextSent(t, f)
		if m1.To != memC || m2.To != memD || m1.From != numA || m2.From != numA || m1.Body != body || m2.Body != body ||
			m1.StatusCallback != "" || m2.StatusCallback != "" {
			t.Fatalf("the provider got %+v and %+v", m1, m2)
		}
		if string(id) != m1.SID {
			t.Fatalf("Send returned %q, the first text is %q", id, m1.SID)
		}
		echo := &transports.MessageEvent{From: room, Room: true, Nick: "alice", OccupantID: numA, RemoteID: id, Body: body, Own: true, EchoOf: "x" + body}
		want := []transports.Event{echo}
		if i == 0 {
			want = []transports.Event{&transports.NoticeEvent{About: room, Text: fanOutNotice}, echo}
		}
		if got := sink.take(); !reflect.DeepEqual(got, want) {
			t.Fatalf("send %d delivered %#v, want %#v", i, got, want)
		}
	}

	f.Unsubscribe(memC)
	id, err := a.Send(ctx, transports.Message{To: room, Room: true, Body: "one gets it"})
	if err != nil {
		t.Fatal(err)
	}
	if m := nextSent(t, f); m.To != memD || string(id) != m.SID {
		t.Fatalf("the provider got %+v, Send returned %q", m, id)
	}
	got := sink.take()
	if len(got) != 2 {
		t.Fatalf("a partly failed send delivered %#v", got)
	}
	if n, ok := got[0].(*transports.NoticeEvent); !ok || n.About != room || !n.Error || !strings.Contains(n.Text, memC) || !strings.Contains(n.Text, "unsubscribed") {
		t.Fatalf("the failure notice is %#v", got[0])
	}
	f.Unsubscribe(memD)
	if _, err := a.Send(ctx, transports.Message{To: room, Room: true, Body: "nobody gets it"}); !errors.Is(err, transports.ErrForbidden) {
		t.Fatalf("a send every member refused: %v", err)
	}
	if err := a.LeaveRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	if err := a.LeaveRoom(ctx, room); !errors.Is(err, transports.ErrNotFound) {
		t.Fatalf("leaving twice: %v", err)
	}
}

// TestTwilioGroup: a group text reaching the user's number is theirs
// (onConversationAdded, told once); its room shows Twilio's participants;
// a message in it is one Conversations message from the user's
// participant; a member's text arrives once as a room message from their
// occupant; forged, unknown and malformed webhooks deliver nothing.
func TestTwilioGroup(t *testing.T) {
	ctx := context.Background()
	f, h := twilioOperator(t)
	creds := h.register(t, "alice@example.org", nil)
	hook := h.public + "twilio/conversations"
	f.SetConversationsURL(opSID, hook)
	ch := f.AddGroup(opSID, numA, "alice-chat", memC, memD)
	room := GroupRoom(ch)

	for range 2 { // the second is Twilio's retry: told once
		if code, err := f.ConversationAdded(ctx, ch, memC); err != nil || code != http.StatusOK {
			t.Fatalf("onConversationAdded: HTTP %d, %v", code, err)
		}
	}
	got := h.rec.wait(t, 1)
	if n, ok := got[0].ev.(*transports.NoticeEvent); len(got) != 1 || !ok || got[0].user != "alice@example.org" || n.About != room ||
		!strings.Contains(n.Text, "(555) 111-2222") || n.Invite != room {
		t.Fatalf("the new group was told as %#v", got)
	}

	sink := &events{}
	a := h.connectTo(t, "alice@example.org", creds, sink).(*adapter)
	sink.take()
	if err := a.JoinRoom(ctx, room, "alice"); err != nil {
		t.Fatal(err)
	}
	evs := sink.take()
	if len(evs) != 3 {
		t.Fatalf("the join delivered %#v", evs)
	}
	for i, num := range []string{memC, memD} {
		if o, ok := evs[i].(*transports.OccupantEvent); !ok || o.OccupantID != num || o.Nick != a.net.nick(num) {
			t.Fatalf("occupant %d is %#v, want %s", i, evs[i], num)
		}
	}
	if r, ok := evs[2].(*transports.RoomReadyEvent); !ok || r.Nick != "alice" || r.Name != "(555) 111-2222, (555) 333-4444" {
		t.Fatalf("the room is ready as %#v", evs[2])
	}

	id, err := a.Send(ctx, transports.Message{To: room, Room: true, Body: "hi all", ID: "g1"})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := f.NextConversationMessage(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if cm.Conversation != ch || cm.Author != "alice-chat" || cm.Body != "hi all" || string(id) != cm.SID || f.MessageRequests() != 0 {
		t.Fatalf("Twilio got %+v (Send returned %q, %d single texts)", cm, id, f.MessageRequests())
	}
	if got := sink.take(); len(got) != 1 || !reflect.DeepEqual(got[0], &transports.MessageEvent{From: room, Room: true, Nick: "alice",
		OccupantID: numA, RemoteID: id, Body: "hi all", Own: true, EchoOf: "g1"}) {
		t.Fatalf("the echo is %#v", got)
	}

	sid := ""
	for range 2 { // the second is a retry: delivered once
		code, s, err := f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memD, Body: "see you there", SID: sid})
		if err != nil || code != http.StatusOK {
			t.Fatalf("onMessageAdded: HTTP %d, %v", code, err)
		}
		sid = s
	}
	got = h.rec.wait(t, 2)
	wantMsg := &transports.MessageEvent{From: room, Room: true, Nick: "(555) 333-4444", OccupantID: memD,
		RemoteID: transports.RemoteID(sid), Body: "see you there", Mention: true}
	if len(got) != 2 || got[1].user != "alice@example.org" || !reflect.DeepEqual(got[1].ev, wantMsg) {
		t.Fatalf("the group text was delivered as %#v, want %#v", got, wantMsg)
	}

	base := url.Values{"EventType": {"onMessageAdded"}, "AccountSid": {opSID}, "ConversationSid": {ch},
		"MessageSid": {"IM0123456789abcdef0123456789abcdef"}, "Author": {memC}, "Body": {"forged"}}
	unknown := cloneWith(base, "ConversationSid", "CHffffffffffffffffffffffffffffffff")
	for name, c := range map[string]struct {
		token  string
		params url.Values
		status int
	}{
		"signed with another token": {"guessed", base, http.StatusForbidden},
		"unsigned":                  {"", base, http.StatusForbidden},
		"an unknown group":          {opToken, unknown, http.StatusNotFound},
		"a malformed group":         {opToken, cloneWith(base, "ConversationSid", "CH12"), http.StatusBadRequest},
		"an author no number":       {opToken, cloneWith(base, "Author", "bob"), http.StatusBadRequest},
		"an event of no use":        {opToken, cloneWith(base, "EventType", "onConversationStateUpdated"), http.StatusOK},
	} {
		if code, _ := webhook(t, hook, c.token, c.params); code != c.status {
			t.Errorf("%s: HTTP %d, want %d", name, code, c.status)
		}
	}
	if got := h.rec.events(); len(got) != 2 {
		t.Fatalf("bad webhooks delivered %#v", got[2:])
	}
}

// cloneWith is params with key set to value.
func cloneWith(params url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, v := range params {
		out[k] = append([]string(nil), v...)
	}
	out.Set(key, value)
	return out
}

// TestOwnModeGroup: in own mode a group text's webhooks are checked with
// the auth token of the user whose number it texts, read from their
// registration without a session; another account's token is refused,
// and the user's session sends through their own account.
func TestOwnModeGroup(t *testing.T) {
	ctx := context.Background()
	f, h := twilioOwn(t)
	creds := h.register(t, "alice@example.org", transports.Credentials{"account_sid": ownSID, "auth_token": ownToken, "phone": ownNum})
	hook := h.public + "twilio/conversations"
	f.SetConversationsURL(ownSID, hook)
	ch := f.AddGroup(ownSID, ownNum, "", memC, memD)
	added := url.Values{"EventType": {"onConversationAdded"}, "AccountSid": {ownSID}, "ConversationSid": {ch},
		"MessagingBinding.ProjectedAddress": {ownNum}, "MessagingBinding.AuthorAddress": {memC}}
	if code, _ := webhook(t, hook, "other-token", added); code != http.StatusForbidden {
		t.Fatalf("onConversationAdded signed with another account's token: HTTP %d", code)
	}
	if code, err := f.ConversationAdded(ctx, ch, memC); err != nil || code != http.StatusOK {
		t.Fatalf("onConversationAdded: HTTP %d, %v", code, err)
	}
	if code, _, err := f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memC, Body: "hey"}); err != nil || code != http.StatusOK {
		t.Fatalf("onMessageAdded: HTTP %d, %v", code, err)
	}
	got := h.rec.wait(t, 2)
	if m, ok := got[1].ev.(*transports.MessageEvent); !ok || got[1].user != "alice@example.org" || m.From != GroupRoom(ch) || m.Body != "hey" {
		t.Fatalf("delivered %#v", got)
	}

	a := h.connect(t, "alice@example.org", creds)
	if err := a.(transports.Rooms).JoinRoom(ctx, GroupRoom(ch), "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(ctx, transports.Message{To: GroupRoom(ch), Room: true, Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	// No participant identity: the user's number is the Author.
	if m, err := f.NextConversationMessage(10 * time.Second); err != nil || m.Conversation != ch || m.Author != ownNum {
		t.Fatalf("Twilio got %+v, %v", m, err)
	}
}

// TestConversationsURL: Twilio's own Conversations API beside Twilio's
// REST API, the api_url of a provider copying Twilio's, or what is
// configured.
func TestConversationsURL(t *testing.T) {
	for _, tt := range []struct{ api, conv, want string }{
		{"", "", DefaultTwilioConversations},
		{"https://api.example.net/", "", "https://api.example.net"},
		{"https://api.example.net", "https://conv.example.net/", "https://conv.example.net"},
	} {
		n := New(Config{Provider: ProviderTwilio, Twilio: TwilioConfig{APIURL: tt.api, ConversationsURL: tt.conv, AccountSID: opSID, AuthToken: opToken}})
		if got := n.twilio.conv; got != tt.want {
			t.Errorf("api_url %q, conversations_url %q: %q, want %q", tt.api, tt.conv, got, tt.want)
		}
	}
}

// TestRoomFiles: files shared in a fan-out room go to each member as the
// MMS's media; in a Twilio group, whose messages take no media URL, as
// links in the text.
func TestRoomFiles(t *testing.T) {
	ctx := context.Background()
	f, h := twilioOperator(t)
	creds := h.register(t, "alice@example.org", nil)
	f.SetConversationsURL(opSID, h.public+"twilio/conversations")
	ch := f.AddGroup(opSID, numA, "alice-chat", memC, memD)
	if code, err := f.ConversationAdded(ctx, ch, memC); err != nil || code != http.StatusOK {
		t.Fatalf("onConversationAdded: HTTP %d, %v", code, err)
	}
	a := h.connect(t, "alice@example.org", creds).(*adapter)
	fanOut, _ := FanOutRoom(memC, memD)
	for _, room := range []transports.ID{fanOut, GroupRoom(ch)} {
		if err := a.JoinRoom(ctx, room, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	const photo = "https://upload.example.org/photo.jpg"
	files := []transports.File{{URL: photo, Name: "photo.jpg", Type: "image/jpeg"}}
	if _, err := a.SendFiles(ctx, transports.Message{To: fanOut, Room: true, Files: files}); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{memC, memD} {
		if m := nextSent(t, f); m.To != to || m.Body != "" || !reflect.DeepEqual(m.Media, []string{photo}) {
			t.Fatalf("the provider got %+v, want the photo as media to %s", m, to)
		}
	}
	if _, err := a.SendFiles(ctx, transports.Message{To: GroupRoom(ch), Room: true, Body: "look", Files: files}); err != nil {
		t.Fatal(err)
	}
	if m, err := f.NextConversationMessage(10 * time.Second); err != nil || m.Body != "look\n"+photo || m.MediaSid != "" {
		t.Fatalf("Twilio got %+v, %v", m, err)
	}
}
