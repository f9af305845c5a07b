package commands

import (
	"context"
	"errors"
	"time"

	xep0050 "mellium.im/xmpp/commands"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/adhoc"
	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// The commands' steps (adhoc.Command.Step): lane work, each may block on
// storage, the stream and, for register and the network's commands, the
// legacy network. sub is nil on a command's first stage.

// networkTimeout bounds a network command's run on the adapter.
const networkTimeout = time.Minute

func (s *Service) register(ctx context.Context, from jid.JID, sub *regform.Submitted) (adhoc.Result, error) {
	c, user := s.core, from.Bare()
	if sub == nil {
		var prev map[string]string
		if creds, err := c.Credentials(ctx, user); err == nil {
			prev = creds
		}
		return adhoc.Result{Next: true, Form: RegisterForm(c.NetworkName(), c.RegisterInstructions(), c.LoginFields(), prev)}, nil
	}
	if err := c.Allow(user.String()); err != nil {
		return adhoc.Result{}, err
	}
	if err := c.Register(ctx, user, sub.Values); err != nil {
		return adhoc.Result{}, err
	}
	c.AfterRegister(user)
	return adhoc.Result{Note: "You are registered with " + c.NetworkName() + "."}, nil
}

func (s *Service) unregister(ctx context.Context, from jid.JID, sub *regform.Submitted) (adhoc.Result, error) {
	c, user := s.core, from.Bare()
	if sub == nil {
		return adhoc.Result{Next: true, Form: UnregisterForm()}, nil
	}
	if !Confirmed(sub) {
		return adhoc.Result{Note: "Nothing was changed."}, nil
	}
	roster, err := c.Unregister(ctx, user)
	if err != nil {
		return adhoc.Result{}, err
	}
	c.AfterUnregister(user, roster)
	return adhoc.Result{Note: "You are unregistered; your credentials are deleted."}, nil
}

// status answers with the chat door's "status" text, which says
// everything once; a result form beside it would repeat it.
func (s *Service) status(ctx context.Context, from jid.JID, _ *regform.Submitted) (adhoc.Result, error) {
	return adhoc.Result{Note: s.chat.Status(ctx, from.Bare())}, nil
}

func (s *Service) settings(ctx context.Context, from jid.JID, sub *regform.Submitted) (adhoc.Result, error) {
	c, user := s.core, from.Bare()
	if !c.Registered(ctx, user) {
		return adhoc.Result{}, stanzaerr.New("auth", "registration-required", "Register first.")
	}
	if sub == nil {
		cur, err := c.Settings(ctx, user)
		if err != nil {
			return adhoc.Result{}, stanzaerr.New("wait", "internal-server-error", "Settings could not be read; try again later.")
		}
		return adhoc.Result{Next: true, Form: SettingsForm(c.SettingsFields(), cur)}, nil
	}
	if err := c.SaveSettings(ctx, user, sub.Values); err != nil {
		return adhoc.Result{}, err
	}
	return adhoc.Result{Note: "Settings saved."}, nil
}

// reconnect is the chat door's "reconnect": within the per-minute limit.
func (s *Service) reconnect(ctx context.Context, from jid.JID, _ *regform.Submitted) (adhoc.Result, error) {
	text, err := s.chat.Reconnect(ctx, from.Bare())
	if err != nil {
		return adhoc.Result{}, err
	}
	return adhoc.Result{Note: text}, nil
}

func (s *Service) listUsers(ctx context.Context, _ jid.JID, _ *regform.Submitted) (adhoc.Result, error) {
	users, err := s.core.Users(ctx)
	if err != nil {
		return adhoc.Result{}, stanzaerr.New("wait", "internal-server-error", "The registration database is not available.")
	}
	states := make([]UserState, len(users))
	for i, u := range users {
		states[i] = UserState{User: u, State: s.core.Status(u).State}
	}
	f, note := UsersResult(states)
	return adhoc.Result{Form: f, Note: note}, nil
}

func (s *Service) statistics(ctx context.Context, _ jid.JID, _ *regform.Submitted) (adhoc.Result, error) {
	st, err := s.core.Statistics(ctx)
	if err != nil {
		return adhoc.Result{}, stanzaerr.New("wait", "internal-server-error", "The registration database is not available.")
	}
	return adhoc.Result{Form: StatisticsForm(st)}, nil
}

func (s *Service) disconnect(_ context.Context, _ jid.JID, sub *regform.Submitted) (adhoc.Result, error) {
	if sub == nil {
		return adhoc.Result{Next: true, Form: DisconnectForm()}, nil
	}
	u, err := DisconnectTarget(sub)
	if err != nil {
		return adhoc.Result{}, err
	}
	user := u.String()
	if !s.core.Disconnect(user) {
		return adhoc.Result{Note: user + " has no legacy session.", NoteType: xep0050.NoteWarn}, nil
	}
	s.core.Say(u, "An administrator disconnected you from "+s.core.NetworkName()+". Send \"reconnect\" to connect again.")
	return adhoc.Result{Note: user + " is disconnected."}, nil
}

// networkStep runs the network's command node on the user's adapter,
// for at most networkTimeout: recipient-unavailable while the user has
// no session (or its adapter runs no commands), the network's error as
// stanzaerr.FromLegacy maps it.
func (s *Service) networkStep(node string) func(context.Context, jid.JID, *regform.Submitted) (adhoc.Result, error) {
	return func(ctx context.Context, from jid.JID, _ *regform.Submitted) (adhoc.Result, error) {
		a := s.core.Adapter(from.Bare().String())
		r, ok := a.(transports.CommandRunner)
		if a == nil || !ok {
			return adhoc.Result{}, stanzaerr.New("wait", "recipient-unavailable", "You are not connected to %s.", s.core.NetworkName())
		}
		rctx, cancel := context.WithTimeout(ctx, networkTimeout)
		defer cancel()
		text, err := r.RunCommand(rctx, node)
		if err != nil {
			return adhoc.Result{}, stanzaerr.FromLegacy(err)
		}
		return adhoc.Result{Note: text}, nil
	}
}

// networkAdminStep runs the network's admin command ac: its fields as a
// form first, then the answers, checked against them (regform.Check:
// not-acceptable naming the field, never quoting a value; bad-request
// for a value that is not UTF-8), handed to the
// network for at most networkTimeout; its error as stanzaerr.FromLegacy
// maps it.
func (s *Service) networkAdminStep(ac transports.AdminCommand) func(context.Context, jid.JID, *regform.Submitted) (adhoc.Result, error) {
	return func(ctx context.Context, _ jid.JID, sub *regform.Submitted) (adhoc.Result, error) {
		if sub == nil {
			return adhoc.Result{Next: true, Form: AdminCommandForm(ac)}, nil
		}
		values, err := regform.Check(ac.Fields, sub.Values)
		var fe *regform.FieldError
		switch {
		case errors.As(err, &fe) && fe.Problem == regform.NotUTF8:
			return adhoc.Result{}, stanzaerr.New("modify", "bad-request", "%s", err.Error())
		case err != nil:
			return adhoc.Result{}, stanzaerr.New("modify", "not-acceptable", "%s", err.Error())
		}
		rctx, cancel := context.WithTimeout(ctx, networkTimeout)
		defer cancel()
		text, err := s.core.RunAdminCommand(rctx, ac.Node, values)
		if err != nil {
			return adhoc.Result{}, stanzaerr.FromLegacy(err)
		}
		return adhoc.Result{Note: text}, nil
	}
}
