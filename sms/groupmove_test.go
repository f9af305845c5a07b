package sms

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
	"github.com/switchboard-im/switchboard/transports"
)

// TestReassignedNumber: when an administrator gives alice another number,
// the group texts of her old one are no longer hers (she is told; their
// webhooks are 404) and the receipt of a text she sent from it still
// reaches her; once the number is bob's, its group texts are his (he is
// told, and they reach him), and a report of a text nobody noted goes to
// the number's owner.
func TestReassignedNumber(t *testing.T) {
	ctx := context.Background()
	f := twiliotest.New(t)
	f.AddAccount(opSID, opToken, numA, numB, numC)
	h := newHookServer(t, Config{Provider: ProviderTwilio, DefaultCountry: "US", Numbers: []string{numA, numB},
		Twilio: TwilioConfig{APIURL: f.URL, AccountSID: opSID, AuthToken: opToken}, RetryWait: time.Millisecond})
	creds := h.register(t, "alice@example.org", nil)
	f.SetConversationsURL(opSID, h.public+"twilio/conversations")
	ch := f.AddGroup(opSID, numA, "alice-chat", memC, memD)
	room := string(GroupRoom(ch))
	if code, err := f.ConversationAdded(ctx, ch, memC); err != nil || code != http.StatusOK {
		t.Fatalf("onConversationAdded: HTTP %d, %v", code, err)
	}
	h.rec.wait(t, 1)
	a := h.connect(t, "alice@example.org", creds)
	if _, err := a.Send(ctx, transports.Message{To: contact, Body: "on my way"}); err != nil {
		t.Fatal(err)
	}
	sent := nextSent(t, f)

	notice := func(i int, user string, words ...string) {
		t.Helper()
		got := h.rec.wait(t, i+1)
		n, ok := got[i].ev.(*transports.NoticeEvent)
		if !ok || got[i].user != user {
			t.Fatalf("event %d is %#v to %s, want a notice to %s", i, got[i].ev, got[i].user, user)
		}
		for _, w := range words {
			if !strings.Contains(n.Text, w) {
				t.Fatalf("the notice to %s %q does not say %q", user, n.Text, w)
			}
		}
	}
	if _, err := h.net.Assign(ctx, "alice@example.org", numC); err != nil {
		t.Fatal(err)
	}
	notice(1, "alice@example.org", numA, "no longer yours", room)
	if code, _, err := f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memC, Body: "hello?"}); err != nil || code != http.StatusNotFound {
		t.Fatalf("a group text of a number nobody has: HTTP %d, %v; want 404", code, err)
	}

	if code, err := f.ReportStatus(ctx, sent, "delivered", ""); err != nil || code != http.StatusNoContent {
		t.Fatalf("the status of alice's text: HTTP %d, %v", code, err)
	}
	got := h.rec.wait(t, 3)
	if r, ok := got[2].ev.(*transports.ReceiptEvent); !ok || got[2].user != "alice@example.org" || !r.Delivered || string(r.Remote) != sent.SID {
		t.Fatalf("the receipt came as %#v to %s", got[2].ev, got[2].user)
	}

	if _, err := h.net.Assign(ctx, "bob@example.org", numA); err != nil {
		t.Fatal(err)
	}
	notice(3, "bob@example.org", numA, "yours now")
	if n := h.rec.wait(t, 4)[3].ev.(*transports.NoticeEvent); string(n.Invite) != room {
		t.Fatalf("the notice to bob invites to %q, want %q", n.Invite, room)
	}
	if code, _, err := f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memC, Body: "hi bob"}); err != nil || code != http.StatusOK {
		t.Fatalf("a group text of bob's number: HTTP %d, %v", code, err)
	}
	got = h.rec.wait(t, 5)
	if m, ok := got[4].ev.(*transports.MessageEvent); !ok || got[4].user != "bob@example.org" || m.Body != "hi bob" || m.From != GroupRoom(ch) {
		t.Fatalf("the group text came as %#v to %s", got[4].ev, got[4].user)
	}
	if g, err := h.net.group(ctx, ch); err != nil || g.User != "bob@example.org" || g.Number != numA {
		t.Fatalf("the group's record is %+v, %v", g, err)
	}

	other := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "AccountSid": {opSID}, "From": {numA}, "To": {contact},
		"MessageStatus": {"failed"}, "ApiVersion": {"2010-04-01"}}
	if code, _ := webhook(t, h.public+"twilio/status", opToken, other); code != http.StatusNoContent {
		t.Fatalf("the status of a text not noted: HTTP %d", code)
	}
	got = h.rec.wait(t, 6)
	if r, ok := got[5].ev.(*transports.ReceiptEvent); !ok || got[5].user != "bob@example.org" || r.Error == "" {
		t.Fatalf("the report of a text not noted came as %#v to %s", got[5].ev, got[5].user)
	}

	// Bob leaves the gateway: the number is free, its groups nobody's.
	if err := h.net.Unregister(ctx, "bob@example.org", transports.Credentials{}); err != nil {
		t.Fatal(err)
	}
	if g, err := h.net.group(ctx, ch); err != nil || g.User != "" || g.Number != numA {
		t.Fatalf("after bob unregistered the group's record is %+v, %v; want nobody's", g, err)
	}
	if code, _, err := f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memC, Body: "bob?"}); err != nil || code != http.StatusNotFound {
		t.Fatalf("a group text of an unregistered user's number: HTTP %d, %v; want 404", code, err)
	}
}
