package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// The dead-letter record keeps the outbox stanzas the XMPP server would
// not take (too large, or refused so often that the stream was lost each
// time), so that they stop blocking the queue behind them but remain
// inspectable by an admin.
//
//	queue "deadletter:" network -> JSON DeadLetter

const deadLetterPrefix = "deadletter:"

// MaxDeadLetters is how many dead letters are kept per network; older ones
// are removed as new ones come.
const MaxDeadLetters = 100

// MaxDeadLetterBytes is how much of a dead letter's stanza is kept.
const MaxDeadLetterBytes = 64 << 10

// DeadLetter is an outbox stanza given up on.
type DeadLetter struct {
	Seq    uint64    `json:"-"`      // its place in the record
	At     time.Time `json:"at"`     // when it was given up
	Reason string    `json:"reason"` // why, in words
	Size   int       `json:"size"`   // the stanza's size in bytes
	Stanza []byte    `json:"stanza"` // its first MaxDeadLetterBytes bytes
}

// DeadLetter moves outbox stanza it of network (as Pending returned it) to
// the network's dead-letter record, with reason. The record is written before the
// stanza leaves the outbox, so a crash in between keeps it in both, never
// in neither. The oldest records beyond MaxDeadLetters are removed.
func (o *Outbox) DeadLetter(ctx context.Context, network string, it Item, reason string) error {
	stanza := it.Stanza
	if err := checkNetwork(network); err != nil {
		return err
	}
	d := DeadLetter{At: time.Now().UTC(), Reason: reason, Size: len(stanza), Stanza: stanza}
	if len(d.Stanza) > MaxDeadLetterBytes {
		d.Stanza = d.Stanza[:MaxDeadLetterBytes]
	}
	v, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("outbox: dead letter for %s: %w", network, err)
	}
	// Fenced (see Hold): a former holder moves nothing.
	w := o.flushStore()
	if _, err := w.Append(ctx, deadLetterPrefix+network, v); err != nil {
		return fmt.Errorf("outbox: dead letter for %s: %w", network, err)
	}
	if err := o.Ack(ctx, network, it.User, it.Seq); err != nil {
		return err
	}
	items, err := o.st.Range(ctx, deadLetterPrefix+network, 0, MaxDeadLetters+1)
	if err != nil {
		return fmt.Errorf("outbox: dead letters of %s: %w", network, err)
	}
	for i := 0; i < len(items)-MaxDeadLetters; i++ {
		if err := w.Remove(ctx, deadLetterPrefix+network, items[i].Seq); err != nil {
			return fmt.Errorf("outbox: pruning dead letters of %s: %w", network, err)
		}
	}
	return nil
}

// DeadLetters returns up to max dead letters of network, oldest first.
func (o *Outbox) DeadLetters(ctx context.Context, network string, max int) ([]DeadLetter, error) {
	if err := checkNetwork(network); err != nil {
		return nil, err
	}
	items, err := o.st.Range(ctx, deadLetterPrefix+network, 0, max)
	if err != nil {
		return nil, fmt.Errorf("outbox: dead letters of %s: %w", network, err)
	}
	out := make([]DeadLetter, 0, len(items))
	for _, it := range items {
		var d DeadLetter
		if err := json.Unmarshal(it.Value, &d); err != nil {
			return nil, fmt.Errorf("outbox: dead letter %d of %s: %w", it.Seq, network, err)
		}
		d.Seq = it.Seq
		out = append(out, d)
	}
	return out, nil
}
