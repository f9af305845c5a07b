package e2e_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
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
		return el.Name.Local == "message" && el.Attr("from") == room && strings.Contains(body(el), memberCNick) && strings.Contains(body(el), "join")
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
