package component

import (
	"context"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/contacts"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// Who the user knows on the network — contacts' profiles, the legacy
// contact list in the roster, the servers' XEP-0356 grants — is package
// contacts' (contacts.Service). contactsCore is the bridge core as that
// service sees it (contacts.Core): a view of the component, so the
// service's needs are named in one place and *Component gains no methods
// for it. Its methods keep the contracts contacts.Core states.
type contactsCore struct{ c *Component }

var _ contacts.Core = contactsCore{}

func (k contactsCore) Capabilities() transports.Capabilities { return k.c.netCaps() }

func (k contactsCore) NetworkName() string { return k.c.net.Identity().Name }

func (k contactsCore) Domain() jid.JID { return k.c.domain }

func (k contactsCore) LegacyJID(id transports.ID) (jid.JID, error) { return k.c.legacyJID(id) }

func (k contactsCore) LegacyID(j jid.JID) (transports.ID, error) { return legacyID(j) }

func (k contactsCore) Kind(id transports.ID) (transports.IDKind, error) { return k.c.kindOf(id) }

func (k contactsCore) Adapter(user string) transports.Adapter { return k.c.sup.Adapter(user) }

func (k contactsCore) AllowedUser(from jid.JID) bool { return k.c.allowedUser(from) }

func (k contactsCore) Admit(s *stanza.In, job func(ctx context.Context)) {
	k.c.admit(s, func() { job(k.c.ctx()) })
}

func (k contactsCore) Later(user string, job func(ctx context.Context)) { k.c.later(user, job) }

func (k contactsCore) ReplyError(s *stanza.In, e *stanzaerr.Error) { k.c.replyError(s.Element, e) }

func (k contactsCore) Result(s *stanza.In, payload any) { k.c.result(s, payload) }

func (k contactsCore) SendQuiet(ctx context.Context, v any) { k.c.sendQuiet(ctx, v) }

func (k contactsCore) Dropped(s *stanza.In, why string) { k.c.dropped(s.Element, why) }

func (k contactsCore) SetRoster(ctx context.Context, user string, payload any) error {
	_, err := k.c.iqRequest(ctx, "set", user, payload)
	return err
}

func (k contactsCore) ServerSoftware(ctx context.Context, domain string) (contacts.Software, error) {
	type query struct {
		XMLName xml.Name `xml:"jabber:iq:version query"`
	}
	n, err := k.c.iqRequest(ctx, "get", domain, &query{})
	if err != nil {
		return contacts.Software{}, err
	}
	q := n.Child(contacts.NSVersion, "query")
	if q == nil {
		return contacts.Software{}, fmt.Errorf("%s answered without a version", domain)
	}
	return contacts.Software{Name: q.ChildText(contacts.NSVersion, "name"), Version: q.ChildText(contacts.NSVersion, "version")}, nil
}

func (k contactsCore) Open(ctx context.Context, a transports.Attachment) (io.ReadCloser, error) {
	rc, _, err := k.c.openSource(ctx, a)
	return rc, err
}

func (k contactsCore) Settings(ctx context.Context, user string) (map[string]string, error) {
	return k.c.reg.Settings(ctx, user, k.c.net.Name())
}

func (k contactsCore) SetSettings(ctx context.Context, user string, settings map[string]string) error {
	return k.c.reg.SetSettings(ctx, user, k.c.net.Name(), settings)
}

func (k contactsCore) Logger() *slog.Logger { return k.c.log }

// echoKey is the key that signs the IDs of messages sent on users' behalf
// (contacts.Privileges.Key): derived from the component's secret, so it
// is the same after a restart and known to no user.
func echoKey(domain, secret string) []byte {
	sum := sha256.Sum256([]byte("switchboard xep-0356 echo\x00" + domain + "\x00" + secret))
	return sum[:]
}
