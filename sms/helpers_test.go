package sms

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/sms/twiliotest"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// recorder is a Deliverer that keeps what it was given, or fails with
// the errors queued in fail.
type recorder struct {
	mu     sync.Mutex
	fail   []error
	got    []delivered
	notify chan struct{}
}

type delivered struct {
	user string
	ev   transports.Event
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 100)} }

func (r *recorder) Deliver(_ context.Context, user string, ev transports.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.fail) > 0 {
		err := r.fail[0]
		r.fail = r.fail[1:]
		return err
	}
	r.got = append(r.got, delivered{user, ev})
	r.notify <- struct{}{}
	return nil
}

func (r *recorder) failNext(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = append(r.fail, err)
}

func (r *recorder) events() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivered(nil), r.got...)
}

// wait waits until n events were delivered in all.
func (r *recorder) wait(t *testing.T, n int) []delivered {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if got := r.events(); len(got) >= n {
			return got
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("%d events delivered, want %d: %+v", len(r.events()), n, r.events())
		}
	}
}

// discard is a logger that writes nothing (fuzz targets log too much).
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// hookServer is a network attached to a recorder and a store, its
// handler served as the gateway serves it: at /hooks/sms/, prefix
// stripped, bodies capped at maxBody.
type hookServer struct {
	net    *Network
	rec    *recorder
	store  *transportstest.NetStore
	public string // the handler's public URL, ending in "/"

	mu      sync.Mutex
	handler http.Handler
	// creds are the registrations the gateway would keep sealed, as
	// register stored them (the hook server is the network's
	// CredentialReader); credsErr fails every read when set.
	creds    map[string]transports.Credentials
	credsErr error
}

// Credentials implements transports.CredentialReader over what register
// stored.
func (h *hookServer) Credentials(_ context.Context, user string) (transports.Credentials, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.credsErr != nil {
		return nil, h.credsErr
	}
	c, ok := h.creds[user]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not registered", transports.ErrNotFound, user)
	}
	return maps.Clone(c), nil
}

// forget deletes user's stored registration (not the network's index).
func (h *hookServer) forget(user string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.creds, user)
}

const maxBody = 64 << 10

func newHookServer(t *testing.T, cfg Config) *hookServer {
	t.Helper()
	h := startHookServer(t)
	h.attach(t, cfg)
	return h
}

// startHookServer serves the webhooks of a network attach builds later,
// so its public URL is known before.
func startHookServer(t *testing.T) *hookServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	h := &hookServer{rec: newRecorder(), store: &transportstest.NetStore{}, creds: map[string]transports.Credentials{},
		public: "http://" + srv.Listener.Addr().String() + "/hooks/sms/"}
	srv.Config.Handler = http.StripPrefix("/hooks/sms", http.MaxBytesHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		handler := h.handler
		h.mu.Unlock()
		handler.ServeHTTP(w, r)
	}), maxBody))
	srv.Start()
	t.Cleanup(srv.Close)
	return h
}

// attach builds the network of cfg and attaches it to the server.
func (h *hookServer) attach(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	h.net = New(cfg)
	handler := h.net.Attach(transports.Hooks{Deliver: h.rec, Store: h.store, PublicURL: h.public, Credentials: h})
	h.mu.Lock()
	h.handler = handler
	h.mu.Unlock()
}

// register registers user and returns the stored credentials.
func (h *hookServer) register(t *testing.T, user string, creds transports.Credentials) transports.Credentials {
	t.Helper()
	ctx := context.Background()
	if err := h.net.Validate(ctx, creds); err != nil {
		t.Fatalf("Validate(%s): %v", user, err)
	}
	out, err := h.net.Register(ctx, user, creds)
	if err != nil {
		t.Fatalf("Register(%s): %v", user, err)
	}
	h.mu.Lock()
	h.creds[user] = maps.Clone(out)
	h.mu.Unlock()
	return out
}

// connect starts user's session, whose events are dropped.
func (h *hookServer) connect(t *testing.T, user string, creds transports.Credentials) transports.Adapter {
	t.Helper()
	return h.connectTo(t, user, creds, transports.SinkFunc(func(transports.Event) {}))
}

// connectTo starts user's session with sink.
func (h *hookServer) connectTo(t *testing.T, user string, creds transports.Credentials, sink transports.Sink) transports.Adapter {
	t.Helper()
	a, err := h.net.Connect(context.Background(), transports.Account{User: user, Credentials: creds, Store: &transportstest.Store{}}, sink)
	if err != nil {
		t.Fatalf("Connect(%s): %v", user, err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// nextSent waits for the next message the fake Twilio accepted.
func nextSent(t *testing.T, f *twiliotest.Server) twiliotest.Sent {
	t.Helper()
	m, err := f.NextSent(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// webhook posts params to rawURL as Twilio does: a form, signed with
// token (by twiliotest, written apart from SignTwilio) in
// X-Twilio-Signature ("" = unsigned). It returns the status and body of
// the answer.
func webhook(t *testing.T, rawURL, token string, params url.Values) (int, string) {
	t.Helper()
	sig := ""
	if token != "" {
		sig = twiliotest.Sign(token, rawURL, params)
	}
	code, body, err := twiliotest.Post(context.Background(), rawURL, sig, params)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
