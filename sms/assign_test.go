package sms

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

const numC = "+15550100003" // the operator's, not in the pool

// TestAssignNumber: an administrator gives users numbers — the pool's
// first free one or one they name — before or after the user registered;
// a number someone has, another account's number or a malformed user is
// refused; a running session sends from the new number at once, texts to
// it reach the user, and unregistering releases it.
func TestAssignNumber(t *testing.T) {
	f := twiliotest.New(t)
	f.AddAccount(opSID, opToken, numA, numB, numC)
	f.AddAccount("AC00000000000000000000000000000003", "other-token", "+15550108888")
	h := newHookServer(t, Config{Provider: ProviderTwilio, DefaultCountry: "US", Numbers: []string{numA, numB},
		Twilio: TwilioConfig{APIURL: f.URL, AccountSID: opSID, AuthToken: opToken}, RetryWait: time.Millisecond})
	ctx := context.Background()
	caps := h.net.Capabilities()
	if len(caps.AdminCommands) != 1 || caps.AdminCommands[0].Node != "assign-number" {
		t.Fatalf("admin commands %+v", caps.AdminCommands)
	}
	transportstest.Conformance(t, h.net, func(t *testing.T) transports.Adapter {
		return h.connect(t, "zed@example.org", transports.Credentials{"number": numA})
	})

	run := func(user, number string) (string, error) {
		return h.net.RunAdminCommand(ctx, "assign-number", map[string]string{"user": user, "number": number})
	}
	steps := []struct {
		name, user, number string
		want               string // part of the text, or of the error
		err                error
	}{
		{"alice, before she registers, the pool's first", "Alice@Example.org", "", "alice@example.org has " + numA + "; they get it when they register", nil},
		{"bob, a number typed nationally", "bob@example.org", "(555) 010-0002", "bob@example.org has " + numB + "; they get", nil},
		{"carol, bob's number", "carol@example.org", numB, "registered by another user", transports.ErrConflict},
		{"carol, the pool is empty", "carol@example.org", "", "no free number left", transports.ErrLimit},
		{"carol, another account's number", "carol@example.org", "+15550108888", "not a number of account", transports.ErrInvalidInput},
		{"not a JID", "carol", "", "not a user's bare JID", transports.ErrInvalidInput},
		{"a full JID", "carol@example.org/phone", "", "not a user's bare JID", transports.ErrInvalidInput},
		{"not a number", "carol@example.org", "hello", "not a phone number", transports.ErrInvalidInput},
	}
	for _, s := range steps {
		text, err := run(s.user, s.number)
		if s.err == nil && (err != nil || !strings.Contains(text, s.want)) {
			t.Fatalf("%s: %q, %v; want %q", s.name, text, err, s.want)
		}
		if s.err != nil && (!errors.Is(err, s.err) || !strings.Contains(err.Error(), s.want)) {
			t.Fatalf("%s: %q, %v; want %v saying %q", s.name, text, err, s.err, s.want)
		}
	}
	if _, err := h.net.RunAdminCommand(ctx, "no-such-command", nil); !errors.Is(err, transports.ErrNotFound) {
		t.Fatalf("an unknown command: %v, want ErrNotFound", err)
	}

	// Alice registers: she gets the number assigned before.
	creds := h.register(t, "alice@example.org", nil)
	if creds["number"] != numA {
		t.Fatalf("alice registered with %q, want the assigned %s", creds["number"], numA)
	}
	a := h.connect(t, "alice@example.org", creds)

	// Now registered, she gets another number, outside the pool but the
	// operator's: her running session sends from it, texts to it reach
	// her, she is told, and her old number is free.
	if text, err := run("alice@example.org", numC); err != nil || text != "alice@example.org has "+numC+"." {
		t.Fatalf("reassigning alice: %q, %v", text, err)
	}
	got := h.rec.wait(t, 1)
	if n, ok := got[0].ev.(*transports.NoticeEvent); !ok || got[0].user != "alice@example.org" || !strings.Contains(n.Text, numC) {
		t.Fatalf("alice was told %+v", got[0])
	}
	if _, err := a.Send(ctx, transports.Message{To: contact, Body: "from my new number"}); err != nil {
		t.Fatal(err)
	}
	if m := nextSent(t, f); m.From != numC {
		t.Fatalf("sent from %s, want %s", m.From, numC)
	}
	p := url.Values{"MessageSid": {"SMassign"}, "From": {contact}, "To": {numC}, "Body": {"to the new number"}}
	if code, _ := webhook(t, h.public+"twilio/inbound", opToken, p); code != http.StatusOK {
		t.Fatalf("a text to her new number: HTTP %d", code)
	}
	if got := h.rec.wait(t, 2); got[1].user != "alice@example.org" || got[1].ev.(*transports.MessageEvent).Body != "to the new number" {
		t.Fatalf("delivered %+v", got[1])
	}
	if text, err := run("carol@example.org", ""); err != nil || !strings.Contains(text, numA) {
		t.Fatalf("carol, after alice's old number was released: %q, %v; want %s", text, err, numA)
	}

	// Unregistering (her registration still names the pool's number)
	// releases the number she has now.
	if err := h.net.Unregister(ctx, "alice@example.org", creds); err != nil {
		t.Fatal(err)
	}
	if v, err := h.store.Get(ctx, keyNumber+numC); !errors.Is(err, transports.ErrNotFound) {
		t.Fatalf("after alice unregistered, %s is held by %q (%v)", numC, v, err)
	}
}

// TestAssignNumberOwnMode: in own mode users bring their numbers; there
// is nothing to assign.
func TestAssignNumberOwnMode(t *testing.T) {
	_, h := twilioOwn(t)
	if cmds := h.net.Capabilities().AdminCommands; len(cmds) != 0 {
		t.Fatalf("own mode offers %+v", cmds)
	}
	if _, err := h.net.RunAdminCommand(context.Background(), "assign-number", map[string]string{"user": "alice@example.org"}); !errors.Is(err, transports.ErrNotFound) {
		t.Fatalf("assign-number in own mode: %v, want ErrNotFound", err)
	}
}
