package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
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

	mu       sync.Mutex
	received []frame // every op 2 and op 6 the gateway read, in order
	posts    int     // POSTs of messages
	// failPosts are the statuses the next POSTs of a message get
	// (429 with Retry-After, or a 5xx with an HTML body), one each, before
	// they succeed.
	failPosts []int
	members   []map[string]any // GET /guilds/{id}/members, in order
	uploads   []upload         // files of multipart POSTs of messages
	channels  []map[string]any // GET /guilds/{id}/channels
	threads   []map[string]any // GET /guilds/{id}/threads/active

	// For a restart's RESUME (resume_test.go): the REST a rebuilt state
	// reads, a channel's history, where each op 2 and op 6 came in, and
	// how a client closed a connection.
	guild      map[string]any              // GET /guilds/{id}
	userGuilds []map[string]any            // GET /users/@me/guilds
	dms        []map[string]any            // GET /users/@me/channels
	history    map[string][]map[string]any // GET /channels/{id}/messages, oldest first
	paths      []string                    // the gateway path of each received frame
	closed     func(c *fakeConn, code int) // a connection ended (code -1: no close frame)
}

// upload is a file part the fake read (and threw away).
type upload struct {
	field, name, typ string
	size             int64
}

type frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  int64           `json:"s,omitempty"`
	T  string          `json:"t,omitempty"`
}

// fakeConn is one gateway connection; scripts and tests may write to it
// while the gateway answers heartbeats.
type fakeConn struct {
	ws  *websocket.Conn
	mu  sync.Mutex // one writer at a time
	seq int64
}

// dispatch writes an op 0 event.
func (c *fakeConn) dispatch(typ string, d any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	raw, _ := json.Marshal(d)
	return c.ws.WriteJSON(frame{Op: 0, T: typ, S: c.seq, D: raw})
}

// write writes any other frame.
func (c *fakeConn) write(fr frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws.WriteJSON(fr)
}

func (c *fakeConn) close(code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	c.ws.Close()
}

const fakeBotID = "1000"

// hostileBody is what a failing fake server says; it must never reach a
// user or a log.
const hostileBody = "upstream said <script>token=hunter2</script>"

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
		fail := 0
		if len(f.failPosts) > 0 {
			fail, f.failPosts = f.failPosts[0], f.failPosts[1:]
		}
		f.mu.Unlock()
		switch {
		case fail == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"message": "You are being rate limited.", "retry_after": 0.25, "global": false}`))
			return
		case fail != 0:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(fail)
			w.Write([]byte(`<html>` + hostileBody + `</html>`))
			return
		}
		var in struct {
			Content string `json:"content"`
		}
		if mr, err := r.MultipartReader(); err == nil {
			// Read as it streams in: the parts are counted, not kept.
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				if p.FormName() == "payload_json" {
					json.NewDecoder(p).Decode(&in)
					continue
				}
				n, _ := io.Copy(io.Discard, p)
				f.mu.Lock()
				f.uploads = append(f.uploads, upload{field: p.FormName(), name: p.FileName(), typ: p.Header.Get("Content-Type"), size: n})
				f.mu.Unlock()
			}
		} else {
			json.NewDecoder(r.Body).Decode(&in)
		}
		out, _ := json.Marshal(map[string]any{"id": "5000", "channel_id": r.PathValue("id"), "content": in.Content,
			"author": map[string]any{"id": fakeBotID, "username": "fakebot", "bot": true}, "timestamp": time.Now().Format(time.RFC3339)})
		w.Write(out)
	})
	mux.HandleFunc("GET /api/v9/guilds/{id}/members", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		all := f.members
		f.mu.Unlock()
		after := r.URL.Query().Get("after")
		limit := 1
		fmt.Sscan(r.URL.Query().Get("limit"), &limit)
		var page []map[string]any
		for _, m := range all {
			id := m["user"].(map[string]any)["id"].(string)
			if after != "" && id <= after || len(page) >= limit {
				continue
			}
			page = append(page, m)
		}
		out, _ := json.Marshal(page)
		w.Write(out)
	})
	mux.HandleFunc("GET /api/v9/guilds/{id}/channels", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		out, _ := json.Marshal(f.channels)
		f.mu.Unlock()
		w.Write(out)
	})
	mux.HandleFunc("GET /api/v9/guilds/{id}/threads/active", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		out, _ := json.Marshal(map[string]any{"threads": f.threads, "members": []any{}})
		f.mu.Unlock()
		w.Write(out)
	})
	mux.HandleFunc("GET /api/v9/channels/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		all := f.history[r.PathValue("id")]
		f.mu.Unlock()
		page := []map[string]any{}
		for i := len(all) - 1; i >= 0; i-- { // newest first, as Discord
			if after := r.URL.Query().Get("after"); after == "" || snowflakeLess(after, all[i]["id"].(string)) {
				page = append(page, all[i])
			}
		}
		out, _ := json.Marshal(page)
		w.Write(out)
	})
	serve := func(pattern string, v func() any) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			out, _ := json.Marshal(v())
			f.mu.Unlock()
			if string(out) == "null" {
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"message": "Unknown", "code": 10000}`))
				return
			}
			w.Write(out)
		})
	}
	serve("GET /api/v9/guilds/{id}", func() any { return f.guild })
	serve("GET /api/v9/users/@me/guilds", func() any { return f.userGuilds })
	serve("GET /api/v9/users/@me/channels", func() any { return f.dms })
	mux.HandleFunc("GET /gw/", f.gateway) // discordgo adds the slash
	mux.HandleFunc("GET /resume/", f.gateway)
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
	if c.write(frame{Op: 10, D: json.RawMessage(`{"heartbeat_interval": 45000}`)}) != nil {
		return
	}
	for {
		var fr frame
		if err := ws.ReadJSON(&fr); err != nil {
			code := -1
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			f.mu.Lock()
			closed := f.closed
			f.mu.Unlock()
			if closed != nil {
				closed(c, code)
			}
			return
		}
		switch fr.Op {
		case 1:
			c.write(frame{Op: 11})
		case 2, 6:
			f.mu.Lock()
			f.received = append(f.received, fr)
			f.paths = append(f.paths, r.URL.Path)
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
		c.write(frame{Op: 7})
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
	f.failPosts = []int{http.StatusTooManyRequests}
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

// TestServerErrors: a 502 is retried (discordgo's own retry) and the
// message sent; other 5xx fail the send as the network being
// unavailable, with the status and never the server's body.
func TestServerErrors(t *testing.T) {
	tests := []struct {
		name  string
		fail  []int
		posts int
		err   error // nil: sent
	}{
		{"bad gateway once", []int{http.StatusBadGateway}, 2, nil},
		{"internal error", []int{http.StatusInternalServerError}, 1, transports.ErrUnavailable},
		{"unavailable", []int{http.StatusServiceUnavailable}, 1, transports.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) { ready(c, "s") })
			f.failPosts = tt.fail
			a := connect(t, f.network(t), goodBot, newSink())
			a.rememberDM("8", "7")
			id, err := a.Send(context.Background(), transports.Message{To: UserID("7"), Body: "hello"})
			switch {
			case tt.err == nil && (err != nil || id != "5000"):
				t.Errorf("Send = %q, %v; want sent", id, err)
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Errorf("Send error %v, want %v", err, tt.err)
			case tt.err != nil && (!strings.Contains(err.Error(), fmt.Sprint(tt.fail[0])) || strings.Contains(err.Error(), "hunter2")):
				t.Errorf("Send error %q: want the status, never the body", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.posts != tt.posts {
				t.Errorf("%d POSTs, want %d", f.posts, tt.posts)
			}
			if strings.Contains(f.logs.String(), "hunter2") {
				t.Errorf("the server's body was logged:\n%s", f.logs)
			}
		})
	}
}

// TestCappedMembersOnlineFirst: in a guild bigger than max_members, the
// members the state knows to be online are shown before those the server
// lists first (Spacebar sends no statuses: a scripted guild here).
func TestCappedMembersOnlineFirst(t *testing.T) {
	user := func(id string) map[string]any { return map[string]any{"id": id, "username": "user" + id} }
	var members []map[string]any
	for _, id := range []string{fakeBotID, "1001", "1002", "1003", "1004"} {
		members = append(members, map[string]any{"user": user(id), "roles": []string{}, "joined_at": "2026-01-01T00:00:00Z"})
	}
	f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) {
		ready(c, "s")
		c.dispatch("GUILD_CREATE", map[string]any{"id": "900", "name": "big", "owner_id": "1001", "member_count": 5,
			"members": members, "roles": []any{},
			"channels": []any{map[string]any{"id": "901", "type": 0, "guild_id": "900", "name": "general"}},
			"presences": []any{
				map[string]any{"user": map[string]any{"id": "1004"}, "status": "online"},
				map[string]any{"user": map[string]any{"id": "1001"}, "status": "offline"},
			}})
	})
	f.members = members
	n, err := New(Config{ServerURL: f.srv.URL, Timeout: 10 * time.Second, MaxMembers: 2,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s := newSink()
	a := connect(t, n, goodBot, s)
	awaitGuild(t, a, "900", "1004")
	room := ChannelID("901", "900")
	if err := a.JoinRoom(context.Background(), room, ""); err != nil {
		t.Fatal(err)
	}
	var shown []string
	var ready *transports.RoomReadyEvent
	for _, ev := range s.all() {
		switch ev := ev.(type) {
		case *transports.OccupantEvent:
			shown = append(shown, ev.Account)
		case *transports.RoomReadyEvent:
			ready = ev
		}
	}
	// Two shown besides the account itself: 1004 (online), then the first
	// listed.
	if !slices.Equal(shown, []string{"1004", "1001"}) {
		t.Errorf("occupants %v, want [1004 1001] (online first, then as listed)", shown)
	}
	if ready == nil || ready.Members != 5 {
		t.Errorf("RoomReadyEvent %+v, want Members 5", ready)
	}
}

// TestThreads: a guild's active threads are listed under their channel
// and join as rooms whose messages arrive (Spacebar has no threads: a
// scripted guild here).
func TestThreads(t *testing.T) {
	general := map[string]any{"id": "901", "type": 0, "guild_id": "900", "name": "general", "position": 0}
	plans := map[string]any{"id": "902", "type": 11, "guild_id": "900", "parent_id": "901", "name": "plans"}
	member := map[string]any{"user": map[string]any{"id": "1001", "username": "ann"}, "roles": []string{}, "joined_at": "2026-01-01T00:00:00Z"}
	conns := make(chan *fakeConn, 1)
	f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) {
		ready(c, "s")
		c.dispatch("GUILD_CREATE", map[string]any{"id": "900", "name": "g", "owner_id": "1001", "roles": []any{},
			"members": []any{member}, "channels": []any{general}, "threads": []any{plans}})
		conns <- c
	})
	f.channels, f.threads, f.members = []map[string]any{general}, []map[string]any{plans}, []map[string]any{member}
	s := newSink()
	a := connect(t, f.network(t), goodBot, s)
	c := <-conns
	awaitGuild(t, a, "900", "1001")
	rooms, err := a.ListRooms(context.Background(), GuildID("900"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rooms {
		names = append(names, string(r.ID)+" "+r.Name)
	}
	if want := []string{"901%900 #general", "902%900 #general › plans"}; !slices.Equal(names, want) {
		t.Errorf("rooms %q, want %q", names, want)
	}
	thread := ChannelID("902", "900")
	if err := a.JoinRoom(context.Background(), thread, ""); err != nil {
		t.Fatalf("joining the thread: %v", err)
	}
	c.dispatch("MESSAGE_CREATE", map[string]any{"id": "7001", "channel_id": "902", "guild_id": "900", "content": "in the thread",
		"author": map[string]any{"id": "1001", "username": "ann"}, "timestamp": time.Now().Format(time.RFC3339), "type": 0})
	got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == "7001" })
	if got.From != thread || !got.Room || got.Body != "in the thread" || got.Nick != "ann" {
		t.Errorf("thread message %+v", got)
	}
}

// TestUploadStreamed: a file from XMPP is posted as it is read, never
// whole in memory; a 429 is waited out and the file opened again; the
// name cannot break out of its header.
func TestUploadStreamed(t *testing.T) {
	f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) { ready(c, "s") })
	f.failPosts = []int{http.StatusTooManyRequests}
	a := connect(t, f.network(t), goodBot, newSink())
	a.rememberDM("8", "7")
	const size = 32 << 20
	opens := 0
	file := transports.File{Name: "big\"\r\nX-Evil: 1.bin", Type: "application/x-test", Size: size,
		Open: func(context.Context) (io.ReadCloser, error) {
			opens++
			return io.NopCloser(io.LimitReader(zeros{}, size)), nil
		}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	id, err := a.SendFiles(context.Background(), transports.Message{To: UserID("7"), Body: "a big one", Files: []transports.File{file}})
	runtime.ReadMemStats(&after)
	if err != nil || id != "5000" {
		t.Fatalf("SendFiles = %q, %v", id, err)
	}
	if opens != 2 {
		t.Errorf("the file was opened %d times, want 2 (again after the 429)", opens)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.uploads) != 1 || f.uploads[0].size != size || f.uploads[0].field != "files[0]" || f.uploads[0].typ != "application/x-test" ||
		strings.ContainsAny(f.uploads[0].name, "\"\r\n") {
		t.Errorf("the server read %+v, want one file of %d bytes named without quotes or line breaks", f.uploads, size)
	}
	// Two passes of 32 MiB went through; what was allocated meanwhile
	// is buffers, not the file.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("%d MiB allocated to send a %d MiB file twice: it was held in memory", alloc>>20, size>>20)
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestStickers: stickers that are images arrive as files (links on the
// server's CDN), an animation by name.
func TestStickers(t *testing.T) {
	conns := make(chan *fakeConn, 1)
	f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) {
		ready(c, "s")
		conns <- c
	})
	s := newSink()
	a := connect(t, f.network(t), goodBot, s)
	a.rememberDM("8", "7")
	c := <-conns
	c.dispatch("MESSAGE_CREATE", map[string]any{"id": "7002", "channel_id": "8", "content": "",
		"author": map[string]any{"id": "7", "username": "ann"}, "timestamp": time.Now().Format(time.RFC3339), "type": 0,
		"sticker_items": []any{
			map[string]any{"id": "3001", "name": "wave", "format_type": 1},
			map[string]any{"id": "3002", "name": "dance", "format_type": 3},
			map[string]any{"id": "3003", "name": "spin", "format_type": 4},
			map[string]any{"id": "../x", "name": "bad", "format_type": 1},
		}})
	got := await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == "7002" })
	if got.Body != "[sticker: dance]" {
		t.Errorf("body %q, want the animation by name", got.Body)
	}
	var files []string
	for _, at := range got.Attachments {
		files = append(files, at.Name+" "+at.Type+" "+at.URL)
	}
	want := []string{
		"wave.png image/png " + f.srv.URL + "/stickers/3001.png",
		"spin.gif image/gif " + f.srv.URL + "/stickers/3003.gif",
	}
	if !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
}

// TestWatchPresence: people the user asked to watch show their presence
// as the state knows it (offline when no guild shows them online), then
// its changes; others do not (Spacebar sends no statuses: a scripted
// guild here).
func TestWatchPresence(t *testing.T) {
	conns := make(chan *fakeConn, 1)
	f := newFakeDiscord(t, func(op int, d json.RawMessage, c *fakeConn) {
		ready(c, "s")
		c.dispatch("GUILD_CREATE", map[string]any{"id": "900", "name": "g", "owner_id": "1001", "roles": []any{}, "channels": []any{},
			"members": []any{
				map[string]any{"user": map[string]any{"id": "1001", "username": "ann"}, "roles": []string{}, "joined_at": "2026-01-01T00:00:00Z"},
			},
			"presences": []any{map[string]any{"user": map[string]any{"id": "1001"}, "status": "idle"}}})
		conns <- c
	})
	s := newSink()
	a := connect(t, f.network(t), goodBot, s)
	c := <-conns
	awaitGuild(t, a, "900", "1001")
	if err := a.Watch(context.Background(), []transports.ID{UserID("1001"), UserID("1002"), GuildID("900")}); err != nil {
		t.Fatal(err)
	}
	shown := func() map[transports.ID]transports.Show {
		out := map[transports.ID]transports.Show{}
		for _, ev := range s.all() {
			if p, ok := ev.(*transports.PresenceEvent); ok {
				out[p.From] = p.Presence.Show
			}
		}
		return out
	}
	if got := shown(); len(got) != 2 || got[UserID("1001")] != transports.Away || got[UserID("1002")] != transports.Offline {
		t.Errorf("presences at Watch %v, want 1001 away and 1002 offline", got)
	}
	// In order: once 1002's is delivered, 1003's was handled.
	c.dispatch("PRESENCE_UPDATE", map[string]any{"user": map[string]any{"id": "1003"}, "guild_id": "900", "status": "online"})
	c.dispatch("PRESENCE_UPDATE", map[string]any{"user": map[string]any{"id": "1002"}, "guild_id": "900", "status": "online"})
	got := await(t, s, func(ev *transports.PresenceEvent) bool {
		return ev.From == UserID("1002") && ev.Presence.Show == transports.Available
	})
	if got == nil {
		t.Fatal("no presence for 1002")
	}
	if _, ok := shown()[UserID("1003")]; ok {
		t.Error("the presence of someone not watched was delivered")
	}
}

// awaitGuild waits until a's state has guild's GUILD_CREATE, with member.
func awaitGuild(t *testing.T, a *adapter, guild, member string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for a.stateMember(guild, member) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("GUILD_CREATE of %s not in the state", guild)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
