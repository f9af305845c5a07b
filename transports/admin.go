package transports

import "context"

// AdminCommand is an ad-hoc command (XEP-0050) of the network's that only
// the gateway's administrators may see and run, acting on the network as
// a whole or on any user without anyone's session ("assign a number to a
// user"), where Command is a user's own, run by their adapter. The
// gateway asks Fields in one form (checked as registration fields are:
// required, length, control characters, choices) and hands the answers to
// the network's AdminCommander.
type AdminCommand struct {
	Node         string // stable identifier, unique among the gateway's commands ("assign-number")
	Name         string // human name ("Assign a number")
	Instructions string // the text above the form, may be empty
	Fields       []Field
}

// AdminCommander is implemented by networks whose Capabilities list
// AdminCommands.
type AdminCommander interface {
	// RunAdminCommand runs node with the values an administrator
	// submitted (keyed by Field.Name, checked against the command's
	// Fields; an empty optional field is absent) and returns the text to
	// show them. It may do I/O and block until ctx ends; no session of
	// any user is involved. An error is classified as for Send
	// (ErrInvalidInput for a value the network refuses, ErrConflict,
	// ErrLimit, ErrNotFound for a node it does not know) and shown to the
	// administrator, who may run the command again; the gateway does not
	// retry. It may be called from any goroutine.
	RunAdminCommand(ctx context.Context, node string, values map[string]string) (string, error)
}
