package discord

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
)

// A scripted Discord, only for what Spacebar does not do: gateway close
// codes 4004 and 4014, RESUME after an op 7 reconnect request, and 429
// with Retry-After. It speaks the documented wire format (REST v9 JSON,
// gateway JSON frames) to the unmodified discordgo, reached through the
// network's server_url like any server.

// gatewayScript says what the fake gateway does with one connection's
// IDENTIFY or RESUME (op 2 or 6, its d): write frames, or close with a
// code.
type gatewayScript func(op int, d json.RawMessage, c *fakeConn)

type fakeDiscord struct {
	t      *testing.T
	srv    *httptest.Server
	script gatewayScript

	logs *testenv.LogBuffer // the network's log, checked for tokens at cleanup

	mu        sync.Mutex
	received  []frame // every op 2 and op 6 the gateway read, in order
	posts     int     // POSTs of messages
	throttled bool    // the first POST of a message was answered 429
}

type frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  int64           `json:"s,omitempty"`
	T  string          `json:"t,omitempty"`
}

type fakeConn struct {
	ws  *websocket.Conn
	seq int64
}

// dispatch writes an op 0 event.
func (c *fakeConn) dispatch(typ string, d any) error {
	c.seq++
	raw, _ := json.Marshal(d)
	return c.ws.WriteJSON(frame{Op: 0, T: typ, S: c.seq, D: raw})
}

func (c *fakeConn) close(code int, text string) {
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	c.ws.Close()
}

const fakeBotID = "1000"

func newFakeDiscord(t *testing.T, script gatewayScript) *fakeDiscord {
	f := &fakeDiscord{t: t, script: script, logs: &testenv.LogBuffer{}}
	// Registered first, so it runs last: after the adapters closed.
	t.Cleanup(func() {
		for _, tok := range []string{"good-token", "revoked-token"} {
			if strings.Contains(f.logs.String(), tok) {
				t.Errorf("a token was logged:\n%s", f.logs)
			}
		}
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v9/users/@me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bot good-token" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message": "401: Unauthorized", "code": 0}`))
			return
		}
		w.Write([]byte(`{"id": "` + fakeBotID + `", "username": "fakebot", "bot": true}`))
	})
	mux.HandleFunc("GET /api/v9/gateway", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"url": "ws://` + r.Host + `/gw"}`))
	})
	mux.HandleFunc("POST /api/v9/channels/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.posts++
		first := !f.throttled
		f.throttled = true
		f.mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"message": "You are being rate limited.", "retry_after": 0.25, "global": false}`))
			return
		}
		var in struct {
			Content string `json:"content"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		out, _ := json.Marshal(map[string]any{"id": "5000", "channel_id": r.PathValue("id"), "content": in.Content,
			"author": map[string]any{"id": fakeBotID, "username": "fakebot", "bot": true}, "timestamp": time.Now().Format(time.RFC3339)})
		w.Write(out)
	})
	mux.HandleFunc("GET /gw/", f.gateway) // discordgo adds the slash
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDiscord) gateway(w http.ResponseWriter, r *http.Request) {
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	c := &fakeConn{ws: ws}
	if ws.WriteJSON(frame{Op: 10, D: json.RawMessage(`{"heartbeat_interval": 45000}`)}) != nil {
		return
	}
	for {
		var fr frame
		if err := ws.ReadJSON(&fr); err != nil {
			return
		}
		switch fr.Op {
		case 1:
			ws.WriteJSON(frame{Op: 11})
		case 2, 6:
			f.mu.Lock()
			f.received = append(f.received, fr)
			f.mu.Unlock()
			f.script(fr.Op, fr.D, c)
		}
	}
}

func (f *fakeDiscord) frames() []frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.received)
}

func (f *fakeDiscord) network(t *testing.T) *Network {
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := New(Config{ServerURL: f.srv.URL, Timeout: 10 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ready(c *fakeConn, session string) {
	c.dispatch("READY", map[string]any{"v": 9, "session_id": session,
		"user": map[string]any{"id": fakeBotID, "username": "fakebot", "bot": true}, "guilds": []any{}, "private_channels": []any{}})
}

var goodBot = transports.Credentials{fieldToken: "good-token", fieldAccount: accountBot}

// TestDisallowedIntents: a bot whose owner did not enable the privileged
// intents is closed with 4014 for them; the login goes on with fewer
// intents, and without Message Content the user is told that guild
// message bodies arrive empty.
func TestDisallowedIntents(t *testing.T) {
	f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) {
		var id struct{ Intents discordgo.Intent }
		json.Unmarshal(d, &id)
		if id.Intents&(discordgo.IntentGuildMembers|discordgo.IntentGuildPresences|discordgo.IntentMessageContent) != 0 {
			c.close(closeDisallowedIntents, "Disallowed intent(s).")
			return
		}
		ready(c, "s1")
	})
	s := newSink()
	connect(t, f.network(t), goodBot, s)
	notice := await(t, s, func(ev *transports.NoticeEvent) bool { return strings.Contains(ev.Text, "Message Content intent") })
	if notice.About != "" {
		t.Errorf("notice about %q", notice.About)
	}
	var got []discordgo.Intent
	for _, fr := range f.frames() {
		var id struct{ Intents discordgo.Intent }
		json.Unmarshal(fr.D, &id)
		got = append(got, id.Intents)
	}
	if !slices.Equal(got, intentSets) {
		t.Errorf("IDENTIFY intents %v, want each set in turn %v", got, intentSets)
	}
}

// TestAuthenticationFailed: a gateway that closes with 4004 (the token
// was revoked between the REST check and IDENTIFY) refuses the login as
// bad credentials; so does a REST 401.
func TestAuthenticationFailed(t *testing.T) {
	f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) {
		c.close(closeAuthenticationFailed, "Authentication failed.")
	})
	n := f.network(t)
	err := n.Validate(context.Background(), goodBot)
	if !errors.Is(err, transports.ErrBadCredentials) || !strings.Contains(err.Error(), "4004") {
		t.Errorf("Validate after a 4004 close: %v", err)
	}
	err = n.Validate(context.Background(), transports.Credentials{fieldToken: "revoked-token"})
	if !errors.Is(err, transports.ErrBadCredentials) || !strings.Contains(err.Error(), "401: Unauthorized") || strings.Contains(err.Error(), "revoked-token") {
		t.Errorf("Validate with a refused token: %v", err)
	}
	if len(f.frames()) != 1 {
		t.Errorf("%d IDENTIFYs; want one (the REST refusal reaches no gateway)", len(f.frames()))
	}
}

// TestResumeAfterReconnectRequest: the gateway asks for a reconnect (op
// 7); the adapter redials through the supervisor's link and discordgo
// RESUMEs with the session ID and the last sequence number.
func TestResumeAfterReconnectRequest(t *testing.T) {
	f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) {
		if op == 6 {
			c.dispatch("RESUMED", map[string]any{})
			return
		}
		ready(c, "session-42")
		c.dispatch("TYPING_START", map[string]any{"user_id": "7", "channel_id": "8", "timestamp": 1})
		c.ws.WriteJSON(frame{Op: 7})
	})
	st := &statuses{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ad, err := f.network(t).Connect(ctx, transports.Account{User: "u@example.org", Credentials: goodBot, Store: nopStore{},
		Reconnect: transports.NewReconnect(transports.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}, nil, st.report)}, newSink())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ad.Close() })
	deadline := time.Now().Add(wait)
	for len(f.frames()) < 2 || len(st.get()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("frames %d, states %v; want IDENTIFY, RESUME and a transient disconnect, then connected", len(f.frames()), st.get())
		}
		time.Sleep(10 * time.Millisecond)
	}
	fr := f.frames()[1]
	var resume struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	json.Unmarshal(fr.D, &resume)
	if fr.Op != 6 || resume.SessionID != "session-42" || resume.Seq != 2 || resume.Token != "Bot good-token" {
		t.Errorf("second frame op %d %+v; want RESUME of session-42 at sequence 2", fr.Op, resume)
	}
	if want := []transports.State{transports.StateTransientDisconnect, transports.StateConnected}; !slices.Equal(st.get(), want) {
		t.Errorf("states %v, want %v", st.get(), want)
	}
}

// TestRateLimited: a 429 with Retry-After is waited out and the message
// sent; nothing is dropped.
func TestRateLimited(t *testing.T) {
	f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) { ready(c, "s") })
	a := connect(t, f.network(t), goodBot, newSink())
	a.rememberDM("8", "7") // a DM channel known, so Send needs no look-up
	id, err := a.Send(context.Background(), transports.Message{To: UserID("7"), Body: "patience"})
	if err != nil || id != "5000" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.posts != 2 {
		t.Errorf("%d POSTs; want the throttled one and its retry", f.posts)
	}
}
