package sms

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

const (
	ownSID   = "AC00000000000000000000000000000002"
	ownToken = "users-own-token"
	ownNum   = "+15550109999"
)

func twilioOwn(t *testing.T) (*twiliotest.Server, *hookServer) {
	t.Helper()
	f := twiliotest.New(t)
	f.AddAccount(ownSID, ownToken, ownNum)
	f.AddAccount("AC00000000000000000000000000000003", "other-token", "+15550108888")
	h := newHookServer(t, Config{Provider: ProviderTwilio, Mode: ModeOwn, DefaultCountry: "US", Twilio: TwilioConfig{APIURL: f.URL}})
	return f, h
}

// TestOwnValidate: the user's account, token and number are checked by a
// real API call.
func TestOwnValidate(t *testing.T) {
	_, h := twilioOwn(t)
	if got := len(h.net.LoginFields()); got != 3 {
		t.Fatalf("own mode asks %d fields, want 3", got)
	}
	tests := []struct {
		name  string
		creds transports.Credentials
		want  error // nil: accepted
		text  string
	}{
		{"good", transports.Credentials{"account_sid": ownSID, "auth_token": ownToken, "phone": ownNum}, nil, ""},
		{"good, typed nationally", transports.Credentials{"account_sid": ownSID, "auth_token": ownToken, "phone": "(555) 010-9999"}, nil, ""},
		{"wrong token", transports.Credentials{"account_sid": ownSID, "auth_token": "nope", "phone": ownNum}, transports.ErrBadCredentials, "Authenticate (error 20003)"},
		{"unknown account", transports.Credentials{"account_sid": "AC99", "auth_token": ownToken, "phone": ownNum}, transports.ErrBadCredentials, "error 20003"},
		{"another account's number", transports.Credentials{"account_sid": ownSID, "auth_token": ownToken, "phone": "+15550108888"}, transports.ErrBadCredentials, "not a number of account"},
		{"not a number", transports.Credentials{"account_sid": ownSID, "auth_token": ownToken, "phone": "hello"}, transports.ErrInvalidInput, "not a phone number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.net.Validate(context.Background(), tt.creds)
			if tt.want == nil && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tt.want != nil && (!errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text)) {
				t.Fatalf("Validate: %v; want %v saying %q", err, tt.want, tt.text)
			}
		})
	}
}

// TestOwnMode: the user's number is theirs alone; texts go out through
// their account; their webhooks are checked with the auth token of their
// registration, whether or not their session runs.
func TestOwnMode(t *testing.T) {
	f, h := twilioOwn(t)
	ctx := context.Background()
	creds := h.register(t, "alice@example.org", transports.Credentials{"account_sid": ownSID, "auth_token": ownToken, "phone": "555 010 9999"})
	if creds["phone"] != ownNum {
		t.Fatalf("stored phone = %q, want %s", creds["phone"], ownNum)
	}
	if _, err := h.net.Register(ctx, "bob@example.org", transports.Credentials{"account_sid": ownSID, "auth_token": ownToken, "phone": ownNum}); !errors.Is(err, transports.ErrConflict) {
		t.Fatalf("bob registering alice's number: %v, want ErrConflict", err)
	}
	if h.net.Capabilities().StayConnected {
		t.Fatal("own-mode sessions still claim they must stay connected")
	}

	in := h.public + "twilio/inbound"
	text := func(sid, to string) url.Values {
		return url.Values{"MessageSid": {sid}, "AccountSid": {ownSID}, "From": {contact}, "To": {to}, "Body": {"hi " + sid}}
	}
	// No session runs: the token comes from her registration.
	refused := []struct {
		name   string
		token  string
		params url.Values
		status int
	}{
		{"unsigned", "", text("SMown0", ownNum), http.StatusForbidden},
		{"signed with another account's token", "other-token", text("SMown0", ownNum), http.StatusForbidden},
		{"signed with the operator's token", opToken, text("SMown0", ownNum), http.StatusForbidden},
		{"a number nobody registered", "other-token", text("SMown0", "+15550108888"), http.StatusForbidden},
		{"not a number", ownToken, text("SMown0", "alice"), http.StatusForbidden},
	}
	for _, tt := range refused {
		if code, _ := webhook(t, in, tt.token, tt.params); code != tt.status {
			t.Fatalf("%s: HTTP %d, want %d", tt.name, code, tt.status)
		}
	}
	if code, _ := webhook(t, in, ownToken, text("SMown1", ownNum)); code != http.StatusOK {
		t.Fatalf("signed with alice's token, no session: HTTP %d, want 200", code)
	}
	if got := h.rec.wait(t, 1); got[0].user != "alice@example.org" || got[0].ev.(*transports.MessageEvent).Body != "hi SMown1" {
		t.Fatalf("delivered %+v", got)
	}
	// Her registration cannot be read: the provider is asked to retry.
	h.mu.Lock()
	h.credsErr = transports.ErrUnavailable
	h.mu.Unlock()
	if code, _ := webhook(t, in, ownToken, text("SMown2", ownNum)); code != http.StatusServiceUnavailable {
		t.Fatalf("registration unreadable: HTTP %d, want 503", code)
	}
	h.mu.Lock()
	h.credsErr = nil
	h.mu.Unlock()

	a := h.connect(t, "alice@example.org", creds)
	if code, _ := webhook(t, in, ownToken, text("SMown2", ownNum)); code != http.StatusOK {
		t.Fatalf("with her session: HTTP %d, want 200", code)
	}
	if _, err := a.Send(ctx, transports.Message{To: contact, Body: "from my own number"}); err != nil {
		t.Fatal(err)
	}
	m := nextSent(t, f)
	if m.Account != ownSID || m.From != ownNum || m.Body != "from my own number" {
		t.Fatalf("the provider got %+v", m)
	}
	a.Close()
	// The delivery report, signed with her token, after her session ended.
	if code, err := f.ReportStatus(ctx, m, "delivered", ""); err != nil || code != http.StatusNoContent {
		t.Fatalf("status callback: HTTP %d, %v", code, err)
	}
	got := h.rec.wait(t, 3)
	if r, ok := got[2].ev.(*transports.ReceiptEvent); !ok || !r.Delivered || string(r.Remote) != m.SID || got[2].user != "alice@example.org" {
		t.Fatalf("delivered %+v", got[2])
	}

	// Her registration is gone but the number index is stale: refused.
	h.forget("alice@example.org")
	if code, _ := webhook(t, in, ownToken, text("SMown3", ownNum)); code != http.StatusForbidden {
		t.Fatalf("registration gone: HTTP %d, want 403", code)
	}
	if err := h.net.Unregister(ctx, "alice@example.org", creds); err != nil {
		t.Fatal(err)
	}
	if _, err := h.net.Register(ctx, "bob@example.org", transports.Credentials{"account_sid": ownSID, "auth_token": ownToken, "phone": ownNum}); err != nil {
		t.Fatalf("bob registering the number alice released: %v", err)
	}
	if n := len(h.rec.events()); n != 3 {
		t.Fatalf("%d events delivered, want 3", n)
	}
}

// TestOperatorPool: each user gets a number of their own, keeps it when
// registering again, and a released number goes to the next user.
func TestOperatorPool(t *testing.T) {
	_, h := twilioOperator(t)
	ctx := context.Background()
	steps := []struct {
		do, user, want string // want: the number, or part of the error
	}{
		{"register", "alice@x", numA},
		{"register", "bob@x", numB},
		{"register", "alice@x", numA},
		{"register", "carol@x", "no free number"},
		{"unregister", "alice@x", ""},
		{"register", "carol@x", numA},
		{"unregister", "alice@x", ""}, // stale: carol keeps it
		{"register", "dave@x", "no free number"},
	}
	numbers := map[string]string{"alice@x": numA}
	for i, s := range steps {
		switch s.do {
		case "register":
			got, err := h.net.Register(ctx, s.user, nil)
			if strings.HasPrefix(s.want, "+") {
				if err != nil || got["number"] != s.want {
					t.Fatalf("step %d: Register(%s) = %v, %v; want %s", i, s.user, got, err, s.want)
				}
				numbers[s.user] = s.want
			} else if !errors.Is(err, transports.ErrLimit) || !strings.Contains(err.Error(), s.want) {
				t.Fatalf("step %d: Register(%s): %v; want ErrLimit %q", i, s.user, err, s.want)
			}
		case "unregister":
			if err := h.net.Unregister(ctx, s.user, transports.Credentials{"number": numbers[s.user]}); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
	}
}

func TestConfigCheck(t *testing.T) {
	good := func() Config {
		return Config{Provider: ProviderTwilio, DefaultCountry: "US", Numbers: []string{numA},
			Twilio: TwilioConfig{AccountSID: opSID, AuthToken: opToken}}
	}
	tests := []struct {
		name   string
		change func(*Config)
		key    string // "" = no problem
	}{
		{"good twilio", func(*Config) {}, ""},
		{"good kannel", func(c *Config) {
			c.Provider = ProviderKannel
			c.Kannel = KannelConfig{SendSMSURL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "u", Password: "p", Token: "0123456789abcdef"}
		}, ""},
		{"good own mode", func(c *Config) { c.Mode, c.Numbers, c.Twilio = ModeOwn, nil, TwilioConfig{} }, ""},
		{"no provider", func(c *Config) { c.Provider = "" }, "provider"},
		{"unknown mode", func(c *Config) { c.Mode = "shared" }, "mode"},
		{"operator without account", func(c *Config) { c.Twilio.AuthToken = "" }, "twilio"},
		{"bad api_url", func(c *Config) { c.Twilio.APIURL = "ftp://x" }, "twilio.api_url"},
		{"bad conversations_url", func(c *Config) { c.Twilio.ConversationsURL = "ftp://x" }, "twilio.conversations_url"},
		{"conversations_url", func(c *Config) { c.Twilio.ConversationsURL = "https://conversations.example.net" }, ""},
		{"messaging service", func(c *Config) { c.Twilio.MessagingServiceSID = "MG0123456789abcdef0123456789abcdef" }, ""},
		{"not a messaging service", func(c *Config) { c.Twilio.MessagingServiceSID = "PN0123456789abcdef0123456789abcdef" }, "twilio.messaging_service_sid"},
		{"messaging service in own mode", func(c *Config) {
			c.Mode, c.Numbers = ModeOwn, nil
			c.Twilio = TwilioConfig{MessagingServiceSID: "MG0123456789abcdef0123456789abcdef"}
		}, "twilio.messaging_service_sid"},
		{"no numbers", func(c *Config) { c.Numbers = nil }, "numbers"},
		{"not E.164", func(c *Config) { c.Numbers = []string{"5551234567"} }, "numbers"},
		{"twice", func(c *Config) { c.Numbers = []string{numA, numA} }, "numbers"},
		{"bad country", func(c *Config) { c.DefaultCountry = "XX" }, "default_country"},
		{"negative segments", func(c *Config) { c.MaxSegments = -1 }, "max_segments"},
		{"kannel short token", func(c *Config) {
			c.Provider = ProviderKannel
			c.Kannel = KannelConfig{SendSMSURL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "u", Password: "p", Token: "short"}
		}, "kannel.token"},
		{"kannel allow_from", func(c *Config) {
			c.Provider = ProviderKannel
			c.Kannel = KannelConfig{SendSMSURL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "u", Password: "p", Token: "0123456789abcdef",
				AllowFrom: []string{"127.0.0.1", "10.0.0.0/8", "::1"}}
		}, ""},
		{"kannel bad allow_from", func(c *Config) {
			c.Provider = ProviderKannel
			c.Kannel = KannelConfig{SendSMSURL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "u", Password: "p", Token: "0123456789abcdef",
				AllowFrom: []string{"localhost"}}
		}, "kannel.allow_from"},
		{"kannel own mode", func(c *Config) {
			c.Provider, c.Mode = ProviderKannel, ModeOwn
			c.Kannel = KannelConfig{SendSMSURL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "u", Password: "p", Token: "0123456789abcdef"}
		}, "mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.change(&c)
			var keys []string
			c.Check(func(key, msg string) { keys = append(keys, key+": "+msg) })
			if tt.key == "" && len(keys) > 0 {
				t.Fatalf("problems %v", keys)
			}
			if tt.key != "" && (len(keys) == 0 || !strings.HasPrefix(keys[0], tt.key+":")) {
				t.Fatalf("problems %v, want one about %s", keys, tt.key)
			}
		})
	}
}

// TestToldNumber: a user of the operator's pool is told their number at
// the first session after it was given, once; a new number is told
// again.
func TestToldNumber(t *testing.T) {
	_, h := twilioOperator(t)
	store := &transportstest.Store{}
	var told []string
	sink := transports.SinkFunc(func(ev transports.Event) {
		if n, ok := ev.(*transports.NoticeEvent); ok {
			told = append(told, n.Text)
		}
	})
	session := func(creds transports.Credentials) {
		t.Helper()
		a, err := h.net.Connect(context.Background(), transports.Account{User: "alice@x", Credentials: creds, Store: store}, sink)
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
	}
	creds := h.register(t, "alice@x", nil)
	session(creds)
	session(creds)
	if len(told) != 1 || !strings.Contains(told[0], "Your number is "+numA) {
		t.Fatalf("told %q, want the number once", told)
	}
	session(transports.Credentials{"number": numB})
	if len(told) != 2 || !strings.Contains(told[1], numB) {
		t.Errorf("after a new number, told %q", told)
	}
}
