// Package transports is the neutral contract between Switchboard's XMPP side
// (package component) and the legacy networks (irc, discord, sms, email).
//
// A Network describes one legacy network: how to register on it and how to
// connect a registered user. Connecting yields one Adapter per user, which
// sends to the legacy network; everything the legacy network says comes back
// through the user's Sink as Events. What only some networks have (rooms,
// reactions, typing notifications, commands, …) a Network declares once in
// its Capabilities, which alone drive service discovery; the per-user
// actions behind them are small optional interfaces that an Adapter
// implements and the component finds with a type assertion.
// transportstest.Conformance checks that a network's adapters implement
// what its Capabilities claim.
//
// A network whose traffic arrives as pushes rather than on a session (SMS
// through a provider's webhooks) is a HookNetwork: it gets an HTTP handler
// of its own, a Deliverer that reaches users whose session is not running,
// and a NetStore shared by its users; a Registrar takes part in
// registration, a Normalizer reads typed addresses, and ReceiptEvents
// confirm delivery later (Capabilities.DeferredReceipts). See hooks.go.
//
// The Supervisor runs the adapters of one network and is its one reconnect
// policy: adapters report (Adapter.Done, or a Link of Account.Reconnect for
// a connection they keep and redial, as IRC does per server), and the
// supervisor decides what is retried and when, and builds the state the
// user sees.
//
// This package imports only the standard library: a network package that
// needed XMPP knowledge would mean this contract is missing something.
package transports
