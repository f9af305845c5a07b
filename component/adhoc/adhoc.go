// Package adhoc is the provider side of XEP-0050 ad-hoc commands: the
// <command/> element (reading a request, writing a response), the sessions
// that carry a command from one stage to the next, and a Provider that
// drives a registry of commands through their steps and answers with the
// conditions XEP-0050 §4.6 defines.
//
// A command here has at most two stages: an optional form, then the
// result. Package commands supplies the gateway's commands (their steps)
// and says who is an administrator; this package owns the protocol.
package adhoc

import (
	"encoding/xml"
	"fmt"

	"mellium.im/xmpp/commands"

	"github.com/switchboard-im/switchboard/component/regform"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// NS is the XEP-0050 namespace: of <command/>, of the disco node that lists
// the commands, and of the application-specific error conditions.
const NS = commands.NS

// Action is what a requester asks of a command (XEP-0050 §3.4).
type Action string

// The actions XEP-0050 defines. A request without an action means
// ActionExecute.
const (
	ActionExecute  Action = "execute"
	ActionNext     Action = "next"
	ActionPrev     Action = "prev"
	ActionComplete Action = "complete"
	ActionCancel   Action = "cancel"
)

// The statuses of a response (XEP-0050 §3.4).
const (
	StatusExecuting = "executing"
	StatusCompleted = "completed"
	StatusCanceled  = "canceled"
)

// Request is a <command/> a requester sent: the command's node, the
// session it continues (empty to start one), the action and the data form
// it submitted (nil if none).
type Request struct {
	Node      string
	SessionID string
	Action    Action
	Form      *regform.Submitted
}

// ParseRequest reads a <command/> element. It must be a command in the
// XEP-0050 namespace with a node; its action, if any, one XEP-0050 defines
// (else bad-request with <malformed-action/>). A missing action is read as
// execute. The submitted form is matched by namespace (regform.Parse).
func ParseRequest(e *xmltree.Element) (Request, error) {
	if e == nil || !e.Is(NS, "command") {
		return Request{}, stanzaerr.New("modify", "bad-request", "The request is not an ad-hoc <command/>.")
	}
	r := Request{Node: e.Attr("node"), SessionID: e.Attr("sessionid"), Action: Action(e.Attr("action"))}
	if r.Node == "" {
		return Request{}, stanzaerr.New("modify", "bad-request", "The command has no node.")
	}
	switch r.Action {
	case "":
		r.Action = ActionExecute
	case ActionExecute, ActionNext, ActionPrev, ActionComplete, ActionCancel:
	default:
		return Request{}, appError("modify", "bad-request", "malformed-action", fmt.Sprintf("%q is not an ad-hoc command action.", string(r.Action)))
	}
	r.Form = regform.Parse(e)
	return r, nil
}

// Response is the <command/> a responder answers with. Its <actions/> and
// <note/> are mellium's (package commands), written in the command's
// namespace; zero Actions and a nil Note are left out.
type Response struct {
	XMLName   xml.Name         `xml:"http://jabber.org/protocol/commands command"`
	Node      string           `xml:"node,attr"`
	SessionID string           `xml:"sessionid,attr,omitempty"`
	Status    string           `xml:"status,attr"`
	Actions   commands.Actions `xml:",omitempty"`
	Note      *commands.Note   `xml:",omitempty"`
	Form      *regform.Form    `xml:",omitempty"`
}

// appError is a stanza error with a XEP-0050 application-specific condition.
func appError(typ, cond, app, text string) *stanzaerr.Error {
	return &stanzaerr.Error{Type: typ, Condition: cond, Text: text, App: xml.Name{Space: NS, Local: app}}
}
