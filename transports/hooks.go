package transports

import (
	"context"
	"net/http"
)

// What a push-based network (SMS through a provider's webhooks, any
// network whose traffic arrives as HTTP requests rather than on a session
// the gateway holds) needs from the gateway: an HTTP handler of its own,
// a way to deliver to a user whose session is not running, a store shared
// by all its users, hooks around registration, receipts the network
// confirms later, and a say in how an address typed by a user reads.

// HookNetwork is implemented by networks that need the gateway's hooks.
// The component calls Attach once, when it is built and before anything
// else of the network is used (Validate, Connect, Register); a network
// built again for a new component is attached again, and the latest
// Hooks win. Attach must not block or do I/O.
//
// The returned handler serves the network's webhooks. When the network
// claims Capabilities.Webhooks it must not be nil, and the gateway mounts
// it at /hooks/<Name()>/ on its HTTP listener ([http] listen), with the
// prefix stripped (a request for /hooks/sms/inbound reaches it as
// /inbound). The gateway caps request bodies ([http] max_body_bytes: a
// larger body fails to read) and bounds the time a request may take;
// the handler authenticates requests itself (the provider's signature,
// checked against Hooks.PublicURL). It runs on the HTTP server's
// goroutines, may block until the request's context ends, and answers
// with the status the provider understands: a 5xx makes most providers
// retry, so the handler returns one when Deliver failed and a 2xx only
// once Deliver returned nil.
type HookNetwork interface {
	Attach(h Hooks) http.Handler
}

// Hooks is what the gateway hands a HookNetwork.
type Hooks struct {
	// Deliver routes events to users, whether or not their session runs.
	Deliver Deliverer
	// Store is the network's store shared by all its users.
	Store NetStore
	// PublicURL is the absolute URL at which clients reach the network's
	// handler, ending in "/" ("https://gw.example.org/hooks/sms/"): the
	// [http] public_url the admin configured, with the mount path. A
	// provider signs the URL it called, so a handler behind a proxy
	// checks signatures against PublicURL plus the request's path (as
	// the handler sees it, without its leading "/"), never against the
	// Host it was reached at. "" when public_url is not configured.
	PublicURL string
	// Credentials opens a registered user's stored credentials, for a
	// handler that must check a request with that user's secret while
	// the user's session is not running (a webhook signed with the
	// user's own auth token). nil when the gateway offers none.
	Credentials CredentialReader
}

// CredentialReader reads the credentials a user registered with (as
// Registrar.Register amended them), which the gateway keeps sealed at
// rest. A network uses it only for what needs a user's secret without
// the user's session (Account.Credentials is the way while it runs); it
// keeps what it read no longer than the work it serves, and never logs,
// stores or echoes it.
type CredentialReader interface {
	// Credentials returns user's stored credentials, opened. It reads
	// storage and may block until ctx ends. It returns an error wrapping
	// ErrNotFound when user is not registered with the network, one
	// wrapping ErrUnavailable when they could not be read or opened (the
	// error never quotes them). It does not retry, and it may be called
	// from any goroutine.
	Credentials(ctx context.Context, user string) (Credentials, error)
}

// Deliverer delivers a legacy event to a user without needing the user's
// session: an inbound SMS or a delivery report that arrives through a
// webhook while the user's session is not running.
type Deliverer interface {
	// Deliver hands ev to the component as a session's Sink would: in
	// order with the user's other events, on the user's owner goroutine,
	// and it returns once the event was handled, so whatever the user
	// must see is in the outbox (durable) by then; the XMPP server
	// delivers it to a resource or keeps it offline. user is the bare
	// JID the network learnt from Account.User or Registrar.Register.
	//
	// It blocks for storage I/O and behind the user's earlier events:
	// ctx bounds the check that user is registered; after it, Deliver
	// waits until the event was handled, bounded by the gateway's own
	// timeouts and its shutdown. It returns an error wrapping ErrNotFound when user is
	// not registered with the network (nothing is delivered), one
	// wrapping ErrInvalidInput for a user that is not a bare JID or an
	// event only a session may deliver (StateEvent), one wrapping
	// ErrUnavailable when the gateway is not running or what the event
	// produced could be neither stored nor sent, and ctx's error when
	// ctx ended before the event was handed over.
	// Deliver does not retry: the caller does, typically by answering
	// its provider with an error so that the provider sends again.
	// Delivering a MessageEvent with a RemoteID again is harmless (see
	// Sink). It may be called from any goroutine.
	Deliver(ctx context.Context, user string, ev Event) error
}

// NetStore is durable storage shared by all users of one network (a phone
// number → user index, a pool of numbers to assign), separate from every
// other network's. Keys are the network's own and must be non-empty and
// free of NUL bytes. Every method does storage I/O and may block until
// ctx ends; none retries, and an error other than ErrNotFound means the
// store could not be read or written (the caller decides whether to try
// again). Several goroutines, and with a shared backend several gateway
// processes, may use one store at once: CompareAndSwap is how they agree.
type NetStore interface {
	// Get returns the value under key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value under key, replacing what was there.
	Put(ctx context.Context, key string, value []byte) error
	// CompareAndSwap stores new under key if the value there is old,
	// atomically, and reports whether it did. A nil old means "key is
	// absent"; a nil new deletes the key. A value that differs is not an
	// error: swapped is false.
	CompareAndSwap(ctx context.Context, key string, old, new []byte) (swapped bool, err error)
	// Delete removes key; removing an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Scan calls fn for every key starting with prefix, in ascending
	// byte order; "" visits every key. An error from fn stops the scan
	// and is returned. fn must not call the store.
	Scan(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
}

// Registrar is implemented by networks that take part in registration
// beyond Validate: one that assigns each user something of its own (a
// phone number out of a pool) and releases it when the user leaves.
type Registrar interface {
	// Register is called after Validate accepted creds and before they
	// are stored, on every registration of user (a registered user
	// changing their credentials too: it should then return what it
	// assigned before, found by user). It returns the credentials to
	// store, which may add keys that are not LoginFields (the number
	// assigned); the stored credentials, amended, are what
	// Account.Credentials holds later. It may do I/O and block until
	// ctx ends. An error refuses the registration and is classified as
	// Validate's; no pool left is an error wrapping ErrLimit. Nobody
	// retries: the user registers again. When the amended credentials
	// cannot be stored, the component calls Unregister with them.
	Register(ctx context.Context, user string, creds Credentials) (Credentials, error)
	// Unregister is called once user's registration, whose stored
	// credentials were creds, was deleted (the user's session is
	// already stopped), to release what Register assigned. It may do I/O
	// and block until ctx ends. An error is logged and nobody retries:
	// the registration is gone either way, so Register must cope with an
	// assignment that was never released (compare-and-set on the user
	// it names).
	Unregister(ctx context.Context, user string, creds Credentials) error
}

// Normalizer is implemented by networks whose addresses users may type in
// more than one form ("(555) 123-4567", "+1 555 123 4567"): it turns what a
// user typed into the XEP-0100 jabber:iq:gateway prompt into the network's
// one form of the ID. It must not do I/O and must not block. An address
// that cannot be a contact of the network is an error wrapping
// ErrInvalidInput whose text says why; the user sees it.
type Normalizer interface {
	NormalizeAddress(input string) (ID, error)
}

// ReceiptEvent is the legacy network's word on whether a message the user
// sent reached its recipient (an SMS delivery report), for networks whose
// Capabilities.DeferredReceipts say that Send returning is not delivery.
// The component then sends the XEP-0184 receipt only on a ReceiptEvent
// with Delivered, and shows the user an error for one without. It names
// the message by the RemoteID Send returned for it; a RemoteID the
// component does not know (pruned, never sent) is ignored.
type ReceiptEvent struct {
	// To is the contact (or room) the message was sent to, as in
	// Message.To.
	To ID
	// Remote is the RemoteID Send returned for the message.
	Remote RemoteID
	// Delivered is true when the recipient got the message, false when
	// the network gave up on it.
	Delivered bool
	// Error is the network's reason when Delivered is false.
	Error string
}

func (*ReceiptEvent) isEvent() {}
