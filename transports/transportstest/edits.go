package transportstest

import (
	"context"
	"fmt"
	"slices"

	"github.com/switchboard-im/switchboard/transports"
)

// Corrections, retractions and moderation on the fake network. Every
// adapter implements Editor, Retractor and MessageModerator; a network
// claims them only when a test sets Caps.Corrections, Caps.Retractions or
// Caps.Moderation. Edit and Retract take only messages the adapter sent
// to that conversation (else ErrNotFound), so a test sees the component
// pass the right legacy ID; in a room they are echoed as the network would.

// Edit is an Edit call an adapter received.
type Edit struct {
	To     transports.ID
	Target transports.RemoteID
	Body   string
}

// Retraction is a Retract or ModerateRetract call an adapter received.
type Retraction struct {
	To        transports.ID
	Target    transports.RemoteID
	Moderated bool
	Reason    string
}

// editLog is what the fake adapter knows about sent messages and the
// edits asked for; guarded by the adapter's mu.
type editLog struct {
	sent     map[transports.RemoteID]transports.ID // message → conversation
	edits    []Edit
	retracts []Retraction
}

// remember records that the adapter sent message id to conversation to.
func (a *Adapter) remember(to transports.ID, id transports.RemoteID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ed.sent == nil {
		a.ed.sent = make(map[transports.RemoteID]transports.ID)
	}
	a.ed.sent[id] = to
}

// ownMessage checks that the user may change target in to, and returns the
// user's nick when to is a room the adapter is in.
func (a *Adapter) ownMessage(to transports.ID, target transports.RemoteID) (nick string, room bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return "", false, transports.ErrNotConnected
	}
	if conv, ok := a.ed.sent[target]; !ok || conv != to {
		return "", false, fmt.Errorf("%w: %s: no message %q of yours", transports.ErrNotFound, to, target)
	}
	if r := a.rooms[to]; r != nil {
		return r.nick, true, nil
	}
	return "", false, nil
}

// Edit implements transports.Editor.
func (a *Adapter) Edit(ctx context.Context, to transports.ID, target transports.RemoteID, body string) error {
	nick, room, err := a.ownMessage(to, target)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.ed.edits = append(a.ed.edits, Edit{To: to, Target: target, Body: body})
	a.mu.Unlock()
	if room {
		a.sink.Deliver(&transports.EditEvent{From: to, Room: true, Nick: nick, Target: target, Body: body, Own: true})
	}
	return nil
}

// Retract implements transports.Retractor.
func (a *Adapter) Retract(ctx context.Context, to transports.ID, target transports.RemoteID) error {
	nick, room, err := a.ownMessage(to, target)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.ed.retracts = append(a.ed.retracts, Retraction{To: to, Target: target})
	delete(a.ed.sent, target)
	a.mu.Unlock()
	if room {
		a.sink.Deliver(&transports.RetractEvent{From: to, Room: true, Nick: nick, Target: target, Own: true})
	}
	return nil
}

// ModerateRetract implements transports.MessageModerator: a moderator of
// the room may delete any message; the deletion is echoed.
func (a *Adapter) ModerateRetract(ctx context.Context, room transports.ID, target transports.RemoteID, reason string) error {
	a.mu.Lock()
	r := a.rooms[room]
	switch {
	case a.closed:
		a.mu.Unlock()
		return transports.ErrNotConnected
	case r == nil:
		a.mu.Unlock()
		return fmt.Errorf("%w: %s: You're not on that channel", transports.ErrNotFound, room)
	case r.role != transports.RoleModerator:
		a.mu.Unlock()
		return fmt.Errorf("%w: %s: You're not channel operator", transports.ErrForbidden, room)
	case target == "":
		a.mu.Unlock()
		return fmt.Errorf("%w: no message given", transports.ErrInvalidInput)
	}
	a.ed.retracts = append(a.ed.retracts, Retraction{To: room, Target: target, Moderated: true, Reason: reason})
	by := r.nick
	a.mu.Unlock()
	a.sink.Deliver(&transports.RetractEvent{From: room, Room: true, Target: target, Moderated: true, By: by, Reason: reason})
	return nil
}

// Edits returns the Edit calls the adapter took, in order.
func (a *Adapter) Edits() []Edit {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ed.edits)
}

// Retractions returns the Retract and ModerateRetract calls the adapter
// took, in order.
func (a *Adapter) Retractions() []Retraction {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ed.retracts)
}

var (
	_ transports.Editor           = (*Adapter)(nil)
	_ transports.Retractor        = (*Adapter)(nil)
	_ transports.MessageModerator = (*Adapter)(nil)
)
