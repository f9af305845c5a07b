package transportstest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/switchboard-im/switchboard/transports"
)

// HookNetwork is a fake push-based network, shaped like SMS through a
// provider: each registered user is assigned a number out of Pool
// (transports.Registrar, in the network's NetStore), contacts are
// international numbers (transports.Normalizer), inbound messages and
// delivery reports arrive as signed webhook requests
// (transports.HookNetwork), and Send returning is not delivery
// (Capabilities.DeferredReceipts): a test reports delivery through the
// webhook, with the ID from Sent, except for messages to InstantContact,
// which the network reports delivered through the session's sink before
// Send returns.
//
// Its webhook handler takes form posts, signed with Sign over the
// public URL the provider called (Hooks.PublicURL plus the path) and the
// body, in the X-Fake-Signature header:
//
//	POST message  to=<user's number> from=<contact> body=<text> id=<remote id>
//	POST status   to=<user's number> contact=<contact> id=<RemoteID from Send> status=delivered|failed error=<text>
//
// It answers 204 once delivered, 403 for a bad signature, 404 for a
// number nobody has, 400 for a malformed request, 503 when delivering
// failed (the provider retries).
type HookNetwork struct {
	*Network
	// Secret signs the webhook requests (Sign).
	Secret []byte
	// Pool are the numbers assigned at registration, in order.
	Pool []string

	mu    sync.Mutex
	hooks transports.Hooks
	sent  chan SentMessage
}

// InstantContact is the contact whose messages a HookNetwork reports
// delivered before Send returns.
const InstantContact transports.ID = "+15550000000"

// SentMessage is a message a HookNetwork adapter took, with the ID its
// delivery report must name.
type SentMessage struct {
	User string
	ID   transports.RemoteID
	transports.Message
}

// NewHooks returns a fake push-based network with the given username →
// password accounts and pool of numbers.
func NewHooks(accounts map[string]string, pool ...string) *HookNetwork {
	n := &HookNetwork{Network: New(accounts), Secret: []byte("fake-webhook-secret"), Pool: pool,
		sent: make(chan SentMessage, 1024)}
	n.Ident = transports.Identity{Category: "gateway", Type: "sms", Name: "Fake SMS"}
	n.Caps.Webhooks, n.Caps.DeferredReceipts = true, true
	return n
}

// Sign is the signature of a webhook request for url (the public URL the
// provider called) with body.
func Sign(secret []byte, url string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	io.WriteString(m, url)
	m.Write([]byte{'\n'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Hooks returns what the component attached, for tests.
func (n *HookNetwork) Hooks() transports.Hooks {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hooks
}

// Attach implements transports.HookNetwork.
func (n *HookNetwork) Attach(h transports.Hooks) http.Handler {
	n.mu.Lock()
	n.hooks = h
	n.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /message", n.serve(func(ctx context.Context, h transports.Hooks, user string, f formValues) error {
		return h.Deliver.Deliver(ctx, user, &transports.MessageEvent{
			From: transports.ID(f.get("from")), Body: f.get("body"), RemoteID: transports.RemoteID(f.get("id"))})
	}))
	mux.HandleFunc("POST /status", n.serve(func(ctx context.Context, h transports.Hooks, user string, f formValues) error {
		var delivered bool
		switch f.get("status") {
		case "delivered":
			delivered = true
		case "failed":
		default:
			return fmt.Errorf("%w: status %q", transports.ErrInvalidInput, f.get("status"))
		}
		return h.Deliver.Deliver(ctx, user, &transports.ReceiptEvent{To: transports.ID(f.get("contact")),
			Remote: transports.RemoteID(f.get("id")), Delivered: delivered, Error: f.get("error")})
	}))
	return mux
}

type formValues map[string][]string

func (f formValues) get(k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// serve checks a webhook request and runs deliver for the user who has
// the number it is addressed to.
func (n *HookNetwork) serve(deliver func(ctx context.Context, h transports.Hooks, user string, f formValues) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := n.Hooks()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the body failed", http.StatusBadRequest)
			return
		}
		url := h.PublicURL + strings.TrimPrefix(r.URL.Path, "/")
		if !hmac.Equal([]byte(r.Header.Get("X-Fake-Signature")), []byte(Sign(n.Secret, url, body))) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed form", http.StatusBadRequest)
			return
		}
		f := formValues(r.PostForm)
		user, err := h.Store.Get(r.Context(), "number/"+f.get("to"))
		if errors.Is(err, transports.ErrNotFound) {
			http.Error(w, "no such number", http.StatusNotFound)
			return
		} else if err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		switch err := deliver(r.Context(), h, string(user), f); {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case errors.Is(err, transports.ErrNotFound):
			http.Error(w, err.Error(), http.StatusNotFound)
		case errors.Is(err, transports.ErrInvalidInput):
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	}
}

// Register implements transports.Registrar: the user keeps the number
// they had, or gets the first free one of Pool, claimed with
// compare-and-set so that two registrations never get the same one.
func (n *HookNetwork) Register(ctx context.Context, user string, creds transports.Credentials) (transports.Credentials, error) {
	st := n.Hooks().Store
	if st == nil {
		return nil, fmt.Errorf("%w: not attached", transports.ErrUnavailable)
	}
	out := make(transports.Credentials, len(creds)+1)
	maps.Copy(out, creds)
	if num, err := st.Get(ctx, "user/"+user); err == nil {
		out["number"] = string(num)
		return out, nil
	} else if !errors.Is(err, transports.ErrNotFound) {
		return nil, err
	}
	for _, num := range n.Pool {
		ok, err := st.CompareAndSwap(ctx, "number/"+num, nil, []byte(user))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if err := st.Put(ctx, "user/"+user, []byte(num)); err != nil {
			return nil, err
		}
		out["number"] = num
		return out, nil
	}
	return nil, fmt.Errorf("%w: no free number left", transports.ErrLimit)
}

// Unregister implements transports.Registrar: the user's number goes back
// to the pool, unless another user holds it by now.
func (n *HookNetwork) Unregister(ctx context.Context, user string, creds transports.Credentials) error {
	st := n.Hooks().Store
	if st == nil {
		return fmt.Errorf("%w: not attached", transports.ErrUnavailable)
	}
	if num := creds["number"]; num != "" {
		if _, err := st.CompareAndSwap(ctx, "number/"+num, []byte(user), nil); err != nil {
			return err
		}
	}
	return st.Delete(ctx, "user/"+user)
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NormalizeAddress implements transports.Normalizer: spaces, dashes, dots
// and parentheses go, a leading 00 becomes +, and the result must be an
// E.164 number.
func (n *HookNetwork) NormalizeAddress(input string) (transports.ID, error) {
	s := strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -.()", r) {
			return -1
		}
		return r
	}, strings.TrimSpace(input))
	if rest, ok := strings.CutPrefix(s, "00"); ok {
		s = "+" + rest
	}
	if !e164.MatchString(s) {
		return "", fmt.Errorf("%w: not an international phone number such as +15551234567", transports.ErrInvalidInput)
	}
	return transports.ID(s), nil
}

// Connect implements transports.Network: the adapter records what it sent
// (Sent).
func (n *HookNetwork) Connect(ctx context.Context, acct transports.Account, sink transports.Sink) (transports.Adapter, error) {
	a, err := n.Network.Connect(ctx, acct, sink)
	if err != nil {
		return nil, err
	}
	return &hookAdapter{Adapter: a.(*Adapter), net: n}, nil
}

// Sent returns the messages the network's adapters took, in order.
func (n *HookNetwork) Sent() <-chan SentMessage { return n.sent }

type hookAdapter struct {
	*Adapter
	net *HookNetwork
}

func (a *hookAdapter) Send(ctx context.Context, m transports.Message) (transports.RemoteID, error) {
	id, err := a.Adapter.Send(ctx, m)
	if err != nil {
		return "", err
	}
	select {
	case a.net.sent <- SentMessage{User: a.acct.User, ID: id, Message: m}:
	default:
	}
	if m.To == InstantContact {
		a.sink.Deliver(&transports.ReceiptEvent{To: m.To, Remote: id, Delivered: true})
	}
	return id, nil
}
