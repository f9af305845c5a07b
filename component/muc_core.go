package component

import (
	"context"
	"log/slog"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/muc"
	"github.com/switchboard-im/switchboard/transports"
)

// mucCore is the bridge core as the MUC service sees it (muc.Core): a
// view of the component, so the service's needs are named in one place
// and *Component gains no methods for it.
type mucCore struct{ c *Component }

var _ muc.Core = mucCore{}

func (m mucCore) Adapter(user string) transports.Adapter { return m.c.sup.Adapter(user) }

func (m mucCore) Capabilities() transports.Capabilities { return m.c.netCaps() }

func (m mucCore) NetworkName() string { return m.c.net.Identity().Name }

func (m mucCore) LegacyJID(id transports.ID) (jid.JID, error) { return m.c.legacyJID(id) }

func (m mucCore) Own(ctx context.Context, user string, fn func(ctx context.Context)) bool {
	return m.c.own(ctx, user, fn)
}

func (m mucCore) Room(user jid.JID, id transports.ID) *muc.Room {
	_, r := m.c.room(user, id)
	return r
}

func (m mucCore) Settings(ctx context.Context, user string) (map[string]string, error) {
	return m.c.reg.Settings(ctx, user, m.c.net.Name())
}

func (m mucCore) SetSettings(ctx context.Context, user string, settings map[string]string) error {
	return m.c.reg.SetSettings(ctx, user, m.c.net.Name(), settings)
}

func (m mucCore) Logger() *slog.Logger { return m.c.log }
