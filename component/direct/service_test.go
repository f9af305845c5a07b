package direct

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
	"github.com/switchboard-im/switchboard/transports"
)

// adapter is a legacy session that records the calls of the flows.
type adapter struct {
	calls []string
	err   error // of React, SetTyping, Send
}

func (a *adapter) Send(_ context.Context, m transports.Message) (transports.RemoteID, error) {
	a.calls = append(a.calls, fmt.Sprintf("send %s %q id=%s reply=%s", m.To, m.Body, m.ID, m.ReplyTo))
	return "r1", a.err
}
func (a *adapter) SetPresence(context.Context, transports.Presence) error { return nil }
func (a *adapter) Done() <-chan struct{}                                  { return nil }
func (a *adapter) Close() error                                           { return nil }
func (a *adapter) Err() error                                             { return nil }
func (a *adapter) React(_ context.Context, to transports.ID, target transports.RemoteID, r string, remove bool) error {
	a.calls = append(a.calls, fmt.Sprintf("react %s %s %s remove=%v", to, target, r, remove))
	return a.err
}
func (a *adapter) SetTyping(_ context.Context, to transports.ID, st transports.ChatState) error {
	a.calls = append(a.calls, fmt.Sprintf("typing %s %d", to, st))
	return a.err
}

// fakeCore is the bridge core as the tests set it up; it runs lane jobs
// at once and records what the service asked of it.
type fakeCore struct {
	caps       transports.Capabilities
	registered bool
	session    transports.Adapter
	kind       transports.IDKind
	refs       map[string]transports.RemoteID // ref → legacy ID
	xrefs      map[transports.RemoteID]string // legacy ID → ref
	edited     bool
	deliverErr error
	awaited    map[transports.RemoteID]PendingReceipt // the durable receipts, which outlive a Service
	log        []string
	t          *testing.T
}

func marshal(t *testing.T, m *stanza.Message) string {
	b, err := xml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *fakeCore) record(format string, args ...any) {
	f.log = append(f.log, fmt.Sprintf(format, args...))
}

func (f *fakeCore) NetworkName() string                   { return "IRC" }
func (f *fakeCore) Capabilities() transports.Capabilities { return f.caps }
func (f *fakeCore) Domain() jid.JID                       { return jid.MustParse("gw.example") }
func (f *fakeCore) LegacyJID(id transports.ID) (jid.JID, error) {
	if strings.Contains(string(id), " ") {
		return jid.JID{}, errors.New("no JID")
	}
	return jid.New(string(id), "gw.example", "")
}
func (f *fakeCore) LegacyID(j jid.JID) (transports.ID, error) {
	if j.Localpart() == "" {
		return "", errors.New("the address has no legacy part")
	}
	return transports.ID(j.Localpart()), nil
}
func (f *fakeCore) Kind(transports.ID) (transports.IDKind, error) { return f.kind, nil }
func (f *fakeCore) Registered(context.Context, jid.JID) bool      { return f.registered }
func (f *fakeCore) Adapter(string) transports.Adapter             { return f.session }
func (f *fakeCore) Status(string) transports.Status {
	return transports.Status{State: transports.StateTransientDisconnect, Text: "down"}
}
func (f *fakeCore) Admit(_ *stanza.In, job func(context.Context)) { job(context.Background()) }
func (f *fakeCore) ReplyError(_ *stanza.In, e *stanzaerr.Error) {
	f.record("error %s: %s", e.Condition, e.Text)
}
func (f *fakeCore) WaitToSend(context.Context, string) error { return nil }
func (f *fakeCore) Retract(_ context.Context, _ transports.Adapter, _ string, to transports.ID, ref string) *stanzaerr.Error {
	f.record("retract %s %s", to, ref)
	return nil
}
func (f *fakeCore) MessageRef(_ context.Context, _ string, _ transports.ID, ref string) transports.RemoteID {
	return f.refs[ref]
}
func (f *fakeCore) XMPPRef(_ context.Context, _ string, _ transports.ID, target transports.RemoteID) string {
	return f.xrefs[target]
}
func (f *fakeCore) MaxBody() int { return 20 }
func (f *fakeCore) Correct(_ context.Context, _ transports.Adapter, _ string, _ transports.ID, ref, body string) (bool, string, *stanzaerr.Error) {
	f.record("correct %s %q", ref, body)
	if f.edited {
		return true, "", nil
	}
	return false, stanza.CorrectionMarker + body, nil
}
func (f *fakeCore) SendMessage(ctx context.Context, _ *stanza.In, a transports.Adapter, msg transports.Message, files bool,
	done func(context.Context, transports.RemoteID, error)) {
	f.record("send files=%v", files)
	rid, err := a.Send(ctx, msg)
	done(ctx, rid, err)
}
func (f *fakeCore) Pair(_ context.Context, _ string, to transports.ID, rid transports.RemoteID, xid string) error {
	f.record("pair %s %s %s", to, rid, xid)
	return nil
}
func (f *fakeCore) AwaitReceipt(_ context.Context, _ string, to transports.ID, rid transports.RemoteID, p PendingReceipt) error {
	f.record("await %s %s %+v", to, rid, p)
	if f.awaited == nil {
		f.awaited = make(map[transports.RemoteID]PendingReceipt)
	}
	f.awaited[rid] = p
	return nil
}
func (f *fakeCore) AwaitedReceipt(_ context.Context, _ string, _ transports.ID, rid transports.RemoteID) (PendingReceipt, bool, error) {
	if rid == "broken" {
		return PendingReceipt{}, false, errors.New("storage down")
	}
	p, ok := f.awaited[rid]
	return p, ok, nil
}
func (f *fakeCore) ReceiptResolved(_ context.Context, _ string, _ transports.ID, rid transports.RemoteID) error {
	f.record("resolved %s", rid)
	delete(f.awaited, rid)
	return nil
}
func (f *fakeCore) SendQuiet(_ context.Context, m *stanza.Message) {
	f.record("now %s", marshal(f.t, m))
}
func (f *fakeCore) Deliver(_ context.Context, m *stanza.Message) error {
	f.record("queue %s", marshal(f.t, m))
	return f.deliverErr
}
func (f *fakeCore) Count(ok bool)        { f.record("count %v", ok) }
func (f *fakeCore) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func in(t *testing.T, to, payload string) *stanza.In {
	t.Helper()
	el := xmltreetest.Parse(t, `<message xmlns="jabber:component:accept" from="u@example.org/pc" to="`+to+`" id="m1">`+payload+`</message>`)
	return &stanza.In{Element: el, ID: "m1", From: jid.MustParse("u@example.org/pc"), To: jid.MustParse(to)}
}

var all = transports.Capabilities{ChatStates: true, Reactions: true, Retractions: true, Replies: true}

const (
	composing = `<composing xmlns="http://jabber.org/protocol/chatstates"/>`
	retract   = `<retract xmlns="urn:xmpp:message-retract:1" id="x1"/><body>fallback</body>`
)

func reactions(rs ...string) string {
	s := `<reactions xmlns="urn:xmpp:reactions:0" id="x1">`
	for _, r := range rs {
		s += "<reaction>" + r + "</reaction>"
	}
	return s + "</reactions>"
}

// TestPayload: which messages the service takes, what it refuses before
// any work, and the legacy calls the others become.
func TestPayload(t *testing.T) {
	tests := []struct {
		name      string
		caps      transports.Capabilities
		noSession bool
		to        string
		payload   string
		hasBody   bool
		handled   bool
		wantLog   []string
		wantCalls []string
	}{
		{name: "a text message is not a payload", caps: all, to: "bob@gw.example", payload: `<body>hi</body>`, hasBody: true},
		{name: "a text message with a chat state is not a payload", caps: all, to: "bob@gw.example", payload: `<body>hi</body>` + composing, hasBody: true},
		{name: "no payload at all", caps: all, to: "bob@gw.example"},
		{name: "a chat state", caps: all, to: "bob@gw.example", payload: composing, handled: true,
			wantCalls: []string{fmt.Sprintf("typing bob %d", transports.Composing)}},
		{name: "a chat state the network does not show", to: "bob@gw.example", payload: composing, handled: true},
		{name: "a chat state without a session: quiet", caps: all, noSession: true, to: "bob@gw.example", payload: composing, handled: true},
		{name: "a retraction", caps: all, to: "bob@gw.example", payload: retract, hasBody: true, handled: true,
			wantLog: []string{"retract bob x1"}},
		{name: "a retraction the network cannot do: refused, nothing sent", to: "bob@gw.example", payload: retract, hasBody: true, handled: true,
			wantLog: []string{"error feature-not-implemented: IRC cannot delete messages: the message stays there, and nothing was sent."}},
		{name: "a retraction without a session", caps: all, noSession: true, to: "bob@gw.example", payload: retract, hasBody: true, handled: true,
			wantLog: []string{"error recipient-unavailable: You are not connected to IRC (" + transports.StateTransientDisconnect.String() + "): down. The message was not sent."}},
		{name: "reactions the network has not", to: "bob@gw.example", payload: reactions("👍"), handled: true,
			wantLog: []string{"error feature-not-implemented: IRC has no reactions."}},
		{name: "reactions to no contact", caps: all, to: "gw.example", payload: reactions("👍"), handled: true,
			wantLog: []string{"error jid-malformed: the address has no legacy part"}},
		{name: "a chat state to no contact: quiet", caps: all, to: "gw.example", payload: composing, handled: true},
		{name: "reactions: added one at a time", caps: all, to: "bob@gw.example", payload: reactions("👍", "🎉"), handled: true,
			wantCalls: []string{"react bob r1 👍 remove=false", "react bob r1 🎉 remove=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &adapter{}
			core := &fakeCore{caps: tt.caps, registered: true, session: a, refs: map[string]transports.RemoteID{"x1": "r1"}}
			if tt.noSession {
				core.session = nil
			}
			d := NewService(core)
			if got := d.Payload(in(t, tt.to, tt.payload), tt.hasBody); got != tt.handled {
				t.Errorf("Payload = %v, want %v", got, tt.handled)
			}
			if !slices.Equal(core.log, tt.wantLog) {
				t.Errorf("core log %q, want %q", core.log, tt.wantLog)
			}
			if !slices.Equal(a.calls, tt.wantCalls) {
				t.Errorf("legacy calls %q, want %q", a.calls, tt.wantCalls)
			}
		})
	}
}

// TestReactionSets: the user's successive sets become additions and
// removals on the network; unknown messages and refusals are answered.
func TestReactionSets(t *testing.T) {
	a := &adapter{}
	core := &fakeCore{caps: all, registered: true, session: a, refs: map[string]transports.RemoteID{"x1": "r1"}}
	d := NewService(core)
	d.Payload(in(t, "bob@gw.example", reactions("👍", "🎉")), false)
	d.Payload(in(t, "bob@gw.example", reactions("🎉", "❤")), false)
	d.Payload(in(t, "bob@gw.example", reactions()), false)
	want := []string{"react bob r1 👍 remove=false", "react bob r1 🎉 remove=false",
		"react bob r1 ❤ remove=false", "react bob r1 👍 remove=true",
		"react bob r1 🎉 remove=true", "react bob r1 ❤ remove=true"}
	if !slices.Equal(a.calls, want) {
		t.Errorf("legacy calls\n  %q\nwant\n  %q", a.calls, want)
	}

	core.log, a.calls = nil, nil
	d.Payload(in(t, "bob@gw.example", `<reactions xmlns="urn:xmpp:reactions:0" id="unknown"><reaction>👍</reaction></reactions>`), false)
	d.Payload(in(t, "bob@gw.example", `<reactions xmlns="urn:xmpp:reactions:0"><reaction>👍</reaction></reactions>`), false)
	a.err = fmt.Errorf("%w: no such message", transports.ErrNotFound)
	d.Payload(in(t, "bob@gw.example", reactions("👍")), false)
	wantLog := []string{
		"error item-not-found: The gateway does not know that message (too old, or not sent through it).",
		"error bad-request: The reactions element has no id.",
		"error item-not-found: no such message",
	}
	if !slices.Equal(core.log, wantLog) || len(a.calls) != 1 {
		t.Errorf("core log\n  %q\nwant\n  %q (legacy calls %q)", core.log, wantLog, a.calls)
	}
	if got := d.reactions.Get("u@example.org", "bob", "r1", ""); got != nil {
		t.Errorf("a refused set was remembered: %q", got)
	}
}

// TestAdapter: which session carries the user's one-to-one messages, and
// what the user is told when none does.
func TestAdapter(t *testing.T) {
	a := &adapter{}
	tests := []struct {
		name       string
		registered bool
		session    transports.Adapter
		kind       transports.IDKind
		want       transports.Adapter
		wantLog    []string
	}{
		{"registered, connected", true, a, transports.KindContact, a, nil},
		{"anonymous session from a room join", false, a, transports.KindContact, a, nil},
		{"a server, anonymously: never", false, a, transports.KindServer, nil,
			[]string{"error not-allowed: Commands to a server are for registered users: register with gw.example first."}},
		{"a server, registered", true, a, transports.KindServer, a, nil},
		{"not registered, no session", false, nil, transports.KindContact, nil,
			[]string{"error registration-required: Register with gw.example first."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := &fakeCore{registered: tt.registered, session: tt.session, kind: tt.kind}
			got := NewService(core).Adapter(context.Background(), in(t, "bob@gw.example", ""), "bob", false)
			if got != tt.want || !slices.Equal(core.log, tt.wantLog) {
				t.Errorf("Adapter = %v, log %q; want %v, %q", got, core.log, tt.want, tt.wantLog)
			}
			core.log = nil
			NewService(core).Adapter(context.Background(), in(t, "bob@gw.example", ""), "bob", true)
			if core.log != nil {
				t.Errorf("quiet, yet answered: %q", core.log)
			}
		})
	}
}

// receiptNow is the receipt of the message in of TestSend, sent at once.
const receiptNow = `now <message from="bob@gw.example" to="u@example.org/pc"><received xmlns="urn:xmpp:receipts" id="m1"></received></message>`

// TestSend: a one-to-one text message with its reply and correction, as
// the network gets it, and what the user gets back.
func TestSend(t *testing.T) {
	tests := []struct {
		name      string
		caps      transports.Capabilities
		edited    bool
		sendErr   error
		payload   string
		body      string
		files     bool
		wantLog   []string
		wantCalls []string
	}{
		{name: "a message, paired and acknowledged", caps: all, body: "hi", files: true,
			wantLog:   []string{"send files=true", "count true", "pair bob r1 m1", receiptNow},
			wantCalls: []string{`send bob "hi" id=m1 reply=`}},
		{name: "by its origin-id", caps: all, body: "hi", payload: `<origin-id xmlns="urn:xmpp:sid:0" id="o1"/>`,
			wantLog:   []string{"send files=false", "count true", "pair bob r1 o1", receiptNow},
			wantCalls: []string{`send bob "hi" id=o1 reply=`}},
		{name: "a reply", caps: all, body: "hi", payload: `<reply xmlns="urn:xmpp:reply:0" id="x1"/>`,
			wantLog:   []string{"send files=false", "count true", "pair bob r1 m1", receiptNow},
			wantCalls: []string{`send bob "hi" id=m1 reply=r1`}},
		{name: "a reply the network has not", body: "hi", payload: `<reply xmlns="urn:xmpp:reply:0" id="x1"/>`,
			wantLog:   []string{"send files=false", "count true", "pair bob r1 m1", receiptNow},
			wantCalls: []string{`send bob "hi" id=m1 reply=`}},
		{name: "a correction the network edits", caps: all, edited: true, body: "fixed", files: true,
			payload: `<replace xmlns="urn:xmpp:message-correct:0" id="x1"/>`,
			wantLog: []string{`correct x1 "fixed"`, "count true", receiptNow}},
		{name: "a correction as a new marked message, without files or pairing", caps: all, body: "fixed", files: true,
			payload:   `<replace xmlns="urn:xmpp:message-correct:0" id="x1"/>`,
			wantLog:   []string{`correct x1 "fixed"`, "send files=false", "count true", receiptNow},
			wantCalls: []string{`send bob "✎ fixed" id=m1 reply=`}},
		{name: "a correction that the marker makes too long", caps: all, body: "eighteen-bytes-xyz",
			payload: `<replace xmlns="urn:xmpp:message-correct:0" id="x1"/>`,
			wantLog: []string{`correct x1 "eighteen-bytes-xyz"`, "error policy-violation: The message is longer than 20 bytes."}},
		{name: "refused by the network", caps: all, body: "hi", sendErr: fmt.Errorf("%w: no such nick", transports.ErrNotFound),
			wantLog:   []string{"send files=false", "count false", "error item-not-found: no such nick"},
			wantCalls: []string{`send bob "hi" id=m1 reply=`}},
		{name: "too long", caps: all, body: strings.Repeat("x", 21),
			wantLog: []string{"error policy-violation: The message is longer than 20 bytes."}},
		{name: "blank", caps: all, body: " \n "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &adapter{err: tt.sendErr}
			core := &fakeCore{caps: tt.caps, registered: true, session: a, edited: tt.edited, refs: map[string]transports.RemoteID{"x1": "r1"}}
			core.t = t
			NewService(core).Send(in(t, "bob@gw.example", `<body>`+tt.body+`</body><request xmlns="urn:xmpp:receipts"/>`+tt.payload), tt.body, tt.files)
			if !slices.Equal(core.log, tt.wantLog) {
				t.Errorf("core log\n  %q\nwant\n  %q", core.log, tt.wantLog)
			}
			if !slices.Equal(a.calls, tt.wantCalls) {
				t.Errorf("legacy calls %q, want %q", a.calls, tt.wantCalls)
			}
		})
	}
	t.Run("to no contact", func(t *testing.T) {
		core := &fakeCore{caps: all, registered: true, session: &adapter{}}
		NewService(core).Send(in(t, "gw.example", `<body>hi</body>`), "hi", false)
		if want := []string{"error jid-malformed: the address has no legacy part"}; !slices.Equal(core.log, want) {
			t.Errorf("core log %q, want %q", core.log, want)
		}
	})
}

// TestIncoming: the contacts' events for the user, through the service:
// the message-ID map decides correction or note, a contact without a JID
// is named by the gateway, old edits are stamped.
func TestIncoming(t *testing.T) {
	core := &fakeCore{xrefs: map[transports.RemoteID]string{"r1": "x1"}}
	d := NewService(core)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d.now = func() time.Time { return now }
	u := jid.MustParse("u@example.org")
	ctx := context.Background()
	marshal := func(m *stanza.Message) string {
		if m == nil {
			return "nil"
		}
		m.ID = "i"
		if m.OriginID != nil {
			m.OriginID.ID = "i"
		}
		b, err := xml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name string
		got  *stanza.Message
		want string
	}{
		{"typing", d.Typing(u, &transports.TypingEvent{From: "bob", State: transports.Paused}),
			`<message id="i" type="chat" from="bob@gw.example" to="u@example.org"><paused xmlns="http://jabber.org/protocol/chatstates"></paused><no-store xmlns="urn:xmpp:hints"></no-store></message>`},
		{"typing from no JID: nothing", d.Typing(u, &transports.TypingEvent{From: "bo b"}), "nil"},
		{"a reaction to a known message", d.Reaction(ctx, u, &transports.ReactionEvent{From: "bob", Target: "r1", Reaction: "👍"}),
			`<message id="i" type="chat" from="bob@gw.example" to="u@example.org"><reactions xmlns="urn:xmpp:reactions:0" id="x1"><reaction>👍</reaction></reactions><store xmlns="urn:xmpp:hints"></store></message>`},
		{"a second reaction: the whole set", d.Reaction(ctx, u, &transports.ReactionEvent{From: "bob", Target: "r1", Reaction: "🎉"}),
			`<message id="i" type="chat" from="bob@gw.example" to="u@example.org"><reactions xmlns="urn:xmpp:reactions:0" id="x1"><reaction>👍</reaction><reaction>🎉</reaction></reactions><store xmlns="urn:xmpp:hints"></store></message>`},
		{"a reaction to an unknown message", d.Reaction(ctx, u, &transports.ReactionEvent{From: "bob", Target: "r9", Reaction: "👍", Remove: true}),
			`<message id="i" type="chat" from="bob@gw.example" to="u@example.org"><body>[took back the reaction 👍 to an earlier message]</body></message>`},
		{"a reaction without target: nothing", d.Reaction(ctx, u, &transports.ReactionEvent{From: "bob", Reaction: "👍"}), "nil"},
		{"a reaction from no JID: nothing", d.Reaction(ctx, u, &transports.ReactionEvent{From: "bo b", Target: "r1", Reaction: "👍"}), "nil"},
		{"a live edit", d.Edit(ctx, u, &transports.EditEvent{From: "bob", Target: "r1", Body: "fixed", Time: now.Add(-liveDelay)}),
			`<message id="i" type="chat" from="bob@gw.example" to="u@example.org"><body>fixed</body><origin-id xmlns="urn:xmpp:sid:0" id="i"></origin-id><replace xmlns="urn:xmpp:message-correct:0" id="x1"></replace></message>`},
		{"an old edit is stamped", d.Edit(ctx, u, &transports.EditEvent{From: "bob", Target: "r9", Body: "fixed", Time: now.Add(-time.Hour)}),
			`<message id="i" type="chat" from="bob@gw.example" to="u@example.org"><body>✎ fixed</body><delay xmlns="urn:xmpp:delay" from="gw.example" stamp="2026-01-02T02:04:05Z"></delay><origin-id xmlns="urn:xmpp:sid:0" id="i"></origin-id></message>`},
		{"an edit from no JID", d.Edit(ctx, u, &transports.EditEvent{From: "bo b", Body: "fixed"}),
			`<message id="i" type="chat" from="gw.example" to="u@example.org"><body>Correction from bo b: fixed</body></message>`},
		{"a deletion", d.Retracted(ctx, u, &transports.RetractEvent{From: "bob", Target: "r1", Own: true}),
			`<message id="i" type="chat" from="bob@gw.example" to="u@example.org"><body>[you, from another client] [deleted a message; your client does not support retractions]</body>` +
				`<retract xmlns="urn:xmpp:message-retract:1" id="x1"></retract><fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:message-retract:1"></fallback><store xmlns="urn:xmpp:hints"></store></message>`},
		{"a deletion from no JID", d.Retracted(ctx, u, &transports.RetractEvent{From: "bo b", Target: "r1"}),
			`<message id="i" type="chat" from="gw.example" to="u@example.org"><body>bo b deleted a message.</body></message>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := marshal(tt.got); got != tt.want {
				t.Errorf("stanza:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestDeferredReceipts: with a network that reports deliveries later,
// the receipt (or the error) follows the report, whether it comes after
// Send returned, before, or after a restart (a new Service over the same
// durable receipts): always with the message's stanza id, to the resource
// that sent it; without such a network the receipt goes at once and
// reports are ignored.
func TestDeferredReceipts(t *testing.T) {
	deferred := all
	deferred.DeferredReceipts = true
	u := jid.MustParse("u@example.org")
	ctx := context.Background()
	const (
		received = `queue <message from="bob@gw.example" to="u@example.org/pc"><received xmlns="urn:xmpp:receipts" id="m1"></received></message>`
		failed   = `queue <message id="m1" type="error" from="bob@gw.example" to="u@example.org/pc"><error type="cancel"><recipient-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"></recipient-unavailable><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">IRC could not deliver the message: the number is unknown.</text></error></message>`
		origin   = `<origin-id xmlns="urn:xmpp:sid:0" id="o1"/>`
		request  = `<request xmlns="urn:xmpp:receipts"/>`
	)
	tests := []struct {
		name    string
		caps    transports.Capabilities
		payload string // of the message sent before the report; "" sends none
		restart bool   // a new Service between Send and the report
		report  *transports.ReceiptEvent
		wantErr bool
		wantLog []string
	}{
		{"delivered after Send", deferred, request, false, &transports.ReceiptEvent{To: "bob", Remote: "r1", Delivered: true}, false, []string{received, "resolved r1"}},
		{"failed after Send", deferred, request, false, &transports.ReceiptEvent{To: "bob", Remote: "r1", Error: "the number is unknown"}, false, []string{failed, "resolved r1"}},
		{"a report on another message", deferred, request, false, &transports.ReceiptEvent{To: "bob", Remote: "r7", Delivered: true}, false, nil},
		{"after a restart: the stanza id, not the origin-id, to the resource", deferred, request + origin, true,
			&transports.ReceiptEvent{To: "bob", Remote: "r1", Delivered: true}, false, []string{received, "resolved r1"}},
		{"failed after a restart: an error with the stanza id", deferred, origin, true,
			&transports.ReceiptEvent{To: "bob", Remote: "r1", Error: "the number is unknown"}, false, []string{failed, "resolved r1"}},
		{"delivered after a restart, no receipt asked for", deferred, origin, true,
			&transports.ReceiptEvent{To: "bob", Remote: "r1", Delivered: true}, false, []string{"resolved r1"}},
		{"after a restart, a message never sent", deferred, "", true, &transports.ReceiptEvent{To: "bob", Remote: "r1", Delivered: true}, false, nil},
		{"the durable receipts unreadable", deferred, "", false, &transports.ReceiptEvent{To: "bob", Remote: "broken", Delivered: true}, true, nil},
		{"a network without deferred receipts", all, request, false, &transports.ReceiptEvent{To: "bob", Remote: "r1", Delivered: true}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := &fakeCore{t: t, caps: tt.caps, registered: true, session: &adapter{}}
			d := NewService(core)
			if tt.payload != "" {
				d.Send(in(t, "bob@gw.example", `<body>hi</body>`+tt.payload), "hi", false)
				core.log = nil
			}
			if tt.restart {
				d = NewService(core)
			}
			err := d.Receipt(ctx, u, tt.report)
			if (err != nil) != tt.wantErr || !slices.Equal(core.log, tt.wantLog) {
				t.Errorf("Receipt = %v, log\n  %q\nwant error %v, log\n  %q", err, core.log, tt.wantErr, tt.wantLog)
			}
			// Answered once: a second report finds nothing.
			if tt.wantLog != nil {
				core.log = nil
				if err := d.Receipt(ctx, u, tt.report); err != nil || core.log != nil {
					t.Errorf("the report again: %v, %q", err, core.log)
				}
			}
		})
	}

	t.Run("the report before Send returned", func(t *testing.T) {
		core := &fakeCore{t: t, caps: deferred, registered: true, session: &adapter{}}
		d := NewService(core)
		if err := d.Receipt(ctx, u, &transports.ReceiptEvent{To: "bob", Remote: "r1", Delivered: true}); err != nil || core.log != nil {
			t.Fatalf("an early report: %v, %q", err, core.log)
		}
		d.Send(in(t, "bob@gw.example", `<body>hi</body>`+request+origin), "hi", false)
		want := []string{"send files=false", "count true", "pair bob r1 o1",
			"await bob r1 {StanzaID:m1 OriginID:o1 From:bob@gw.example To:u@example.org/pc Requested:true}", received, "resolved r1"}
		if !slices.Equal(core.log, want) {
			t.Errorf("log\n  %q\nwant\n  %q", core.log, want)
		}
	})
	t.Run("a receipt that cannot be stored", func(t *testing.T) {
		core := &fakeCore{t: t, caps: deferred, registered: true, session: &adapter{}, deliverErr: errors.New("lost")}
		d := NewService(core)
		d.Send(in(t, "bob@gw.example", `<body>hi</body>`+request), "hi", false)
		if err := d.Receipt(ctx, u, &transports.ReceiptEvent{To: "bob", Remote: "r1", Delivered: true}); err == nil {
			t.Error("a lost receipt is not reported")
		}
		// Kept for the report again (a webhook's retry), also after a
		// restart.
		if _, ok := core.awaited["r1"]; !ok {
			t.Fatal("the receipt that could not be queued was forgotten")
		}
		core.deliverErr, core.log = nil, nil
		if err := NewService(core).Receipt(ctx, u, &transports.ReceiptEvent{To: "bob", Remote: "r1", Delivered: true}); err != nil ||
			!slices.Equal(core.log, []string{received, "resolved r1"}) {
			t.Errorf("the report again: %v, %q", err, core.log)
		}
	})
}
