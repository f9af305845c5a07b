package contacts

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// fakeCore is the bridge core as the tests set it up: lane jobs run at
// once, the network's addresses are id@gw.example.org, and what the
// service writes to the stream or asks of the server is recorded.
type fakeCore struct {
	t        *testing.T
	caps     transports.Capabilities
	session  transports.Adapter
	allowed  map[string]bool
	settings map[string]map[string]string // by user
	// settingsErr fails Settings, setErr SetSettings, rosterErr
	// SetRoster, openErr Open.
	settingsErr, setErr, rosterErr, openErr error
	file                                    []byte // what Open reads

	software    Software // what ServerSoftware answers, or softwareErr
	softwareErr error
	asked       []string                // the domains ServerSoftware was asked about
	deferLater  bool                    // Later keeps its jobs in later instead of running them
	later       []func(context.Context) // Later's jobs, with deferLater

	sent    []*xmltree.Element // SendQuiet's, Result's and ReplyError's stanzas
	roster  []*xmltree.Element // SetRoster's payloads
	dropped []string
	logs    bytes.Buffer
}

func newFakeCore(t *testing.T) *fakeCore {
	return &fakeCore{t: t, allowed: map[string]bool{"example.org": true}, settings: map[string]map[string]string{}}
}

// parse marshals v and reads it back, so tests match by namespace.
func (f *fakeCore) parse(v any) *xmltree.Element {
	f.t.Helper()
	b, err := xml.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	el, err := xmltree.Parse(string(b))
	if err != nil {
		f.t.Fatalf("%v: %s", err, b)
	}
	return el
}

func (f *fakeCore) Capabilities() transports.Capabilities { return f.caps }
func (f *fakeCore) NetworkName() string                   { return "Fake" }
func (f *fakeCore) Domain() jid.JID                       { return jid.MustParse("gw.example.org") }
func (f *fakeCore) LegacyJID(id transports.ID) (jid.JID, error) {
	if strings.ContainsAny(string(id), "@/ ") || id == "" {
		return jid.JID{}, fmt.Errorf("no JID for %q", id)
	}
	return jid.Parse(string(id) + "@gw.example.org")
}
func (f *fakeCore) LegacyID(j jid.JID) (transports.ID, error) {
	if j.Localpart() == "" {
		return "", errors.New("no localpart")
	}
	return transports.ID(j.Localpart()), nil
}
func (f *fakeCore) Kind(id transports.ID) (transports.IDKind, error) {
	if strings.HasPrefix(string(id), "server.") {
		return transports.KindServer, nil
	}
	return transports.KindContact, nil
}
func (f *fakeCore) Adapter(string) transports.Adapter { return f.session }
func (f *fakeCore) AllowedUser(from jid.JID) bool {
	return f.allowed[strings.ToLower(from.Domainpart())]
}
func (f *fakeCore) Admit(_ *stanza.In, job func(ctx context.Context)) { job(f.t.Context()) }
func (f *fakeCore) Later(_ string, job func(ctx context.Context)) {
	if f.deferLater {
		f.later = append(f.later, job)
		return
	}
	job(f.t.Context())
}
func (f *fakeCore) ServerSoftware(_ context.Context, domain string) (Software, error) {
	f.asked = append(f.asked, domain)
	return f.software, f.softwareErr
}
func (f *fakeCore) ReplyError(s *stanza.In, e *stanzaerr.Error) {
	f.sent = append(f.sent, f.parse(&stanza.IQ{ID: s.ID, Type: "error", From: s.To.String(), To: s.From.String(), Error: e.Wire()}))
}
func (f *fakeCore) Result(s *stanza.In, payload any) {
	f.sent = append(f.sent, f.parse(&stanza.IQ{ID: s.ID, Type: "result", From: s.To.String(), To: s.From.String(), Payload: payload}))
}
func (f *fakeCore) SendQuiet(_ context.Context, v any) { f.sent = append(f.sent, f.parse(v)) }
func (f *fakeCore) Dropped(_ *stanza.In, why string)   { f.dropped = append(f.dropped, why) }
func (f *fakeCore) SetRoster(_ context.Context, _ string, payload any) error {
	if f.rosterErr != nil {
		return f.rosterErr
	}
	f.roster = append(f.roster, f.parse(payload))
	return nil
}
func (f *fakeCore) Open(context.Context, transports.Attachment) (io.ReadCloser, error) {
	if f.openErr != nil {
		return nil, f.openErr
	}
	return io.NopCloser(bytes.NewReader(f.file)), nil
}
func (f *fakeCore) Settings(_ context.Context, user string) (map[string]string, error) {
	if f.settingsErr != nil {
		return nil, f.settingsErr
	}
	out := map[string]string{}
	for k, v := range f.settings[user] {
		out[k] = v
	}
	return out, nil
}
func (f *fakeCore) SetSettings(_ context.Context, user string, s map[string]string) error {
	if f.setErr != nil {
		return f.setErr
	}
	f.settings[user] = s
	return nil
}
func (f *fakeCore) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(&f.logs, nil)) }

// take returns what was sent since the last take.
func (f *fakeCore) take() []*xmltree.Element {
	s := f.sent
	f.sent = nil
	return s
}

// presences writes the presence stanzas of els as "type from", in order.
func presences(els []*xmltree.Element) []string {
	var out []string
	for _, el := range els {
		if el.Name.Local != "presence" {
			continue
		}
		out = append(out, strings.TrimSpace(el.Attr("type")+" "+el.Attr("from")))
	}
	return out
}

// session is a legacy session with a contact list and profiles.
type session struct {
	contacts    []transports.Contact
	contactsErr error
	profiles    map[transports.ID]transports.Profile
}

func (a *session) Send(context.Context, transports.Message) (transports.RemoteID, error) {
	return "", nil
}
func (a *session) SetPresence(context.Context, transports.Presence) error { return nil }
func (a *session) Done() <-chan struct{}                                  { return nil }
func (a *session) Close() error                                           { return nil }
func (a *session) Err() error                                             { return nil }
func (a *session) Contacts(context.Context) ([]transports.Contact, error) {
	return a.contacts, a.contactsErr
}
func (a *session) Profile(_ context.Context, id transports.ID) (transports.Profile, error) {
	p, ok := a.profiles[id]
	if !ok {
		return transports.Profile{}, transports.ErrNotFound
	}
	return p, nil
}

var (
	_ transports.ContactLister = (*session)(nil)
	_ transports.Profiler      = (*session)(nil)
)

// testKey signs the IDs of messages sent on users' behalf in tests.
var testKey = []byte("contacts test key")
