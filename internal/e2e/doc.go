// Package e2e holds end-to-end tests of whole gateways: a real XMPP server
// (Prosody), the component, a network package and the real legacy servers
// it talks to, driven by a real XMPP client and a raw legacy client. It has
// no code of its own.
package e2e
