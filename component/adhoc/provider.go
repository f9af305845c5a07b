package adhoc

import (
	"context"
	"fmt"

	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
)

// Command is one ad-hoc command a Provider offers.
type Command struct {
	Node  string // unique among the provider's commands
	Name  string // what clients show
	Admin bool   // only administrators may see and run it
	// Step runs one stage for from. submitted is nil on the first stage and
	// the form the requester sent with the second (an empty submit form if
	// it sent none). It may block and do I/O; ctx bounds it. An error is
	// answered as stanzaerr.From maps it; nobody retries.
	Step func(ctx context.Context, from jid.JID, submitted *regform.Submitted) (Result, error)
}

// Result is what one stage of a command produced: a form to fill (Next:
// the command goes on and its session stays open), or a final note and/or
// result form.
type Result struct {
	Form     *regform.Form
	Next     bool
	Note     string
	NoteType commands.NoteType // the zero value is info
}

// Provider answers <command/> requests for a registry of commands. Its
// fields are read on every call and must be set before the first.
type Provider struct {
	// Commands returns every command, admin ones included, in the order
	// clients show them. It must not block or do I/O.
	Commands func() []Command
	// IsAdmin reports whether from may see and run Admin commands. It must
	// not block or do I/O.
	IsAdmin  func(from jid.JID) bool
	Sessions *Sessions
}

// List returns the commands from may see and run, in order: the disco
// items of the commands node.
func (p *Provider) List(from jid.JID) []Command {
	var out []Command
	admin := p.IsAdmin(from)
	for _, c := range p.Commands() {
		if !c.Admin || admin {
			out = append(out, c)
		}
	}
	return out
}

// Lookup returns command node if from may run it.
func (p *Provider) Lookup(node string, from jid.JID) (Command, bool) {
	for _, c := range p.List(from) {
		if c.Node == node {
			return c, true
		}
	}
	return Command{}, false
}

// Call is a request the Provider accepted: Run runs the command's stage.
type Call struct {
	p         *Provider
	cmd       Command
	from      jid.JID
	sessionID string
	submitted *regform.Submitted
}

// Accept checks req from from against the registry and the sessions,
// without running any step and without I/O. It returns exactly one of:
// a Call to Run (the stage to run, which may take long: the caller decides
// where), a Response to answer at once (a cancel), or the stanza error to
// answer (XEP-0050 §4.6):
//   - an unknown node: item-not-found; an admin command for another user:
//     forbidden;
//   - starting a command with an action other than execute, or continuing
//     one with prev or next (its stage offers complete only): bad-request
//     with <bad-action/>;
//   - a session that is not the requester's (Sessions.Take): bad-request
//     with <bad-sessionid/>, or not-allowed with <session-expired/>.
//
// Cancel is always allowed: it ends the requester's session of that ID and
// answers status canceled, also when there is none (nothing is left to
// cancel); another requester's session is left alone.
func (p *Provider) Accept(from jid.JID, req Request) (*Call, *Response, error) {
	cmd, ok := p.Lookup(req.Node, from)
	if !ok {
		for _, c := range p.Commands() {
			if c.Node == req.Node {
				return nil, nil, stanzaerr.New("auth", "forbidden", "Only administrators may run %q.", req.Node)
			}
		}
		return nil, nil, stanzaerr.New("cancel", "item-not-found", "There is no command %q.", req.Node)
	}
	if req.Action == ActionCancel {
		if req.SessionID != "" {
			_ = p.Sessions.Take(req.SessionID, req.Node, from) // none of the requester's is left either way
		}
		return nil, &Response{Node: req.Node, SessionID: req.SessionID, Status: StatusCanceled}, nil
	}
	call := &Call{p: p, cmd: cmd, from: from, sessionID: req.SessionID}
	if req.SessionID == "" {
		if req.Action != ActionExecute {
			return nil, nil, appError("modify", "bad-request", "bad-action", fmt.Sprintf("A command starts with execute, not %s.", req.Action))
		}
		return call, nil, nil
	}
	switch req.Action {
	case ActionExecute, ActionComplete:
	default:
		return nil, nil, appError("modify", "bad-request", "bad-action", fmt.Sprintf("This stage can be completed or canceled, not %s.", req.Action))
	}
	if err := p.Sessions.Take(req.SessionID, req.Node, from); err != nil {
		return nil, nil, err
	}
	call.submitted = req.Form
	if call.submitted == nil {
		call.submitted = &regform.Submitted{Type: "submit", Values: map[string]string{}}
	}
	return call, nil, nil
}

// stageActions is the <actions/> of a stage that asks a question: the
// next request completes the command (or cancels it, always allowed).
const stageActions = commands.Complete | commands.Complete<<3

// Run runs the accepted stage and returns the response, or the error to
// answer (the step's, as stanzaerr.From maps it). A stage that asks a
// question opens (or keeps) the requester's session; any other ends it.
func (c *Call) Run(ctx context.Context) (*Response, error) {
	res, err := c.cmd.Step(ctx, c.from, c.submitted)
	if err != nil {
		return nil, stanzaerr.From(err)
	}
	out := &Response{Node: c.cmd.Node, SessionID: c.sessionID, Status: StatusCompleted, Form: res.Form}
	if res.Next {
		out.SessionID = c.p.Sessions.Open(c.sessionID, c.cmd.Node, c.from)
		out.Status = StatusExecuting
		out.Actions = stageActions
	}
	if res.Note != "" {
		out.Note = &commands.Note{Type: res.NoteType, Value: res.Note}
	}
	return out, nil
}
