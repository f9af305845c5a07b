package sms

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// A delivery report reaches the user who sent the text, not whoever has
// its number when the report comes: an administrator may have given the
// number to someone else meanwhile (Assign). Each text sent with a
// report asked for is noted under keySeen+keySent+its ID with its
// sender, as markSeen notes deliveries, so the entry is pruned with
// them after seenRetention, longer than providers report for. A report
// for a text not noted (one the provider reports before its ID was
// noted, or a note that failed) goes to the number's owner, as before.
const keySent = "sent/"

// noteSender notes that user sent the text id. A failure is only
// logged: the report then goes to the number's owner.
func (n *Network) noteSender(ctx context.Context, id transports.RemoteID, user string) {
	if id == "" || n.Hooks().Store == nil {
		return
	}
	n.markSeen(ctx, keySent+string(id), user)
}

// sender is the user who sent text id ("" when it was not noted).
func (n *Network) sender(ctx context.Context, id transports.RemoteID) (string, error) {
	v, err := n.Hooks().Store.Get(ctx, keySeen+keySent+string(id))
	switch {
	case errors.Is(err, transports.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("%w: looking up the sender of %s: %w", transports.ErrUnavailable, id, err)
	}
	ts, user, ok := strings.Cut(string(v), " ")
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil || !ok || user == "" {
		return "", nil
	}
	return user, nil
}
