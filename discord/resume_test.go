package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// RESUME after a process restart, against the scripted gateway (Spacebar
// answers op 6 with op 9: see shared/testpeers/spacebar/README.md).

// TestSessionFields fails when an upgrade of discordgo renames or retypes
// the unexported fields a RESUME after a restart writes
// (sessionfields.go): the restart would IDENTIFY again, silently.
func TestSessionFields(t *testing.T) {
	s, err := discordgo.New("Bot x")
	if err != nil {
		t.Fatal(err)
	}
	f, err := fieldsOf(s)
	if err != nil {
		t.Fatalf("discordgo.Session no longer has sessionID string, sequence *int64 and gateway string: %v", err)
	}
	if err := setResumable(s, "session-9", 42, "wss://gateway.example/?v=9&encoding=json"); err != nil {
		t.Fatal(err)
	}
	if *f.sessionID != "session-9" || **f.sequence != 42 || *f.gateway != "wss://gateway.example/?v=9&encoding=json" {
		t.Errorf("fields after setResumable: %q %d %q", *f.sessionID, **f.sequence, *f.gateway)
	}
}

// TestResumeGateway: the stored resume_gateway_url is dialled only as a
// websocket address (plain ws only for a self-hosted server_url).
func TestResumeGateway(t *testing.T) {
	discord, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	selfHosted, err := New(Config{ServerURL: "http://127.0.0.1:3001"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		n    *Network
		raw  string
		want string
	}{
		{"discord", discord, "wss://gateway-us-east1-b.discord.gg", "wss://gateway-us-east1-b.discord.gg/?v=9&encoding=json"},
		{"with a path", discord, "wss://gw.example/ws/", "wss://gw.example/ws/?v=9&encoding=json"},
		{"plain ws to discord", discord, "ws://gw.example", ""},
		{"plain ws self-hosted", selfHosted, "ws://127.0.0.1:3002", "ws://127.0.0.1:3002/?v=9&encoding=json"},
		{"http", selfHosted, "http://127.0.0.1:3002", ""},
		{"query", discord, "wss://gw.example/?v=6", ""},
		{"credentials", discord, "wss://u:p@gw.example", ""},
		{"none", discord, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.n.resumeGateway(tt.raw); got != tt.want {
				t.Errorf("resumeGateway(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

// gatewaySessions is a scripted gateway that keeps a session across
// connections, as Discord does: its dispatches numbered in order, those
// after a RESUME's seq replayed and then RESUMED; a client's close with
// 1000 or 1001 ends the session.
type gatewaySessions struct {
	f     *fakeDiscord
	guild map[string]any // GUILD_CREATE after READY

	mu      sync.Mutex
	id      string
	events  []frame
	conn    *fakeConn // attached, nil while none is
	ended   bool
	refuse  bool // answer RESUME with op 9 d=false
	created int
}

func newGatewaySessions(t *testing.T) *gatewaySessions {
	g := &gatewaySessions{}
	g.f = newFakeDiscord(t, g.script)
	g.f.mu.Lock()
	defer g.f.mu.Unlock()
	g.f.closed = func(c *fakeConn, code int) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.conn == c {
			g.conn = nil
			g.ended = g.ended || code == 1000 || code == 1001
		}
	}
	return g
}

func (g *gatewaySessions) script(op int, d json.RawMessage, c *fakeConn) {
	switch op {
	case 2:
		g.mu.Lock()
		g.created++
		g.id, g.events, g.ended, g.conn = fmt.Sprintf("session-%d", g.created), nil, false, c
		id := g.id
		g.mu.Unlock()
		g.send("READY", map[string]any{"v": 9, "session_id": id,
			"resume_gateway_url": "ws" + strings.TrimPrefix(g.f.srv.URL, "http") + "/resume",
			"user":               map[string]any{"id": fakeBotID, "username": "fakebot", "bot": true},
			"guilds":             []any{map[string]any{"id": "900", "unavailable": true}},
			"private_channels":   []any{dmChannel}})
		g.send("GUILD_CREATE", g.guild)
	case 6:
		var r struct {
			Session string `json:"session_id"`
			Seq     int64  `json:"seq"`
		}
		json.Unmarshal(d, &r)
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.refuse || g.ended || r.Session != g.id || r.Seq < 1 || r.Seq > int64(len(g.events)) {
			c.write(frame{Op: 9, D: json.RawMessage(`false`)})
			return
		}
		g.conn = c
		for _, fr := range g.events[r.Seq:] {
			c.write(fr)
		}
		g.appendLocked("RESUMED", map[string]any{})
	}
}

// send adds a dispatch to the session, written to its connection if one
// is attached, and returns its sequence number.
func (g *gatewaySessions) send(typ string, d any) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.appendLocked(typ, d)
}

func (g *gatewaySessions) appendLocked(typ string, d any) int64 {
	raw, _ := json.Marshal(d)
	fr := frame{Op: 0, T: typ, S: int64(len(g.events) + 1), D: raw}
	g.events = append(g.events, fr)
	if g.conn != nil {
		g.conn.write(fr)
	}
	return fr.S
}

// The scripted account's world: guild 900 owned by ann (1001), with bob
// (1002) in a role that may manage messages; its channel 901; a DM (8)
// with carol (7).
var (
	ann   = map[string]any{"id": "1001", "username": "ann"}
	bob   = map[string]any{"id": "1002", "username": "bob"}
	carol = map[string]any{"id": "7", "username": "carol"}

	dmChannel = map[string]any{"id": "8", "type": 1, "recipients": []any{carol}}
	general   = map[string]any{"id": "901", "type": 0, "guild_id": "900", "name": "general", "topic": "all things"}
	roles     = []any{
		map[string]any{"id": "900", "name": "@everyone", "permissions": "0", "position": 0},
		map[string]any{"id": "950", "name": "mods", "permissions": fmt.Sprint(discordgo.PermissionManageMessages), "position": 1},
	}
	members = []map[string]any{
		{"user": map[string]any{"id": fakeBotID, "username": "fakebot", "bot": true}, "roles": []string{}, "joined_at": "2026-01-01T00:00:00Z"},
		{"user": ann, "roles": []string{}, "joined_at": "2026-01-01T00:00:00Z"},
		{"user": bob, "roles": []string{"950"}, "joined_at": "2026-01-01T00:00:00Z"},
	}
)

func msg(id, channel, guild string, author map[string]any, content string) map[string]any {
	m := map[string]any{"id": id, "channel_id": channel, "content": content, "author": author,
		"timestamp": "2026-11-30T12:00:00Z", "type": 0}
	if guild != "" {
		m["guild_id"] = guild
	}
	return m
}

func edited(m map[string]any, content string) map[string]any {
	e := maps.Clone(m)
	e["content"], e["edited_timestamp"] = content, "2026-11-30T12:05:00Z"
	return e
}

func reaction(channel, guild, message, user, emoji string) map[string]any {
	r := map[string]any{"user_id": user, "channel_id": channel, "message_id": message, "emoji": map[string]any{"name": emoji}}
	if guild != "" {
		r["guild_id"] = guild
	}
	return r
}

// restartScene is a gateway with the world above, its REST, and the
// store both processes share.
type restartScene struct {
	g     *gatewaySessions
	store *transportstest.Store
	room  transports.ID
}

func newRestartScene(t *testing.T) *restartScene {
	g := newGatewaySessions(t)
	g.guild = map[string]any{"id": "900", "name": "g", "owner_id": "1001", "member_count": 3, "roles": roles,
		"members": members, "channels": []any{general}}
	f := g.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.guild = map[string]any{"id": "900", "name": "g", "owner_id": "1001", "approximate_member_count": 3, "roles": roles}
	f.userGuilds = []map[string]any{{"id": "900", "name": "g"}}
	f.channels = []map[string]any{general}
	f.dms = []map[string]any{dmChannel}
	f.members = members
	f.history = map[string][]map[string]any{}
	return &restartScene{g: g, store: &transportstest.Store{}, room: ChannelID("901", "900")}
}

// open connects an adapter of the scene's account on store.
func (sc *restartScene) open(t *testing.T, store transports.Store, s *sink) *adapter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ad, err := sc.g.f.network(t).Connect(ctx, transports.Account{User: "u@example.org", Credentials: goodBot, Store: store}, s)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { ad.Close() })
	return ad.(*adapter)
}

// handled waits until a's handlers ran for the dispatch numbered seq.
func handled(t *testing.T, a *adapter, seq int64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		a.mu.Lock()
		at := a.gw.seq
		a.mu.Unlock()
		if at >= seq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled up to sequence %d, want %d", at, seq)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// news is what a sink got of messages, edits, deletions and reactions,
// one line each, in order.
func news(s *sink) []string {
	var out []string
	for _, ev := range s.all() {
		switch ev := ev.(type) {
		case *transports.MessageEvent:
			out = append(out, fmt.Sprintf("message %s %s %s %q", ev.From, ev.RemoteID, ev.Nick, ev.Body))
		case *transports.EditEvent:
			out = append(out, fmt.Sprintf("edit %s %s %s %q", ev.From, ev.Target, ev.Nick, ev.Body))
		case *transports.RetractEvent:
			out = append(out, fmt.Sprintf("retract %s %s", ev.From, ev.Target))
		case *transports.ReactionEvent:
			out = append(out, fmt.Sprintf("reaction %s %s %s %s", ev.From, ev.Target, ev.Nick, ev.Reaction))
		}
	}
	return out
}

// firstRun is the first process: it connects, joins the room, delivers
// a DM (6001) and a room message (6101); it returns the adapter, to be
// stopped, and the sequence of the last event it handled.
func (sc *restartScene) firstRun(t *testing.T, store transports.Store) (*adapter, int64) {
	t.Helper()
	s := newSink()
	a := sc.open(t, store, s)
	awaitGuild(t, a, "900", "1002")
	if err := a.JoinRoom(context.Background(), sc.room, ""); err != nil {
		t.Fatal(err)
	}
	sc.g.send("MESSAGE_CREATE", msg("6001", "8", "", carol, "hello"))
	last := sc.g.send("MESSAGE_CREATE", msg("6101", "901", "900", bob, "hi all"))
	await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == "6101" })
	handled(t, a, last)
	return a, last
}

// TestResumeAfterRestart: a process stopped (Close) and started again
// RESUMEs the gateway session from the store: the server replays what
// was sent meanwhile, and the new process delivers each of it once, in
// the right conversations: the DM's at once (its channel from the state
// rebuilt over REST), the room's once the room is joined again (its
// messages from history, its edits, deletions and reactions held until
// then), with the nicks and standings of the rebuilt guild.
func TestResumeAfterRestart(t *testing.T) {
	sc := newRestartScene(t)
	g, f := sc.g, sc.g.f
	first, last := sc.firstRun(t, sc.store)
	first.Close() // the first process stops

	// Meanwhile, in the DM and in the room.
	dm := []map[string]any{msg("6001", "8", "", carol, "hello"), msg("6002", "8", "", carol, "while away")}
	g.send("MESSAGE_CREATE", dm[1])
	g.send("TYPING_START", map[string]any{"user_id": "7", "channel_id": "8", "timestamp": 1})
	g.send("MESSAGE_UPDATE", edited(dm[0], "hello again"))
	g.send("MESSAGE_REACTION_ADD", reaction("8", "", "6001", "7", "👍"))
	g.send("MESSAGE_DELETE", map[string]any{"id": "6000", "channel_id": "8"})
	room := []map[string]any{msg("6101", "901", "900", bob, "hi all"), msg("6102", "901", "900", bob, "new in the room")}
	beforeHeld := g.send("MESSAGE_CREATE", room[1])
	g.send("MESSAGE_UPDATE", edited(room[0], "hi everyone"))
	g.send("MESSAGE_REACTION_ADD", reaction("901", "900", "6101", "1001", "🎉"))
	resumed := g.send("MESSAGE_DELETE", map[string]any{"id": "6100", "channel_id": "901", "guild_id": "900"}) + 1
	f.mu.Lock()
	f.history["8"], f.history["901"] = dm, []map[string]any{edited(room[0], "hi everyone"), room[1]}
	f.mu.Unlock()

	s := newSink()
	b := sc.open(t, sc.store, s)
	// The DM's events came with the replay, before RESUMED; the room
	// is joined again as the component does once the session is up.
	await(t, s, func(ev *transports.RetractEvent) bool { return ev.Target == "6000" })
	handled(t, b, resumed)
	// Written at RESUMED, the sequence stays before the room's held
	// events: a process killed now would have them replayed. The write
	// follows the handling of RESUMED: wait for it to land.
	written(t, b)
	if seq := storedSeq(t, sc.store); seq != beforeHeld {
		t.Errorf("sequence stored while room events are held: %d, want %d (before the first of them)", seq, beforeHeld)
	}
	if err := b.JoinRoom(context.Background(), sc.room, ""); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if seq := storedSeq(t, sc.store); seq != resumed {
		t.Errorf("sequence stored at Close: %d, want RESUMED's %d (nothing held any more)", seq, resumed)
	}

	frames := f.frames()
	var resume struct {
		Session string `json:"session_id"`
		Seq     int64  `json:"seq"`
	}
	if len(frames) == 2 {
		json.Unmarshal(frames[1].D, &resume)
	}
	if len(frames) != 2 || frames[1].Op != 6 || resume.Session != "session-1" || resume.Seq != last {
		t.Fatalf("gateway frames %+v; want IDENTIFY, then RESUME of session-1 at sequence %d", frames, last)
	}
	if f.paths[1] != "/resume/" {
		t.Errorf("the RESUME came in at %s, want READY's resume_gateway_url", f.paths[1])
	}
	carolID, roomID := UserID("7"), sc.room
	want := []string{
		fmt.Sprintf("message %s 6002 carol %q", carolID, "while away"),
		fmt.Sprintf("edit %s 6001  %q", carolID, "hello again"),
		fmt.Sprintf("reaction %s 6001  👍", carolID),
		fmt.Sprintf("retract %s 6000", carolID),
		fmt.Sprintf("message %s 6102 bob %q", roomID, "new in the room"),
		fmt.Sprintf("edit %s 6101 bob %q", roomID, "hi everyone"),
		fmt.Sprintf("reaction %s 6101 ann 🎉", roomID),
		fmt.Sprintf("retract %s 6100", roomID),
	}
	if got := news(s); !slices.Equal(got, want) {
		t.Errorf("after the restart:\n%s\nwant each once:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, ev := range s.all() {
		if ty, ok := ev.(*transports.TypingEvent); ok {
			t.Errorf("a replayed typing notification was delivered: %+v", ty)
		}
	}
	// The guild's roles and owner came from the rebuilt state.
	standing := map[string]string{}
	for _, ev := range s.all() {
		if o, ok := ev.(*transports.OccupantEvent); ok && o.Room == roomID {
			standing[o.Nick] = fmt.Sprint(o.Role, "/", o.Affiliation)
		}
	}
	mod, owner := fmt.Sprint(transports.RoleModerator, "/", transports.AffiliationMember), fmt.Sprint(transports.RoleModerator, "/", transports.AffiliationOwner)
	if standing["bob"] != mod || standing["ann"] != owner {
		t.Errorf("occupants %v; want bob a moderator (manage messages), ann the owner", standing)
	}
}

// TestResumeRefused: a server that no longer has the session answers the
// RESUME with op 9 (d=false); the adapter IDENTIFYs, stores the new
// session, and fetches what was missed from history, each once.
func TestResumeRefused(t *testing.T) {
	sc := newRestartScene(t)
	g, f := sc.g, sc.g.f
	first, _ := sc.firstRun(t, sc.store)
	first.Close()

	dm := []map[string]any{msg("6001", "8", "", carol, "hello"), msg("6002", "8", "", carol, "while away")}
	g.send("MESSAGE_CREATE", dm[1])
	g.mu.Lock()
	g.refuse = true
	g.mu.Unlock()
	f.mu.Lock()
	f.history["8"] = dm
	f.mu.Unlock()

	s := newSink()
	b := sc.open(t, sc.store, s)
	await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == "6002" })
	b.Close()

	var ops []int
	for _, fr := range f.frames() {
		ops = append(ops, fr.Op)
	}
	if want := []int{2, 6, 2}; !slices.Equal(ops, want) {
		t.Errorf("gateway ops %v, want %v (IDENTIFY, RESUME refused, IDENTIFY)", ops, want)
	}
	if want := []string{fmt.Sprintf("message %s 6002 carol %q", UserID("7"), "while away")}; !slices.Equal(news(s), want) {
		t.Errorf("after the refused RESUME %q, want %q", news(s), want)
	}
	v, err := sc.store.Get(context.Background(), resumeKey)
	var r resumeRecord
	if err != nil || json.Unmarshal(v, &r) != nil || r.Session != "session-2" {
		t.Errorf("stored gateway session %s (%v); want the new session-2", v, err)
	}
}

// laggingStore is a store that keeps only the first write of the
// gateway session (READY's), as if the process were killed before the
// next write of the sequence, while the bookmarks (written at every
// delivery) went on.
type laggingStore struct {
	*transportstest.Store
	mu    sync.Mutex
	wrote bool
}

func (l *laggingStore) Put(ctx context.Context, key string, v []byte) error {
	l.mu.Lock()
	drop := l.wrote && key == resumeKey
	l.wrote = l.wrote || key == resumeKey
	l.mu.Unlock()
	if drop {
		return nil
	}
	return l.Store.Put(ctx, key, v)
}

// TestResumeStaleSequence: the process was killed after it delivered
// messages but before it wrote the sequence; the next one RESUMEs from
// the stale sequence, the server replays those messages with the new
// ones, and only the new ones are delivered (the bookmarks say which
// were).
func TestResumeStaleSequence(t *testing.T) {
	sc := newRestartScene(t)
	g, f := sc.g, sc.g.f
	first, last := sc.firstRun(t, &laggingStore{Store: sc.store})
	first.Close()
	v, err := sc.store.Get(context.Background(), resumeKey)
	var stale resumeRecord
	if err != nil || json.Unmarshal(v, &stale) != nil {
		t.Fatalf("no stored session: %v", err)
	}
	if stale.Seq >= last {
		t.Fatalf("stored sequence %d, want one before the delivered messages (%d)", stale.Seq, last)
	}

	g.send("MESSAGE_CREATE", msg("6002", "8", "", carol, "while away"))
	f.mu.Lock()
	f.history["8"] = []map[string]any{msg("6001", "8", "", carol, "hello"), msg("6002", "8", "", carol, "while away")}
	f.history["901"] = []map[string]any{msg("6101", "901", "900", bob, "hi all")}
	f.mu.Unlock()

	s := newSink()
	b := sc.open(t, sc.store, s)
	await(t, s, func(ev *transports.MessageEvent) bool { return ev.RemoteID == "6002" })
	if err := b.JoinRoom(context.Background(), sc.room, ""); err != nil {
		t.Fatal(err)
	}
	b.Close()

	frames := f.frames()
	var resume struct {
		Seq int64 `json:"seq"`
	}
	if len(frames) == 2 {
		json.Unmarshal(frames[1].D, &resume)
	}
	if len(frames) != 2 || frames[1].Op != 6 || resume.Seq != stale.Seq {
		t.Fatalf("gateway frames %+v; want IDENTIFY, then RESUME at the stale sequence %d", frames, stale.Seq)
	}
	if want := []string{fmt.Sprintf("message %s 6002 carol %q", UserID("7"), "while away")}; !slices.Equal(news(s), want) {
		t.Errorf("after the replay from a stale sequence %q, want only the new message %q", news(s), want)
	}
}

// storedSeq is the sequence of the gateway session in store.
// written waits until the sequence a would write now (the handled one,
// or the pin while room events are held) is the one it last wrote.
func written(t *testing.T, a *adapter) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		a.mu.Lock()
		want, saved := a.gw.seq, a.gw.saved
		if a.gw.pin > 0 && a.gw.pin < want {
			want = a.gw.pin
		}
		a.mu.Unlock()
		if saved == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("wrote sequence %d, want %d written", saved, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func storedSeq(t *testing.T, store transports.Store) int64 {
	t.Helper()
	v, err := store.Get(context.Background(), resumeKey)
	var r resumeRecord
	if err != nil || json.Unmarshal(v, &r) != nil {
		t.Fatalf("no stored gateway session: %v", err)
	}
	return r.Seq
}
