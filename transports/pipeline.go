package transports

import "context"

// Queuer is implemented by adapters that can put a user's messages on
// their way before the network confirmed the earlier ones
// (Capabilities.Pipelining): Send split in two, so that one user's burst
// goes out back to back, in order, while the confirmations follow
// (IRC: one PING fences every message written before it).
//
// Queue checks msg and gives it its place in the order of the user's
// sends; it does not wait for the network. It must not block on network
// I/O (it may take the adapter's locks): it returns once msg is queued,
// and messages queued one after the other from one goroutine reach the
// network in that order. An error means nothing was queued: it is
// classified as for Send (ErrNotConnected, ErrLimit, ErrBusy when the
// adapter's own queue is full, …) and reported to the user, and nobody
// retries. When ctx is already done, Queue returns its error and queues
// nothing; ctx bounds only Queue itself, not the message's way out.
//
// A network may answer some messages at once (IRC: a raw command to a
// server is only queued, and confirmed by nothing): Queue then returns a
// Pending that is already done.
type Queuer interface {
	Queue(ctx context.Context, msg Message) (Pending, error)
}

// Pending is a message Queuer.Queue put on its way.
type Pending interface {
	// Wait blocks until the network confirmed the message or failed it,
	// and returns what Send would have: the legacy network's ID for the
	// message ("" where it has none) or the error, classified as for
	// Send (the adapter's own confirmation deadline, which never counts
	// the time the message waited its turn before it was written, is
	// ErrUnavailable). When ctx ends first, the message is abandoned:
	// what of it was not written yet never is, and Wait returns ctx's
	// error. Every call returns the first call's result; the caller
	// must call Wait (an unconfirmed message otherwise holds its place
	// until the session ends). The component waits for a user's
	// Pendings in the order it queued them, on a goroutine of its own,
	// never on the one that queues.
	Wait(ctx context.Context) (RemoteID, error)
}

// Done is a Pending that is already done: its Wait returns ID and Err at
// once, for a Queuer whose network answered the message without waiting.
type Done struct {
	ID  RemoteID
	Err error
}

// Wait implements Pending: d.ID and d.Err, whatever ctx.
func (d Done) Wait(context.Context) (RemoteID, error) { return d.ID, d.Err }
