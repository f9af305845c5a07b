package sms

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
	"github.com/switchboard-im/switchboard/transports"
)

// TestGroupFiles: files of a group text arrive as attachments of its room
// message, named and typed as the webhook says, whose content is read
// through the Media Content Service (its Media resource, then the
// temporary URL, without credentials); entries the gateway cannot read
// are named in the text.
func TestGroupFiles(t *testing.T) {
	ctx := context.Background()
	f, h := twilioOperator(t)
	h.register(t, "alice@example.org", nil)
	hook := h.public + "twilio/conversations"
	f.SetConversationsURL(opSID, hook)
	ch := f.AddGroup(opSID, numA, "alice-chat", memC, memD)
	if code, err := f.ConversationAdded(ctx, ch, memC); err != nil || code != http.StatusOK {
		t.Fatalf("onConversationAdded: HTTP %d, %v", code, err)
	}
	h.rec.wait(t, 1)

	photo := []byte("\xff\xd8\xff\xe0 a tiny jpeg")
	files := []twiliotest.GroupFile{{Name: "beach.jpg", Type: "image/jpeg", Data: photo}, {Type: "text/vcard", Data: []byte("BEGIN:VCARD")}}
	code, sid, err := f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: memD, Body: "look", Files: files})
	if err != nil || code != http.StatusOK {
		t.Fatalf("onMessageAdded: HTTP %d, %v", code, err)
	}
	got := h.rec.wait(t, 2)
	ev, ok := got[1].ev.(*transports.MessageEvent)
	if !ok || ev.Body != "look" || ev.RemoteID != transports.RemoteID(sid) || len(ev.Attachments) != 2 {
		t.Fatalf("the group text came as %#v", got[1].ev)
	}
	for i, want := range []struct {
		name, typ string
		data      []byte
	}{{"beach.jpg", "image/jpeg", photo}, {"", "text/vcard", []byte("BEGIN:VCARD")}} {
		att := ev.Attachments[i]
		if want.name == "" {
			want.name = att.Name
			if !strings.HasPrefix(att.Name, "ME") || !strings.HasSuffix(att.Name, ".vcf") {
				t.Errorf("file %d is named %q, want ME….vcf", i, att.Name)
			}
		}
		if att.Name != want.name || att.Type != want.typ || att.Size != int64(len(want.data)) {
			t.Errorf("file %d is %q (%s, %d bytes), want %q (%s, %d bytes)", i, att.Name, att.Type, att.Size, want.name, want.typ, len(want.data))
		}
		rc, err := att.Open(ctx)
		if err != nil {
			t.Fatalf("opening file %d: %v", i, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(data) != string(want.data) {
			t.Fatalf("file %d reads %q, %v; want %q", i, data, err, want.data)
		}
	}
	if n := f.MediaFetches(); n != 2 {
		t.Fatalf("the CDN served %d files, want 2", n)
	}

	// Entries the gateway cannot read: named in the text, no attachment.
	base := url.Values{"EventType": {"onMessageAdded"}, "AccountSid": {opSID}, "ConversationSid": {ch},
		"ChatServiceSid": {"IS0123456789abcdef0123456789abcdef"}, "Author": {memC}, "Body": {"see"}}
	for i, c := range []struct {
		name   string
		params url.Values
		body   string
	}{
		{"a malformed media SID", cloneWith(base, "Media", `[{"Sid":"ME12","ContentType":"image/png","Filename":"a.png","Size":3}]`), "a.png"},
		{"no chat service", cloneWith(cloneWith(base, "ChatServiceSid", ""), "Media",
			`[{"Sid":"ME0123456789abcdef0123456789abcdef","ContentType":"image/png","Size":3}]`), "image/png"},
		{"not JSON", cloneWith(base, "Media", `{`), "a file"},
	} {
		params := cloneWith(c.params, "MessageSid", "IM0123456789abcdef0123456789abcde"+string(rune('0'+i)))
		if code, _ := webhook(t, hook, opToken, params); code != http.StatusOK {
			t.Fatalf("%s: HTTP %d", c.name, code)
		}
		got := h.rec.wait(t, 3+i)
		ev := got[2+i].ev.(*transports.MessageEvent)
		want := "see\n[" + c.body + ": a file of the group text, which this gateway cannot fetch]"
		if ev.Body != want || len(ev.Attachments) != 0 {
			t.Errorf("%s: delivered %q with %d files, want %q", c.name, ev.Body, len(ev.Attachments), want)
		}
	}

	// A file the service does not have (of another service) cannot be opened.
	tw := h.net.twilioFor(opSID, opToken)
	if _, err := tw.openGroupMedia(ctx, "IS0123456789abcdef0123456789abcdef", "ME0123456789abcdef0123456789abcdef"); !errors.Is(err, transports.ErrUnavailable) {
		t.Fatalf("opening a file of no service: %v", err)
	}
}
