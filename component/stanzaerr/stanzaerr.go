// Package stanzaerr owns XMPP stanza errors (RFC 6120 §8.3): the error type
// the component's handlers return, its wire form, and the one mapping from a
// network's errors (the transports sentinels) to an XMPP condition and the
// text the user reads. IQ, message and MUC-join (presence) errors all go
// through FromLegacy, so a legacy failure reads the same wherever it shows.
package stanzaerr

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// NS is the namespace of stanza error conditions and their text.
const NS = "urn:ietf:params:xml:ns:xmpp-stanzas"

// Error is an XMPP stanza error that a handler returns to the sender. Its
// Text is shown to the user and must never hold secrets.
type Error struct {
	Type      string // cancel, modify, auth, wait
	Condition string // a defined condition of RFC 6120 §8.3.3, e.g. item-not-found
	Text      string // for a person; empty for none
	// App is an application-specific condition (RFC 6120 §8.3.4) that a
	// protocol defines beside the general one, e.g. XEP-0050's
	// <bad-sessionid/>; its zero value means none.
	App xml.Name
}

// Error returns the condition and, if any, the text.
func (e *Error) Error() string {
	if e.Text == "" {
		return e.Condition
	}
	return e.Condition + ": " + e.Text
}

// New returns an error of type typ and condition cond whose text is
// format formatted with args.
func New(typ, cond, format string, args ...any) *Error {
	return &Error{Type: typ, Condition: cond, Text: fmt.Sprintf(format, args...)}
}

// Wire is the XML form of an Error, an <error/> child of a stanza.
type Wire struct {
	XMLName xml.Name `xml:"error"`
	Type    string   `xml:"type,attr"`
	Cond    struct {
		XMLName xml.Name
	}
	Text *WireText
	App  *WireApp
}

// WireApp is the application-specific condition of a Wire error: an empty
// element in the protocol's own namespace.
type WireApp struct {
	XMLName xml.Name
}

// WireText is the <text/> of a Wire error.
type WireText struct {
	XMLName xml.Name `xml:"urn:ietf:params:xml:ns:xmpp-stanzas text"`
	Lang    string   `xml:"xml:lang,attr,omitempty"`
	Text    string   `xml:",chardata"`
}

// Wire returns e's XML form, ready to be marshalled into a stanza.
func (e *Error) Wire() *Wire {
	x := &Wire{Type: e.Type}
	x.Cond.XMLName = xml.Name{Space: NS, Local: e.Condition}
	if e.Text != "" {
		x.Text = &WireText{Lang: "en", Text: e.Text}
	}
	if e.App.Local != "" {
		x.App = &WireApp{XMLName: e.App}
	}
	return x
}

// conditions is the one mapping from a network's sentinel errors to XMPP:
// the first sentinel err wraps, in this order, decides.
var conditions = []struct {
	sentinel  error
	typ, cond string
}{
	{transports.ErrBadCredentials, "modify", "not-acceptable"},
	{transports.ErrInvalidInput, "modify", "not-acceptable"},
	{transports.ErrNotFound, "cancel", "item-not-found"},
	{transports.ErrForbidden, "auth", "forbidden"},
	{transports.ErrNotConnected, "wait", "recipient-unavailable"},
	{transports.ErrUnsupported, "cancel", "feature-not-implemented"},
	{transports.ErrConflict, "cancel", "conflict"},
	{transports.ErrPolicy, "cancel", "not-allowed"},
	{transports.ErrLimit, "modify", "policy-violation"},
	{transports.ErrBusy, "wait", "resource-constraint"},
	{transports.ErrUnavailable, "wait", "remote-server-not-found"},
}

// timeoutText is what the user reads when a network did not answer in time.
const timeoutText = "The legacy network did not answer in time."

// FromLegacy maps an error returned by a network (an Adapter, Rooms,
// Network.Login …) to what the user is told. The condition comes from the
// transports sentinel err wraps; an error wrapping none is
// remote-server-timeout if it is a context deadline, remote-server-not-found
// otherwise. The text is err's own, once: the sentinel's words
// that "%w: …" put in front of the details are left out, since the condition
// already says them. A nil err gives nil.
func FromLegacy(err error) *Error {
	if err == nil {
		return nil
	}
	for _, c := range conditions {
		if errors.Is(err, c.sentinel) {
			return &Error{Type: c.typ, Condition: c.cond, Text: withoutSentinel(err.Error(), c.sentinel)}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Type: "wait", Condition: "remote-server-timeout", Text: timeoutText}
	}
	return &Error{Type: "wait", Condition: "remote-server-not-found", Text: err.Error()}
}

// From returns err itself if it is (or wraps) an *Error, and FromLegacy(err)
// otherwise.
func From(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	return FromLegacy(err)
}

// withoutSentinel removes the first "<sentinel's text>: " from text, where
// details follow it. A text that is the sentinel's alone (or ends with it)
// keeps it: it is then all there is to say.
func withoutSentinel(text string, sentinel error) string {
	prefix := sentinel.Error() + ": "
	i := strings.Index(text, prefix)
	if i < 0 || strings.TrimSpace(text[i+len(prefix):]) == "" {
		return text
	}
	return text[:i] + text[i+len(prefix):]
}

// Detail returns text, a legacy error's text kept as a string (a
// transports.Status's Text), without the sentinel's words that "%w: " put
// in front of its details: "credentials refused: Invalid password" after
// "… refused the login: " reads "Invalid password". Any other text, or a
// sentinel's words with nothing after them, is returned as is.
func Detail(text string) string {
	for _, c := range conditions {
		rest, ok := strings.CutPrefix(text, c.sentinel.Error()+": ")
		if ok && strings.TrimSpace(rest) != "" {
			return rest
		}
	}
	return text
}
