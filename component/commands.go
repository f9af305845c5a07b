package component

import (
	"context"
	"fmt"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/commands"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/transports"
)

// The gateway's XEP-0050 commands are package commands' (their stages),
// on package adhoc's protocol. commandsCore is the bridge core as the
// commands see it (commands.Core): the chat door's view, which acts on the
// same registrations, settings and session, and what only the commands
// ask for, so *Component gains no methods for them. Its methods keep the
// contracts commands.Core states.
type commandsCore struct{ chatCore }

var _ commands.Core = commandsCore{}

func (d commandsCore) Capabilities() transports.Capabilities { return d.c.netCaps() }

func (d commandsCore) RegisterInstructions() string { return d.c.registerInstructions() }

func (d commandsCore) AllowedUser(from jid.JID) bool { return d.c.allowedUser(from) }

func (d commandsCore) IsAdmin(from jid.JID) bool { return d.c.isAdmin(from) }

func (d commandsCore) Admit(s *stanza.In, job func(ctx context.Context)) {
	d.c.admit(s, func() { job(d.c.ctx()) })
}

func (d commandsCore) Result(s *stanza.In, payload any) { d.c.result(s, payload) }

func (d commandsCore) ReplyError(s *stanza.In, e *stanzaerr.Error) { d.c.replyError(s.Element, e) }

func (d commandsCore) Users(ctx context.Context) ([]string, error) {
	users := []string{}
	err := d.c.reg.List(ctx, d.c.net.Name(), func(r registry.Registration) error {
		users = append(users, r.User)
		return nil
	})
	return users, err
}

func (d commandsCore) Statistics(ctx context.Context) (commands.Statistics, error) {
	st := d.c.Stats()
	n, err := d.c.reg.Count(ctx, d.c.net.Name())
	if err != nil {
		return commands.Statistics{}, err
	}
	return commands.Statistics{
		RegisteredUsers: n,
		OnlineUsers:     st.OnlineUsers,
		Sessions:        st.Sessions,
		ConnectedUsers:  st.ConnectedUsers,
		MessagesToNet:   st.MessagesToNet,
		MessagesFromNet: st.MessagesFromNet,
		StanzasIn:       st.StanzasIn,
		StanzasOut:      st.StanzasOut,
		OutboxPending:   st.OutboxPending,
	}, nil
}

func (d commandsCore) Adapter(user string) transports.Adapter { return d.c.sup.Adapter(user) }

func (d commandsCore) Disconnect(user string) bool {
	if !d.c.sup.Running(user) {
		return false
	}
	d.c.sup.Stop(user)
	return true
}

func (d commandsCore) RunAdminCommand(ctx context.Context, node string, values map[string]string) (string, error) {
	r, ok := d.c.net.(transports.AdminCommander)
	if !ok {
		return "", fmt.Errorf("%w: %s has no admin commands", transports.ErrNotFound, d.c.net.Name())
	}
	return r.RunAdminCommand(ctx, node, values)
}
