package twiliotest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
)

// TestConversationsAPI: the Participants list and Messages answer as
// Twilio's Conversations API does (twilio_conversations_v1), errors with
// Twilio's JSON body.
func TestConversationsAPI(t *testing.T) {
	f := twiliotest.New(t)
	f.AddAccount(sid, token, num)
	f.AddAccount("AC00000000000000000000000000000002", "other", "+15550100002")
	ch := f.AddGroup(sid, num, "me", "+15551112222", "+15553334444")

	call := func(method, path, user, pass string, form url.Values) (int, map[string]any) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, f.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, pass)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: the answer is not JSON: %v", method, path, err)
		}
		return res.StatusCode, out
	}

	code, list := call("GET", "/v1/Conversations/"+ch+"/Participants", sid, token, nil)
	parts, _ := list["participants"].([]any)
	if code != 200 || len(parts) != 3 || list["meta"].(map[string]any)["key"] != "participants" {
		t.Fatalf("participants: %d %v", code, list)
	}
	me := parts[0].(map[string]any)
	if me["identity"] != "me" || me["messaging_binding"].(map[string]any)["projected_address"] != num {
		t.Errorf("the user's participant is %v", me)
	}
	member := parts[1].(map[string]any)["messaging_binding"].(map[string]any)
	if member["address"] != "+15551112222" || member["proxy_address"] != num || member["type"] != "sms" {
		t.Errorf("a member's binding is %v", member)
	}

	code, msg := call("POST", "/v1/Conversations/"+ch+"/Messages", sid, token, url.Values{"Author": {"me"}, "Body": {"hi"}})
	if code != 201 || !strings.HasPrefix(msg["sid"].(string), "IM") || msg["conversation_sid"] != ch || msg["author"] != "me" || msg["body"] != "hi" {
		t.Fatalf("message: %d %v", code, msg)
	}
	if m, err := f.NextConversationMessage(time.Second); err != nil || m.SID != msg["sid"] || m.Body != "hi" || m.Author != "me" {
		t.Fatalf("NextConversationMessage = %+v, %v", m, err)
	}

	errs := []struct {
		name, method, path, user, pass string
		form                           url.Values
		status, code                   int
	}{
		{"wrong token", "GET", "/v1/Conversations/" + ch + "/Participants", sid, "nope", nil, 401, 20003},
		{"another account's group", "GET", "/v1/Conversations/" + ch + "/Participants", "AC00000000000000000000000000000002", "other", nil, 404, 20404},
		{"no such group", "POST", "/v1/Conversations/CH00000000000000000000000000000000/Messages", sid, token, url.Values{"Body": {"x"}}, 404, 20404},
		{"no body or media", "POST", "/v1/Conversations/" + ch + "/Messages", sid, token, url.Values{"Author": {"me"}}, 400, 50511},
		{"a media SID that is none", "POST", "/v1/Conversations/" + ch + "/Messages", sid, token, url.Values{"MediaSid": {"ME12"}}, 400, 20001},
	}
	for _, e := range errs {
		code, body := call(e.method, e.path, e.user, e.pass, e.form)
		if code != e.status || body["code"] != float64(e.code) || body["status"] != float64(e.status) || body["message"] == "" || body["more_info"] == nil {
			t.Errorf("%s: %d %v; want %d with code %d", e.name, code, body, e.status, e.code)
		}
	}
}

// TestGroupWebhooks: onConversationAdded and onMessageAdded are form
// POSTs to the service's post-event URL, signed with the account's auth
// token over that URL and the parameters.
func TestGroupWebhooks(t *testing.T) {
	f := twiliotest.New(t)
	f.AddAccount(sid, token, num)
	ch := f.AddGroup(sid, num, "me", "+15551112222")
	got := make(chan url.Values, 2)
	var target string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost ||
			r.Header.Get("X-Twilio-Signature") != twiliotest.Sign(token, target, r.PostForm) {
			http.Error(w, "bad", http.StatusForbidden)
			return
		}
		got <- r.PostForm
	}))
	t.Cleanup(srv.Close)
	target = srv.URL + "/hooks/sms/twilio/conversations"
	ctx := context.Background()
	if _, _, err := f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: "+15551112222", Body: "x"}); err == nil {
		t.Fatal("a webhook without a post-event URL was sent")
	}
	f.SetConversationsURL(sid, target)
	if code, err := f.ConversationAdded(ctx, ch, "+15551112222"); err != nil || code != 200 {
		t.Fatalf("ConversationAdded: %d, %v", code, err)
	}
	added := <-got
	if added.Get("EventType") != "onConversationAdded" || added.Get("ConversationSid") != ch || added.Get("AccountSid") != sid ||
		added.Get("MessagingBinding.ProjectedAddress") != num || added.Get("MessagingBinding.AuthorAddress") != "+15551112222" {
		t.Errorf("onConversationAdded = %v", added)
	}
	code, msid, err := f.ReceiveGroup(ctx, twiliotest.GroupIncoming{Conversation: ch, Author: "+15551112222", Body: "hello group"})
	if err != nil || code != 200 || !strings.HasPrefix(msid, "IM") {
		t.Fatalf("ReceiveGroup: %d %q, %v", code, msid, err)
	}
	msg := <-got
	if msg.Get("EventType") != "onMessageAdded" || msg.Get("MessageSid") != msid || msg.Get("Author") != "+15551112222" ||
		msg.Get("Body") != "hello group" || !strings.HasPrefix(msg.Get("ParticipantSid"), "MB") {
		t.Errorf("onMessageAdded = %v", msg)
	}
}
