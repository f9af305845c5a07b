package e2e_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/sms"
	"github.com/switchboard-im/switchboard/sms/twiliotest"
)

const (
	memberC     = "+15551112222"
	memberCNick = "(555) 111-2222"
	memberD     = "+15553334444"
	memberDNick = "(555) 333-4444"
	memberE     = "+15556667777"
	memberENick = "(555) 666-7777"
)

// registerOperator registers the user of c in operator mode (the pool
// gives the number) and goes online.
func registerOperator(t *testing.T, c *testenv.Client) {
	t.Helper()
	res := c.IQ(t, `<iq type="set" to="`+smsGW+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field></x></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("registration: %s", res)
	}
	c.Send(t, `<presence to="`+smsGW+`" type="subscribed"/>`)
	c.Send(t, `<presence/>`)
}

// joinGroup joins room as alice and checks its occupants: the members'
// numbers in national format, then her own presence.
func joinGroup(t *testing.T, c *testenv.Client, room string, nicks ...string) {
	t.Helper()
	c.Send(t, `<presence to="`+room+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	for _, n := range nicks {
		c.Expect(t, "the occupant "+n, isPresenceFrom(room+"/"+n))
	}
	c.Expect(t, "her own presence", isPresenceFrom(room+"/alice", "110"))
}

// TestSMSGroupTwilio: a group text (Twilio Conversations) that reaches
// alice's number is announced from its room; a member's text while she
// is in no room reaches her one to one from the member's occupant; she
// joins the room and sees the members; her message is one Conversations
// message from her participant and is reflected to her; a member's text
// arrives in the room from the member's occupant; a member added to the
// group joins the room and one removed leaves it; a forged webhook is
// refused and delivers nothing.
func TestSMSGroupTwilio(t *testing.T) {
	s := newTwilioStack(t, sms.ModeOperator)
	ctx := context.Background()
	s.f.SetConversationsURL(twilioSID, s.public+"twilio/conversations")
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	registerOperator(t, c)
	ch := s.f.AddGroup(twilioSID, aliceNumber, "alice-chat", memberC, memberD)
	room := strings.ToLower(ch) + "%group@" + smsGW

	if code, err := s.f.ConversationAdded(ctx, ch, memberC); err != nil || code != http.StatusOK {
		t.Fatalf("onConversationAdded: HTTP %d, %v", code, err)
	}
	c.Expect(t, "the new group's announcement", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == room && strings.Contains(body(el), memberCNick) && strings.Contains(body(el), "join") &&
			strings.HasSuffix(body(el), " "+room)
	})

	// Not in the room: one to one, from the member's occupant.
	if code, _, err := s.f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memberD, Body: "anyone for dinner?"}); err != nil || code != http.StatusOK {
		t.Fatalf("onMessageAdded: HTTP %d, %v", code, err)
	}
	c.Expect(t, "the group text one to one", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "chat" && el.Attr("from") == room+"/"+memberDNick && body(el) == "anyone for dinner?"
	})

	joinGroup(t, c, room, memberCNick, memberDNick)
	c.Send(t, `<message type="groupchat" id="g1" to="`+room+`"><body>Count me in</body></message>`)
	m, err := s.f.NextConversationMessage(timeout)
	if err != nil {
		t.Fatal(err)
	}
	if m.Conversation != ch || m.Author != "alice-chat" || m.Body != "Count me in" || s.f.MessageRequests() != 0 {
		t.Fatalf("Twilio got %+v and %d single texts", m, s.f.MessageRequests())
	}
	c.Expect(t, "her message reflected", isGroupchat(room+"/alice", "Count me in"))

	if code, _, err := s.f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memberC, Body: "Great, 8pm"}); err != nil || code != http.StatusOK {
		t.Fatalf("onMessageAdded: HTTP %d, %v", code, err)
	}
	c.Expect(t, "the member's text in the room", isGroupchat(room+"/"+memberCNick, "Great, 8pm"))

	// A file in the group text: read from Twilio's Media Content Service
	// and uploaded, linked in the room message.
	photo := "\xff\xd8\xff\xe0 group photo"
	if code, _, err := s.f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memberC, Body: "the view",
		Files: []twiliotest.GroupFile{{Name: "view.jpg", Type: "image/jpeg", Data: []byte(photo)}}}); err != nil || code != http.StatusOK {
		t.Fatalf("onMessageAdded with a file: HTTP %d, %v", code, err)
	}
	fm := c.Expect(t, "the group text's file in the room", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "groupchat" && el.Attr("from") == room+"/"+memberCNick && strings.HasPrefix(body(el), "the view")
	})
	var link string
	for _, ch := range fm.Children {
		if ch.Name.Space == "jabber:x:oob" && ch.Name.Local == "x" {
			link = ch.ChildText("jabber:x:oob", "url")
		}
	}
	if link == "" || !strings.Contains(body(fm), link) {
		t.Fatalf("the file is not linked:\n%s", fm)
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(got) != photo {
		t.Fatalf("the uploaded file is %q, %v; want %q", got, err, photo)
	}

	// Membership changes come live: a member added joins, one removed leaves.
	if code, err := s.f.AddParticipant(ctx, ch, memberE); err != nil || code != http.StatusOK {
		t.Fatalf("onParticipantAdded: HTTP %d, %v", code, err)
	}
	c.Expect(t, "the new member's join", func(el *testenv.Element) bool {
		return isPresenceFrom(room+"/"+memberENick)(el) && el.Attr("type") == ""
	})
	if code, err := s.f.RemoveParticipant(ctx, ch, memberD); err != nil || code != http.StatusOK {
		t.Fatalf("onParticipantRemoved: HTTP %d, %v", code, err)
	}
	c.Expect(t, "the removed member's leave", func(el *testenv.Element) bool {
		return isPresenceFrom(room+"/"+memberDNick)(el) && el.Attr("type") == "unavailable"
	})

	forged := url.Values{"EventType": {"onMessageAdded"}, "AccountSid": {twilioSID}, "ConversationSid": {ch},
		"MessageSid": {"IM0123456789abcdef0123456789abcdef"}, "Author": {memberC}, "Body": {"forged text"}}
	hook := s.public + "twilio/conversations"
	if code, _, err := twiliotest.Post(ctx, hook, twiliotest.Sign("guessed-token", hook, forged), forged); err != nil || code != http.StatusForbidden {
		t.Fatalf("a forged group text: HTTP %d, %v; want 403", code, err)
	}
	c.ExpectNone(t, time.Second, func(el *testenv.Element) bool { return body(el) == "forged text" })
}

// TestSMSGroupStartTwilio: with group_texts on, alice's first message in
// the room of two numbers starts a group text (one Conversation with the
// two members and her number as the projected address of her
// participant, no single text), the room tells her the group's room,
// and her message goes into the group; her next message in the same
// room goes into the same group; a member's answer reaches her from the
// group room's occupant, and once she joins that room, what she writes
// there goes into the same group.
func TestSMSGroupStartTwilio(t *testing.T) {
	s := newTwilioStackWith(t, sms.ModeOperator, func(c *sms.Config) { c.Twilio.GroupTexts = true })
	ctx := context.Background()
	s.f.SetConversationsURL(twilioSID, s.public+"twilio/conversations")
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	registerOperator(t, c)
	fanOut := memberC + "," + memberD + "@" + smsGW

	// The numbers unsorted are another address of the same room: refused
	// with the one to use (XEP-0100 gives it from what the user types).
	unsorted := memberD + "," + memberC + "@" + smsGW
	c.Send(t, `<presence to="`+unsorted+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	c.Expect(t, "the unsorted address refused", func(el *testenv.Element) bool {
		cond, text := stanzaError(el)
		return el.Name.Local == "presence" && el.Attr("type") == "error" && el.Attr("from") == unsorted+"/alice" &&
			cond == "jid-malformed" && strings.Contains(text, memberC+","+memberD)
	})

	joinGroup(t, c, fanOut, memberCNick, memberDNick)
	c.Send(t, `<message type="groupchat" id="s1" to="`+fanOut+`"><body>Dinner at 8?</body></message>`)
	notice := c.Expect(t, "the group text's notice", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "groupchat" && el.Attr("from") == fanOut && strings.Contains(body(el), "group text")
	})
	c.Expect(t, "her message reflected", isGroupchat(fanOut+"/alice", "Dinner at 8?"))
	created := s.f.CreatedGroups()
	if len(created) != 1 {
		t.Fatalf("%d Conversations created, want 1", len(created))
	}
	ch := created[0]
	groupRoom := strings.ToLower(ch) + "%group@" + smsGW
	if !strings.HasSuffix(body(notice), " "+groupRoom) {
		t.Fatalf("the notice does not end with the group room's address %s:\n%s", groupRoom, notice)
	}
	c.Expect(t, "the invitation to the group's room (XEP-0249)", func(el *testenv.Element) bool {
		if el.Name.Local != "message" || el.Attr("from") != fanOut || el.Attr("type") != "" {
			return false
		}
		for _, x := range el.Children {
			if x.Name.Space == "jabber:x:conference" && x.Name.Local == "x" && x.Attr("jid") == groupRoom && strings.Contains(x.Attr("reason"), "group text") {
				return true
			}
		}
		return false
	})
	number, identity, members, proxies := s.f.GroupParticipants(ch)
	slices.Sort(members)
	if number != aliceNumber || identity != "alice@localhost" || !slices.Equal(members, []string{memberC, memberD}) ||
		!slices.Equal(proxies, []string{aliceNumber, aliceNumber}) {
		t.Fatalf("the group's participants: number %q, identity %q, members %v through %v", number, identity, members, proxies)
	}
	nextGroupText := func(want string) {
		t.Helper()
		m, err := s.f.NextConversationMessage(timeout)
		if err != nil {
			t.Fatal(err)
		}
		if m.Conversation != ch || m.Author != "alice@localhost" || m.Body != want {
			t.Fatalf("Twilio got %+v, want %q in %s from alice's participant", m, want, ch)
		}
	}
	nextGroupText("Dinner at 8?")

	c.Send(t, `<message type="groupchat" id="s2" to="`+fanOut+`"><body>or 9</body></message>`)
	nextGroupText("or 9")
	if n := len(s.f.CreatedGroups()); n != 1 || s.f.MessageRequests() != 0 {
		t.Fatalf("after her second message: %d Conversations, %d single texts; want 1 and 0", n, s.f.MessageRequests())
	}

	if code, _, err := s.f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memberC, Body: "8 works"}); err != nil || code != http.StatusOK {
		t.Fatalf("onMessageAdded: HTTP %d, %v", code, err)
	}
	c.Expect(t, "the member's answer from the group room's occupant", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "chat" && el.Attr("from") == groupRoom+"/"+memberCNick && body(el) == "8 works"
	})

	joinGroup(t, c, groupRoom, memberCNick, memberDNick)
	c.Send(t, `<message type="groupchat" id="s3" to="`+groupRoom+`"><body>See you</body></message>`)
	c.Expect(t, "her message reflected in the group room", isGroupchat(groupRoom+"/alice", "See you"))
	nextGroupText("See you")
	if n := len(s.f.CreatedGroups()); n != 1 || s.f.MessageRequests() != 0 {
		t.Fatalf("in the end: %d Conversations, %d single texts; want 1 and 0", n, s.f.MessageRequests())
	}
}

// TestSMSGroupKannelFanOut: with Kannel, which has no group texts, alice
// joins the room of two numbers and sees them; her message reaches the
// real SMS centre as one text per member from her number, the room says
// once that it fans out, and her message is reflected; a member's answer
// comes one to one.
func TestSMSGroupKannelFanOut(t *testing.T) {
	s := newSMSStack(t)
	s.p.CreateUser(t, "alice", "xmpp-pw")
	c := s.p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	registerOperator(t, c)
	room := memberC + "," + memberD + "@" + smsGW

	joinGroup(t, c, room, memberCNick, memberDNick)
	c.Send(t, `<message type="groupchat" id="f1" to="`+room+`"><body>Meeting moved to 3</body></message>`)
	c.Expect(t, "the fan-out notice", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "groupchat" && el.Attr("from") == room && strings.Contains(body(el), "separate text")
	})
	c.Expect(t, "her message reflected", isGroupchat(room+"/alice", "Meeting moved to 3"))
	got := map[string]bool{}
	for range 2 {
		mt, err := s.k.NextMT(timeout)
		if err != nil {
			t.Fatal(err)
		}
		if mt.From != aliceNumber || mt.Kind != "text" || mt.Text != "Meeting moved to 3" {
			t.Fatalf("the SMS centre got %+v", mt)
		}
		got[mt.To] = true
	}
	if !got[memberC] || !got[memberD] {
		t.Fatalf("the SMS centre got texts to %v, want %s and %s", got, memberC, memberD)
	}

	c.Send(t, `<message type="groupchat" id="f2" to="`+room+`"><body>See you</body></message>`)
	c.Expect(t, "her second message reflected", isGroupchat(room+"/alice", "See you"))
	for range 2 {
		if mt, err := s.k.NextMT(timeout); err != nil || mt.Text != "See you" {
			t.Fatalf("the SMS centre got %+v, %v", mt, err)
		}
	}
	c.ExpectNone(t, time.Second, func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("from") == room && strings.Contains(body(el), "separate text")
	})

	if err := s.k.Receive(memberC, aliceNumber, "ok, 3 it is", false); err != nil {
		t.Fatal(err)
	}
	c.Expect(t, "the answer one to one", func(el *testenv.Element) bool {
		return el.Name.Local == "message" && el.Attr("type") == "chat" && el.Attr("from") == memberC+"@"+smsGW && body(el) == "ok, 3 it is"
	})
}
