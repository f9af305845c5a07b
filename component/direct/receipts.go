package direct

import (
	"context"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/bounded"
	"github.com/switchboard-im/switchboard/transports"
)

// XEP-0184 receipts. For most networks a message is delivered when Send
// returned, and the receipt goes out then. A network with
// Capabilities.DeferredReceipts (SMS: the carrier reports delivery later)
// delivers a transports.ReceiptEvent instead, through the user's session
// or a webhook (the component's Deliver); the receipt is sent only for one that
// says delivered, and one that says failed becomes an error message with
// the id of the user's message.
//
// What the receipt needs (the stanza id, the origin-id, the resource that
// asked) is kept in memory per user while the network has not answered,
// bounded, and durably beside the message-ID map (Core.AwaitReceipt,
// bounded by the map's age): a report after a restart, or after the
// memory's bound let an entry go, is answered exactly as one before it.
// The receipt names the message's stanza id, as XEP-0184 §5 says, also
// when the message had an XEP-0359 origin-id (the one the message-ID map
// pairs, for corrections): Conversations and Gajim give both ids the same
// value and match a receipt on the id of the message they sent; it goes
// to the resource that sent the message, and so does the error of a
// failed delivery.

const (
	// maxPendingReceipts bounds the messages per user awaiting the
	// network's word; the oldest are forgotten first.
	maxPendingReceipts = 1000
	// maxEarlyReceipts bounds the receipts per user that arrived before
	// Send returned the message's ID.
	maxEarlyReceipts = 64
)

// PendingReceipt is a sent message awaiting the network's word: what its
// receipt, or the error of its failed delivery, needs.
type PendingReceipt struct {
	// StanzaID is the id of the user's message, which <received/> and
	// the error name; OriginID its XEP-0359 origin-id, "" when it had
	// none.
	StanzaID, OriginID string
	// From is the contact's JID (the receipt's sender), To the user's
	// full JID that sent the message.
	From, To string
	// Requested says the message asked for a receipt.
	Requested bool
}

// receiptBook holds every user's pending receipts. Its mutex guards a
// table shared across users (stanza work in the lanes records, legacy
// events on the owners resolve); no user's protocol state is in it.
type receiptBook struct {
	mu    sync.Mutex
	users map[string]*userReceipts
}

type userReceipts struct {
	pending *bounded.Map[string, PendingReceipt] // by conversation \0 RemoteID
	early   *bounded.Map[string, *transports.ReceiptEvent]
}

func receiptKey(to transports.ID, rid transports.RemoteID) string {
	return string(to) + "\x00" + string(rid)
}

// record keeps p until the network reports on rid, unless its report came
// already: then it returns that report and keeps nothing.
func (b *receiptBook) record(user string, to transports.ID, rid transports.RemoteID, p PendingReceipt) (*transports.ReceiptEvent, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.user(user)
	k := receiptKey(to, rid)
	if ev, ok := u.early.Get(k); ok {
		u.early.Delete(k)
		b.tidy(user, u)
		return ev, true
	}
	u.pending.Put(k, p)
	return nil, false
}

// take returns and forgets the pending receipt of rid.
func (b *receiptBook) take(user string, to transports.ID, rid transports.RemoteID) (PendingReceipt, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.users[user]
	if u == nil {
		return PendingReceipt{}, false
	}
	k := receiptKey(to, rid)
	p, ok := u.pending.Get(k)
	u.pending.Delete(k)
	b.tidy(user, u)
	return p, ok
}

// keepEarly keeps a report on a message whose Send has not returned yet,
// unless record came meanwhile: then it returns that pending receipt.
func (b *receiptBook) keepEarly(user string, ev *transports.ReceiptEvent) (PendingReceipt, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.user(user)
	k := receiptKey(ev.To, ev.Remote)
	if p, ok := u.pending.Get(k); ok {
		u.pending.Delete(k)
		b.tidy(user, u)
		return p, true
	}
	u.early.Put(k, ev)
	return PendingReceipt{}, false
}

func (b *receiptBook) user(user string) *userReceipts {
	if b.users == nil {
		b.users = make(map[string]*userReceipts)
	}
	u := b.users[user]
	if u == nil {
		u = &userReceipts{
			pending: bounded.New[string, PendingReceipt](maxPendingReceipts),
			early:   bounded.New[string, *transports.ReceiptEvent](maxEarlyReceipts),
		}
		b.users[user] = u
	}
	return u
}

// tidy forgets the user when nothing is left.
func (b *receiptBook) tidy(user string, u *userReceipts) {
	if u.pending.Len() == 0 && u.early.Len() == 0 {
		delete(b.users, user)
	}
}

// acknowledge answers a message the legacy network took (Send returned
// rid): with the receipt now, or, for a network with deferred receipts,
// once it reports on rid. Lane work.
func (d *Service) acknowledge(ctx context.Context, s *stanza.In, to transports.ID, rid transports.RemoteID) {
	c := d.core
	if !c.Capabilities().DeferredReceipts {
		d.receipt(ctx, s)
		return
	}
	requested := s.Child(stanza.NSReceipts, "request") != nil && s.ID != ""
	if rid == "" {
		// The contract says a network with deferred receipts always
		// returns an ID; without one, no report can ever be matched,
		// and a receipt now would claim a delivery nobody confirmed.
		c.Logger().Warn("network with deferred receipts returned no message ID; no receipt will follow", "to", string(to))
		return
	}
	p := PendingReceipt{StanzaID: s.ID, From: s.To.String(), To: s.From.String(), Requested: requested}
	if o := s.Child(stanza.NSSID, "origin-id"); o != nil {
		p.OriginID = o.Attr("id")
	}
	user := s.From.Bare().String()
	// Durably first: a report that finds it there finds it also before
	// the memory has it.
	if err := c.AwaitReceipt(ctx, user, to, rid, p); err != nil {
		c.Logger().Warn("storing a pending receipt; it will not survive a restart", "user", user, "err", err)
	}
	if ev, ok := d.receipts.record(user, to, rid, p); ok {
		if err := d.finish(ctx, user, p, ev); err != nil {
			c.Logger().Error("receipt lost", "user", user, "err", err)
		}
	}
}

// receipt acknowledges s (XEP-0184) now, if it asked for it; call it
// only once the legacy network took the message.
func (d *Service) receipt(ctx context.Context, s *stanza.In) {
	if s.Child(stanza.NSReceipts, "request") != nil && s.ID != "" {
		d.core.SendQuiet(ctx, &stanza.Message{From: s.To.String(), To: s.From.String(), Extra: []any{&stanza.Received{ID: s.ID}}})
	}
}

// Receipt handles the network's report on a message user sent: the
// receipt, or an error message when the delivery failed, both queued. The
// error is what could be neither stored nor sent (the caller, delivering
// the event, reports it). Owner work: it reads the message-ID map.
func (d *Service) Receipt(ctx context.Context, user jid.JID, ev *transports.ReceiptEvent) error {
	c := d.core
	u := user.String()
	if !c.Capabilities().DeferredReceipts {
		// The receipt went out when Send returned.
		c.Logger().Debug("receipt event from a network without deferred receipts", "user", u)
		return nil
	}
	if p, ok := d.receipts.take(u, ev.To, ev.Remote); ok {
		return d.finish(ctx, u, p, ev)
	}
	// Not in memory: after a restart, the durable copy.
	p, found, err := c.AwaitedReceipt(ctx, u, ev.To, ev.Remote)
	switch {
	case err != nil:
		c.Logger().Warn("looking up a receipt's message", "user", u, "err", err)
		return err
	case found:
		return d.finish(ctx, u, p, ev)
	}
	// Before Send returned (the network reported at once), or a message
	// the gateway never sent or answered already: kept a while for
	// record.
	if p, ok := d.receipts.keepEarly(u, ev); ok {
		return d.finish(ctx, u, p, ev)
	}
	return nil
}

// finish resolves p with the network's report ev, then forgets its
// durable copy; a receipt that could not be queued keeps it, for the
// report again (a webhook's retry).
func (d *Service) finish(ctx context.Context, user string, p PendingReceipt, ev *transports.ReceiptEvent) error {
	if err := d.resolve(ctx, p, ev); err != nil {
		return err
	}
	if err := d.core.ReceiptResolved(ctx, user, ev.To, ev.Remote); err != nil {
		// Harmless but for a second report on it, answered twice.
		d.core.Logger().Warn("forgetting a resolved receipt", "user", user, "err", err)
	}
	return nil
}

// resolve sends what the network's report on p means: the receipt when
// it was delivered and one was asked for, an error message with the
// message's id when it failed. Both are queued (durable).
func (d *Service) resolve(ctx context.Context, p PendingReceipt, ev *transports.ReceiptEvent) error {
	var m *stanza.Message
	if ev.Delivered {
		if !p.Requested {
			return nil
		}
		m = &stanza.Message{From: p.From, To: p.To, Extra: []any{&stanza.Received{ID: p.StanzaID}}}
	} else {
		text := d.core.NetworkName() + " could not deliver the message"
		if ev.Error != "" {
			text += ": " + stanzaerr.Detail(ev.Error)
		}
		id := p.StanzaID
		if id == "" {
			id = p.OriginID // the only id the client gave it
		}
		m = &stanza.Message{ID: id, Type: "error", From: p.From, To: p.To,
			Error: stanzaerr.New("cancel", "recipient-unavailable", "%s.", text).Wire()}
	}
	return d.core.Deliver(ctx, m)
}
