package msgid

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/storage"
)

// awaitDir is the direction of the records of messages awaiting the
// network's delivery report, keyed by legacy ID:
//
//	bucket "msgids"  network \0 user \0 conv \0 "r" legacy -> stanza id \0 origin-id \0 sender \0 contact \0 "1"|"0" \0 base-36 Unix seconds
//
// The pair itself keeps one XMPP ID (the origin-id where the message had
// one, which corrections and retractions name); a receipt names the
// stanza id (XEP-0184 §5) and goes to the resource that sent the message,
// which the pair cannot hold.
const awaitDir = "r"

// Receipt is what a XEP-0184 receipt or a delivery error needs of a
// message the user sent, kept until the network reports on it
// (transports.ReceiptEvent), so that a report after a restart names the
// message as the user's client knows it.
type Receipt struct {
	// StanzaID is the message's stanza id, which <received/> and the
	// error message carry; "" when the message had none.
	StanzaID string
	// OriginID is its XEP-0359 origin-id, "" when it had none.
	OriginID string
	// Sender is the user's full JID that sent it, where the receipt
	// goes; Contact is the JID it was sent to, the receipt's sender.
	Sender, Contact string
	// Requested says the message asked for a receipt.
	Requested bool
}

// Await keeps r for the message the network knows as legacyID in
// conversation of user on network, until [Map.Resolved] forgets it,
// [Map.Prune] finds it older than its bound, or [Map.Forget] the user.
// A second Await of legacyID replaces the first.
func (m *Map) Await(ctx context.Context, user, network, conversation, legacyID string, r Receipt) error {
	if err := checkParts("user", user, "network", network, "conversation", conversation,
		"legacy message ID", legacyID, "sender", r.Sender, "contact", r.Contact); err != nil {
		return err
	}
	for _, id := range []string{r.StanzaID, r.OriginID} {
		if strings.IndexByte(id, 0) >= 0 {
			return fmt.Errorf("msgid: a message ID with a NUL byte")
		}
	}
	if err := m.st.Put(ctx, bucket, key(network, user, conversation, awaitDir, legacyID), receiptValue(r, time.Now())); err != nil {
		return fmt.Errorf("msgid: keep the receipt of %s on %s: %w", user, network, err)
	}
	return nil
}

// Awaited returns what Await kept for legacyID, or an error wrapping
// [ErrNoMapping] when nothing awaits a report on it (resolved, pruned,
// never sent). It does not forget it: the caller calls [Map.Resolved]
// once the receipt is safely on its way.
func (m *Map) Awaited(ctx context.Context, user, network, conversation, legacyID string) (Receipt, error) {
	if err := checkParts("user", user, "network", network, "conversation", conversation, "legacy message ID", legacyID); err != nil {
		return Receipt{}, err
	}
	v, err := m.st.Get(ctx, bucket, key(network, user, conversation, awaitDir, legacyID))
	if errors.Is(err, storage.ErrNotFound) {
		return Receipt{}, fmt.Errorf("msgid: receipt of %q of %s on %s: %w", legacyID, user, network, ErrNoMapping)
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("msgid: receipt of %q of %s on %s: %w", legacyID, user, network, err)
	}
	r, ok := parseReceipt(v)
	if !ok {
		return Receipt{}, fmt.Errorf("msgid: receipt of %q of %s on %s: a malformed record", legacyID, user, network)
	}
	return r, nil
}

// Resolved forgets the receipt awaiting a report on legacyID; nothing
// to forget is no error.
func (m *Map) Resolved(ctx context.Context, user, network, conversation, legacyID string) error {
	if err := checkParts("user", user, "network", network, "conversation", conversation, "legacy message ID", legacyID); err != nil {
		return err
	}
	if err := m.st.Delete(ctx, bucket, key(network, user, conversation, awaitDir, legacyID)); err != nil {
		return fmt.Errorf("msgid: forget the receipt of %q of %s on %s: %w", legacyID, user, network, err)
	}
	return nil
}

// receiptValue is the stored record of r; its time is last, as in every
// record of the map (mappedAt).
func receiptValue(r Receipt, at time.Time) []byte {
	req := "0"
	if r.Requested {
		req = "1"
	}
	return value(strings.Join([]string{r.StanzaID, r.OriginID, r.Sender, r.Contact, req}, "\x00"), at)
}

func parseReceipt(v []byte) (Receipt, bool) {
	f := strings.Split(string(v), "\x00")
	if len(f) != 6 {
		return Receipt{}, false
	}
	return Receipt{StanzaID: f[0], OriginID: f[1], Sender: f[2], Contact: f[3], Requested: f[4] == "1"}, true
}
