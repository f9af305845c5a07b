package direct

import (
	"context"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
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
// bounded; after a restart, or once the bound let an entry go, the
// message is found through the message-ID map instead (the origin-id, or
// the stanza id where the message had none) and the receipt goes to the
// user's bare JID.

const (
	// maxPendingReceipts bounds the messages per user awaiting the
	// network's word; the oldest are forgotten first.
	maxPendingReceipts = 1000
	// maxEarlyReceipts bounds the receipts per user that arrived before
	// Send returned the message's ID.
	maxEarlyReceipts = 64
)

// pendingReceipt is a sent message awaiting the network's word.
type pendingReceipt struct {
	stanzaID  string // the id of the user's message, which <received/> names
	originID  string // its XEP-0359 origin-id, "" when it had none
	from, to  string // the contact's JID (the receipt's sender) and the user's resource
	requested bool   // the message asked for a receipt
}

// receiptBook holds every user's pending receipts. Its mutex guards a
// table shared across users (stanza work in the lanes records, legacy
// events on the owners resolve); no user's protocol state is in it.
type receiptBook struct {
	mu    sync.Mutex
	users map[string]*userReceipts
}

type userReceipts struct {
	pending    map[string]pendingReceipt // by conversation \0 RemoteID
	order      []string                  // pending keys, oldest first
	early      map[string]*transports.ReceiptEvent
	earlyOrder []string
}

func receiptKey(to transports.ID, rid transports.RemoteID) string {
	return string(to) + "\x00" + string(rid)
}

// record keeps p until the network reports on rid, unless its report came
// already: then it returns that report and keeps nothing.
func (b *receiptBook) record(user string, to transports.ID, rid transports.RemoteID, p pendingReceipt) (*transports.ReceiptEvent, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.user(user)
	k := receiptKey(to, rid)
	if ev, ok := u.early[k]; ok {
		delete(u.early, k)
		b.tidy(user, u)
		return ev, true
	}
	if _, ok := u.pending[k]; !ok {
		u.order = append(u.order, k)
	}
	u.pending[k] = p
	for len(u.order) > maxPendingReceipts {
		delete(u.pending, u.order[0])
		u.order = u.order[1:]
	}
	return nil, false
}

// take returns and forgets the pending receipt of rid.
func (b *receiptBook) take(user string, to transports.ID, rid transports.RemoteID) (pendingReceipt, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.users[user]
	if u == nil {
		return pendingReceipt{}, false
	}
	k := receiptKey(to, rid)
	p, ok := u.pending[k]
	delete(u.pending, k)
	b.tidy(user, u)
	return p, ok
}

// keepEarly keeps a report on a message whose Send has not returned yet,
// unless record came meanwhile: then it returns that pending receipt.
func (b *receiptBook) keepEarly(user string, ev *transports.ReceiptEvent) (pendingReceipt, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.user(user)
	k := receiptKey(ev.To, ev.Remote)
	if p, ok := u.pending[k]; ok {
		delete(u.pending, k)
		b.tidy(user, u)
		return p, true
	}
	if _, ok := u.early[k]; !ok {
		u.earlyOrder = append(u.earlyOrder, k)
	}
	u.early[k] = ev
	for len(u.earlyOrder) > maxEarlyReceipts {
		delete(u.early, u.earlyOrder[0])
		u.earlyOrder = u.earlyOrder[1:]
	}
	return pendingReceipt{}, false
}

func (b *receiptBook) user(user string) *userReceipts {
	if b.users == nil {
		b.users = make(map[string]*userReceipts)
	}
	u := b.users[user]
	if u == nil {
		u = &userReceipts{pending: make(map[string]pendingReceipt), early: make(map[string]*transports.ReceiptEvent)}
		b.users[user] = u
	}
	return u
}

// tidy drops the order entries of forgotten keys, and the user when
// nothing is left.
func (b *receiptBook) tidy(user string, u *userReceipts) {
	if len(u.pending) == 0 && len(u.early) == 0 {
		delete(b.users, user)
		return
	}
	if len(u.order) > 2*len(u.pending)+16 {
		u.order = keep(u.order, func(k string) bool { _, ok := u.pending[k]; return ok })
	}
	if len(u.earlyOrder) > 2*len(u.early)+16 {
		u.earlyOrder = keep(u.earlyOrder, func(k string) bool { _, ok := u.early[k]; return ok })
	}
}

func keep(keys []string, ok func(string) bool) []string {
	out := keys[:0]
	for _, k := range keys {
		if ok(k) {
			out = append(out, k)
		}
	}
	return out
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
	p := pendingReceipt{stanzaID: s.ID, from: s.To.String(), to: s.From.String(), requested: requested}
	if o := s.Child(stanza.NSSID, "origin-id"); o != nil {
		p.originID = o.Attr("id")
	}
	user := s.From.Bare().String()
	if ev, ok := d.receipts.record(user, to, rid, p); ok {
		if err := d.resolve(ctx, p, ev); err != nil {
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
		return d.resolve(ctx, p, ev)
	}
	// Not in memory: after a restart the message-ID map still knows it.
	xid, found, err := c.XMPPID(ctx, u, ev.To, ev.Remote)
	switch {
	case err == nil && found:
		from, jerr := c.LegacyJID(ev.To)
		if jerr != nil {
			c.Logger().Warn("receipt for a contact without a JID", "id", ev.To, "err", jerr)
			return nil
		}
		// Whether a receipt was asked for is forgotten; one nobody asked
		// for is harmless (XEP-0184 §5).
		p := pendingReceipt{stanzaID: xid, from: from.String(), to: u, requested: true}
		return d.resolve(ctx, p, ev)
	case err == nil:
		// Before Send returned (the network reported at once), or a
		// message the gateway never sent: kept a while for record.
		if p, ok := d.receipts.keepEarly(u, ev); ok {
			return d.resolve(ctx, p, ev)
		}
		return nil
	default:
		c.Logger().Warn("looking up a receipt's message", "user", u, "err", err)
		return err
	}
}

// resolve sends what the network's report on p means: the receipt when
// it was delivered and one was asked for, an error message with the
// message's id when it failed. Both are queued (durable).
func (d *Service) resolve(ctx context.Context, p pendingReceipt, ev *transports.ReceiptEvent) error {
	var m *stanza.Message
	if ev.Delivered {
		if !p.requested {
			return nil
		}
		m = &stanza.Message{From: p.from, To: p.to, Extra: []any{&stanza.Received{ID: p.stanzaID}}}
	} else {
		text := d.core.NetworkName() + " could not deliver the message"
		if ev.Error != "" {
			text += ": " + stanzaerr.Detail(ev.Error)
		}
		id := p.stanzaID
		if id == "" {
			id = p.originID // the only id the client gave it
		}
		m = &stanza.Message{ID: id, Type: "error", From: p.from, To: p.to,
			Error: stanzaerr.New("cancel", "recipient-unavailable", "%s.", text).Wire()}
	}
	return d.core.Deliver(ctx, m)
}
