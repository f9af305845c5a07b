package transportstest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

func TestNetStoreConformanceInMemory(t *testing.T) {
	transportstest.NetStoreConformance(t, func(*testing.T) transports.NetStore { return &transportstest.NetStore{} }, nil)
}

func TestConformanceHookNetwork(t *testing.T) {
	n := transportstest.NewHooks(nil)
	transportstest.Conformance(t, n, func(t *testing.T) transports.Adapter {
		n.SetPassword("u", "p")
		a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org",
			Credentials: transports.Credentials{"username": "u", "password": "p"}, Store: &transportstest.Store{}}, transports.SinkFunc(func(transports.Event) {}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	})
}

func TestCheckWebhooksWithoutHookNetwork(t *testing.T) {
	n := transportstest.New(nil)
	n.Caps.Webhooks = true
	a := connectFake(transportstest.New(nil))(t)
	errs := transportstest.Check(n, a)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "not a transports.HookNetwork") {
		t.Fatalf("Check = %v, want the one missing HookNetwork", errs)
	}
}

// recorder is a Deliverer that keeps what it was given, or fails with err.
type recorder struct {
	mu     sync.Mutex
	err    error
	users  []string
	events []transports.Event
}

func (r *recorder) Deliver(_ context.Context, user string, ev transports.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.users = append(r.users, user)
	r.events = append(r.events, ev)
	return nil
}

func TestHookNetworkRegistrar(t *testing.T) {
	ctx := context.Background()
	n := transportstest.NewHooks(nil, "+15550001", "+15550002")
	store := &transportstest.NetStore{}
	n.Attach(transports.Hooks{Deliver: &recorder{}, Store: store})
	creds := transports.Credentials{"username": "u"}

	steps := []struct {
		do, user, want string // do: register or unregister; want: the number, or an error's text
	}{
		{"register", "alice@x", "+15550001"},
		{"register", "bob@x", "+15550002"},
		{"register", "alice@x", "+15550001"}, // again: the same number
		{"register", "carol@x", "no free number"},
		{"unregister", "alice@x", ""},
		{"register", "carol@x", "+15550001"},
	}
	numbers := map[string]string{}
	for i, s := range steps {
		switch s.do {
		case "register":
			got, err := n.Register(ctx, s.user, creds)
			if strings.HasPrefix(s.want, "+") {
				if err != nil || got["number"] != s.want || got["username"] != "u" {
					t.Fatalf("step %d: Register(%s) = %v, %v; want number %s", i, s.user, got, err, s.want)
				}
				numbers[s.user] = s.want
			} else if !errors.Is(err, transports.ErrLimit) || !strings.Contains(err.Error(), s.want) {
				t.Fatalf("step %d: Register(%s): err = %v, want ErrLimit %q", i, s.user, err, s.want)
			}
		case "unregister":
			if err := n.Unregister(ctx, s.user, transports.Credentials{"number": numbers[s.user]}); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
	}
	if _, ok := creds["number"]; ok {
		t.Error("Register changed the credentials it was given")
	}
	// A stale release (alice's old number is carol's now) frees nothing.
	if err := n.Unregister(ctx, "alice@x", transports.Credentials{"number": "+15550001"}); err != nil {
		t.Fatal(err)
	}
	if v, err := store.Get(ctx, "number/+15550001"); err != nil || string(v) != "carol@x" {
		t.Errorf("number/+15550001 = %q, %v; want carol@x", v, err)
	}
}

func TestHookNetworkNormalizeAddress(t *testing.T) {
	n := transportstest.NewHooks(nil)
	tests := []struct{ in, want string }{
		{"+15551234567", "+15551234567"},
		{" +1 (555) 123-4567 ", "+15551234567"},
		{"0044 20.7946.0000", "+442079460000"},
		{"5551234567", ""},
		{"+0123456789", ""},
		{"+1555abc4567", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := n.NormalizeAddress(tt.in)
		if tt.want == "" {
			if !errors.Is(err, transports.ErrInvalidInput) {
				t.Errorf("NormalizeAddress(%q) = %q, %v; want ErrInvalidInput", tt.in, got, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestHookNetworkWebhooks(t *testing.T) {
	ctx := context.Background()
	n := transportstest.NewHooks(nil, "+15550001")
	rec := &recorder{}
	store := &transportstest.NetStore{}
	srv := httptest.NewUnstartedServer(nil)
	public := "http://" + srv.Listener.Addr().String() + "/hooks/fake/"
	h := n.Attach(transports.Hooks{Deliver: rec, Store: store, PublicURL: public})
	srv.Config.Handler = http.StripPrefix("/hooks/fake", h)
	srv.Start()
	defer srv.Close()
	if _, err := n.Register(ctx, "alice@x", nil); err != nil {
		t.Fatal(err)
	}
	post := func(path string, form url.Values, sign bool) int {
		t.Helper()
		body := form.Encode()
		req, _ := http.NewRequest("POST", srv.URL+"/hooks/fake/"+path, strings.NewReader(body))
		if sign {
			req.Header.Set("X-Fake-Signature", transportstest.Sign(n.Secret, public+path, []byte(body)))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	msg := url.Values{"to": {"+15550001"}, "from": {"+15557654321"}, "body": {"hi"}, "id": {"sms1"}}
	tests := []struct {
		name  string
		path  string
		form  url.Values
		sign  bool
		fail  error
		code  int
		event string // what the Deliverer got, as %+v
	}{
		{"message", "message", msg, true, nil, 204, `alice@x &{From:+15557654321 Room:false Nick: RemoteID:sms1 Body:hi`},
		{"unsigned", "message", msg, false, nil, 403, ""},
		{"signed for another path", "status", msg, false, nil, 403, ""},
		{"nobody's number", "message", url.Values{"to": {"+15559999"}}, true, nil, 404, ""},
		{"delivered", "status", url.Values{"to": {"+15550001"}, "contact": {"+15557654321"}, "id": {"m7"}, "status": {"delivered"}}, true, nil, 204,
			`alice@x &{To:+15557654321 Remote:m7 Delivered:true Error:}`},
		{"failed", "status", url.Values{"to": {"+15550001"}, "contact": {"+1555"}, "id": {"m8"}, "status": {"failed"}, "error": {"carrier said no"}}, true, nil, 204,
			`alice@x &{To:+1555 Remote:m8 Delivered:false Error:carrier said no}`},
		{"bad status", "status", url.Values{"to": {"+15550001"}, "status": {"maybe"}}, true, nil, 400, ""},
		{"delivery failed", "message", msg, true, fmt.Errorf("%w: down", transports.ErrUnavailable), 503, ""},
		{"user gone", "message", msg, true, fmt.Errorf("%w: gone", transports.ErrNotFound), 404, ""},
	}
	for _, tt := range tests {
		rec.mu.Lock()
		rec.err, rec.users, rec.events = tt.fail, nil, nil
		rec.mu.Unlock()
		path := tt.path
		if tt.name == "signed for another path" {
			// signed as "message", sent to "status"
			body := tt.form.Encode()
			req, _ := http.NewRequest("POST", srv.URL+"/hooks/fake/status", strings.NewReader(body))
			req.Header.Set("X-Fake-Signature", transportstest.Sign(n.Secret, public+"message", []byte(body)))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.code {
				t.Errorf("%s: status %d, want %d", tt.name, res.StatusCode, tt.code)
			}
			continue
		}
		if code := post(path, tt.form, tt.sign); code != tt.code {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.code)
		}
		rec.mu.Lock()
		got := ""
		if len(rec.events) > 0 {
			got = fmt.Sprintf("%s %+v", rec.users[0], rec.events[0])
		}
		n := len(rec.events)
		rec.mu.Unlock()
		if tt.event == "" && n != 0 || tt.event != "" && (n != 1 || !strings.HasPrefix(got, tt.event)) {
			t.Errorf("%s: delivered %d events (%s), want %q", tt.name, n, got, tt.event)
		}
	}
}
