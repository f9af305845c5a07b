package component

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/chatdoor"
	"github.com/switchboard-im/switchboard/component/presence"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// The third door, plain chat with the gateway JID, is package chatdoor's;
// chatCore is the bridge core as the door sees it (chatdoor.Core): a view
// of the component, so the door's needs are named in one place and
// *Component gains no methods for it.
type chatCore struct{ c *Component }

var _ chatdoor.Core = chatCore{}

func (d chatCore) NetworkName() string { return d.c.net.Identity().Name }

func (d chatCore) LoginFields() []transports.Field { return d.c.net.LoginFields() }

func (d chatCore) SettingsFields() []transports.Field { return d.c.settingsFields() }

func (d chatCore) Say(user jid.JID, text string) { d.c.sendText(user, text) }

func (d chatCore) Allow(user string) error { return d.c.commandAllowed(user) }

func (d chatCore) Register(ctx context.Context, user jid.JID, values map[string]string) error {
	return d.c.register(ctx, user, values)
}

func (d chatCore) AfterRegister(user jid.JID) { d.c.afterRegister(user) }

func (d chatCore) Unregister(ctx context.Context, user jid.JID) ([]string, error) {
	return d.c.unregister(ctx, user)
}

func (d chatCore) AfterUnregister(user jid.JID, roster []string) { d.c.afterUnregister(user, roster) }

func (d chatCore) Registered(ctx context.Context, user jid.JID) bool {
	return d.c.registered(ctx, user)
}

func (d chatCore) Credentials(ctx context.Context, user jid.JID) (transports.Credentials, error) {
	r, err := d.c.reg.Lookup(ctx, user.String(), d.c.net.Name())
	if err != nil {
		return nil, err
	}
	return r.Credentials, nil
}

func (d chatCore) Status(user string) transports.Status { return d.c.sup.Status(user) }

func (d chatCore) Resources(user string) []presence.Resource { return d.c.presence.List(user) }

func (d chatCore) Restart(ctx context.Context, user jid.JID) {
	if !d.c.sup.Restart(user.String()) {
		d.c.startUser(ctx, user)
	}
}

func (d chatCore) Settings(ctx context.Context, user jid.JID) (map[string]string, error) {
	return d.c.reg.Settings(ctx, user.String(), d.c.net.Name())
}

func (d chatCore) SaveSettings(ctx context.Context, user jid.JID, changed map[string]string) error {
	return d.c.saveSettings(ctx, user, changed)
}

// saveSettings validates and merges changed settings into the stored ones.
func (c *Component) saveSettings(ctx context.Context, user jid.JID, changed map[string]string) error {
	if !c.registered(ctx, user) {
		return stanzaerr.New("auth", "registration-required", "Register first.")
	}
	cur, err := c.reg.Settings(ctx, user.String(), c.net.Name())
	if err != nil {
		return stanzaerr.New("wait", "internal-server-error", "Settings could not be read; try again later.")
	}
	merged := make(map[string]string, len(cur)+len(changed))
	for k, v := range cur {
		merged[k] = v
	}
	for k, v := range changed {
		merged[k] = v
	}
	clean, serr := checkValues(c.settingsFields(), merged)
	if serr != nil {
		return serr
	}
	for k, v := range cur { // keep the component's hidden settings
		if strings.HasPrefix(k, "_") {
			clean[k] = v
		}
	}
	if err := c.reg.SetSettings(ctx, user.String(), c.net.Name(), clean); err != nil {
		return stanzaerr.New("wait", "internal-server-error", "Settings could not be stored; try again later.")
	}
	return nil
}
