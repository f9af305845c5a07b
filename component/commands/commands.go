// Package commands is the gateway's own XEP-0050 ad-hoc commands: what a
// user may run (register, unregister, status, settings, reconnect), what
// an administrator may run besides (list-users, statistics,
// disconnect-user, and the network's Capabilities.AdminCommands, run by
// the network), and the network's own commands (its
// Capabilities.Commands, run by the user's adapter).
//
// Package adhoc owns the protocol (the <command/> element, sessions,
// which action is allowed when); this package owns the commands' stages:
// the forms they ask with and read (forms.go, pure) and the steps that act
// through Core, the bridge core as the commands see it, which package
// component implements. The status and reconnect commands answer as the
// chat door does, through chatdoor.Service.
package commands

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/adhoc"
	"github.com/switchboard-im/switchboard/component/chatdoor"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/transports"
)

// Core is what the commands need of the bridge core (package component
// implements it): the chat door's core — the same registrations,
// settings and legacy session, with its contract — and what only the
// commands ask for.
//
// Capabilities, RegisterInstructions, AllowedUser, IsAdmin, Status and
// Adapter return at once, without I/O; Disconnect stops the session
// without waiting for the network. Admit returns at once: it queues the
// job on the user's lane (or answers the stanza itself when too much is
// queued). Result, ReplyError and Say write to the stream (each bounded
// to seconds) and may block that long. Users and Statistics read storage.
//
// Who calls what: List and Lookup (the stream loop, answering disco) call
// only Capabilities, AllowedUser and IsAdmin; Handle (the stream loop) calls Admit, Result and
// ReplyError; the commands' stages run in the job Admit queued, on the
// user's lane, and call the rest — never from owner work. Errors are for
// the user: a *stanzaerr.Error, or an error stanzaerr.From maps; the core
// does not retry, the user asks again.
type Core interface {
	chatdoor.Core

	// Capabilities are the network's static facts; its Commands are
	// offered after the gateway's own.
	Capabilities() transports.Capabilities
	// RegisterInstructions is the text above the registration form.
	RegisterInstructions() string
	// AllowedUser reports whether from's server may use this gateway;
	// IsAdmin whether from may see and run the admin commands.
	AllowedUser(from jid.JID) bool
	IsAdmin(from jid.JID) bool

	// Admit runs job for the sender of s in their lane, with the
	// context of the gateway's run, or answers s with
	// resource-constraint when too much of theirs is queued.
	Admit(s *stanza.In, job func(ctx context.Context))
	// Result answers the IQ s with payload; ReplyError with e.
	Result(s *stanza.In, payload any)
	ReplyError(s *stanza.In, e *stanzaerr.Error)

	// Users are the bare JIDs of every user registered with the
	// network, in storage order.
	Users(ctx context.Context) ([]string, error)
	// Statistics is a snapshot of the gateway's figures; an error means
	// the registrations could not be counted.
	Statistics(ctx context.Context) (Statistics, error)
	// Adapter is user's legacy session's adapter, nil when none runs.
	Adapter(user string) transports.Adapter
	// Disconnect stops user's legacy session and reports whether one
	// ran.
	Disconnect(user string) bool
	// RunAdminCommand runs the network's admin command node
	// (Capabilities.AdminCommands) with the checked values, as
	// transports.AdminCommander says; it may block on the network.
	RunAdminCommand(ctx context.Context, node string, values map[string]string) (string, error)
}

// Service is the ad-hoc commands of one gateway: the list a requester
// may see and the answers to their <command/> requests, with the command
// sessions between stages (adhoc.Provider).
type Service struct {
	core     Core
	chat     *chatdoor.Service
	provider *adhoc.Provider
}

// NewService returns the commands of the network core bridges; chat is the
// gateway's chat door, whose status text and reconnect the commands of
// the same names share.
func NewService(core Core, chat *chatdoor.Service) *Service {
	s := &Service{core: core, chat: chat}
	s.provider = &adhoc.Provider{Commands: s.All, IsAdmin: core.IsAdmin, Sessions: adhoc.NewSessions(0, 0)}
	return s
}

// All is every command, admin ones included, in the order clients show
// them: the gateway's own, then the network's admin commands, then the
// network's user commands.
func (s *Service) All() []adhoc.Command {
	out := []adhoc.Command{
		{Node: "register", Name: "Register", Step: s.register},
		{Node: "unregister", Name: "Unregister", Step: s.unregister},
		{Node: "status", Name: "Connection status", Step: s.status},
		{Node: "settings", Name: "Settings", Step: s.settings},
		{Node: "reconnect", Name: "Reconnect", Step: s.reconnect},
		{Node: "list-users", Name: "List registered users", Admin: true, Step: s.listUsers},
		{Node: "statistics", Name: "Statistics", Admin: true, Step: s.statistics},
		{Node: "disconnect-user", Name: "Disconnect a user", Admin: true, Step: s.disconnect},
	}
	caps := s.core.Capabilities()
	for _, ac := range caps.AdminCommands {
		out = append(out, adhoc.Command{Node: ac.Node, Name: ac.Name, Admin: true, Step: s.networkAdminStep(ac)})
	}
	for _, nc := range caps.Commands {
		out = append(out, adhoc.Command{Node: nc.Node, Name: nc.Name, Step: s.networkStep(nc.Node)})
	}
	return out
}

// List returns the commands from may see and run (the disco items of the
// commands node): none for a user this gateway does not serve, the admin
// ones only for administrators. No I/O.
func (s *Service) List(from jid.JID) []adhoc.Command {
	if !s.core.AllowedUser(from) {
		return nil
	}
	return s.provider.List(from)
}

// Lookup returns command node if from may run it (List). No I/O.
func (s *Service) Lookup(node string, from jid.JID) (adhoc.Command, bool) {
	if !s.core.AllowedUser(from) {
		return adhoc.Command{}, false
	}
	return s.provider.Lookup(node, from)
}

// Handle answers the <command/> request q of IQ set in: at once if adhoc
// refuses it or it is a cancel, else after the command's stage ran in the
// user's lane (Core.Admit). Called from the stream loop once the sender
// was found allowed; it never blocks on the stage.
func (s *Service) Handle(in *stanza.In, q *xmltree.Element) {
	req, err := adhoc.ParseRequest(q)
	if err != nil {
		s.core.ReplyError(in, stanzaerr.From(err))
		return
	}
	call, res, err := s.provider.Accept(in.From, req)
	switch {
	case err != nil:
		s.core.ReplyError(in, stanzaerr.From(err))
		return
	case res != nil:
		s.core.Result(in, res)
		return
	}
	s.core.Admit(in, func(ctx context.Context) {
		res, err := call.Run(ctx)
		if err != nil {
			s.core.ReplyError(in, stanzaerr.From(err))
			return
		}
		s.core.Result(in, res)
	})
}
