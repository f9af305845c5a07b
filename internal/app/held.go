package app

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage"
)

// Fencing of a holder's writes.
//
// On a store shared by several instances (Redis) each component domain
// has a lease, and only its holder runs the component. A holder paused
// past its TTL (a long GC, a stopped VM) wakes up as a former holder that
// does not know it yet: every state write it makes must then fail, not
// overwrite the new holder's (a registration, a message-ID pair, a
// network's bookmark, an archived message, a journal entry). So each
// domain writes through its own heldStore, whose writes go to the store's
// view fenced by the domain's current holding ([storage.Leaser.Fenced]),
// checked in the write's atomic step; every state package the component
// gets (registry, msgid, netstate and through it the adapters'
// Account.Store and NetStore, archive, journal) is built on it. A fenced
// write fails with an error wrapping [storage.ErrFenced], and the holder
// stops at once (App.Run returns lease.ErrLost), as it does when a
// renewal says the lease is gone.
//
// What stays unfenced, and why:
//   - the lease itself and instance announcements (storage.Leaser's
//     methods): they are how a holding is taken, checked and shown by
//     `switchboard status`, and check the holding on their own;
//   - enqueueing into the outbox (outbox.Outbox keeps the shared store),
//     with the message-ID pair that EnqueueOnce writes in the same
//     transaction: what a former holder's adapters still read from the
//     legacy network while stopping is kept for the new holder to send,
//     not lost; the outbox flush's writes (Ack, DeadLetter) are fenced by
//     outbox.Outbox.Hold;
//   - the credentials key check that New writes once into a database
//     that has none (openRegistry), before any lease: the same key file
//     is every instance's;
//   - App.Registry, for an admin's or a test's writes outside any
//     component (not a holder's).
//
// Reads go to the shared store unchecked. With bbolt (one process, no
// leases) a heldStore writes to the store itself: nothing changes.

// heldStore is the store one component domain's holder writes through:
// reads go to the shared store, writes to its view fenced by the holding
// hold gave. Before the first hold, on a shared store, writes fail with
// an error wrapping storage.ErrFenced: a standby writes nothing. Its
// Close does nothing: the shared store is the App's.
type heldStore struct {
	storage.Store
	leaser  storage.Leaser // nil: a store of this process alone (bbolt)
	domain  string
	holding atomic.Pointer[holding]
}

// holding is one holding's fenced view and what to call when a write
// through it was fenced off.
type holding struct {
	view storage.Store
	lost func(error)
}

// newHeldStore returns the held store of domain over the shared st.
func newHeldStore(st storage.Store, domain string) *heldStore {
	h := &heldStore{Store: st, domain: domain}
	h.leaser, _ = st.(storage.Leaser)
	return h
}

// hold makes writes from now on carry holding l; lost is called (maybe
// more than once, from any goroutine) with the error of a write that was
// fenced off, which means l is no longer held. It does no I/O.
func (h *heldStore) hold(l storage.Lease, lost func(error)) {
	if h.leaser == nil {
		return
	}
	h.holding.Store(&holding{view: h.leaser.Fenced(l), lost: lost})
}

// writer returns where writes go, and the holding's lost (nil without
// one), or an error when a shared store's domain was never held.
func (h *heldStore) writer() (storage.Store, func(error), error) {
	if h.leaser == nil {
		return h.Store, nil, nil
	}
	hd := h.holding.Load()
	if hd == nil {
		return nil, nil, fmt.Errorf("domain %s not held by this instance: %w", h.domain, storage.ErrFenced)
	}
	return hd.view, hd.lost, nil
}

// fenced tells lost about err when it says the holding is gone.
func fenced(lost func(error), err error) error {
	if lost != nil && errors.Is(err, storage.ErrFenced) {
		lost(err)
	}
	return err
}

// Put implements [storage.Store.Put] through the holding's fenced view.
func (h *heldStore) Put(ctx context.Context, bucket, key string, value []byte) error {
	w, lost, err := h.writer()
	if err != nil {
		return err
	}
	return fenced(lost, w.Put(ctx, bucket, key, value))
}

// Delete implements [storage.Store.Delete] through the holding's fenced
// view.
func (h *heldStore) Delete(ctx context.Context, bucket, key string) error {
	w, lost, err := h.writer()
	if err != nil {
		return err
	}
	return fenced(lost, w.Delete(ctx, bucket, key))
}

// Append implements [storage.Store.Append] through the holding's fenced
// view.
func (h *heldStore) Append(ctx context.Context, queue string, value []byte) (uint64, error) {
	w, lost, err := h.writer()
	if err != nil {
		return 0, err
	}
	seq, err := w.Append(ctx, queue, value)
	return seq, fenced(lost, err)
}

// Remove implements [storage.Store.Remove] through the holding's fenced
// view.
func (h *heldStore) Remove(ctx context.Context, queue string, seq uint64) error {
	w, lost, err := h.writer()
	if err != nil {
		return err
	}
	return fenced(lost, w.Remove(ctx, queue, seq))
}

// Update implements [storage.Store.Update] through the holding's fenced
// view.
func (h *heldStore) Update(ctx context.Context, fn func(tx storage.Tx) error) error {
	w, lost, err := h.writer()
	if err != nil {
		return err
	}
	return fenced(lost, w.Update(ctx, fn))
}

// Close implements [storage.Store.Close]: the shared store is the App's.
func (h *heldStore) Close() error { return nil }

// domainState is what one component domain keeps its state in: every
// package built on the domain's heldStore.
type domainState struct {
	st      *heldStore
	reg     *registry.Registry
	ids     *msgid.Map
	state   *netstate.Store
	archive *archive.Archive
	journal *journal.Journal
}

// newDomainState builds the state packages of domain over the shared st,
// as New builds the App's own.
func newDomainState(st storage.Store, domain string, key []byte, bounds archive.Bounds) (*domainState, error) {
	h := newHeldStore(st, domain)
	d := &domainState{st: h, ids: msgid.New(h), state: netstate.New(h),
		archive: archive.New(h, bounds), journal: journal.New(h, journal.Limits{})}
	reg, err := registry.New(h, key, d.ids, d.state, d.archive)
	if err != nil {
		return nil, fmt.Errorf("registry of %s: %w", domain, err)
	}
	d.reg = reg
	return d, nil
}
