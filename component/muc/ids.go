package muc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
)

// Namespaces of the message features the service reads and writes in
// rooms, beside the MUC ones (xml.go) and those of package stanza.
const (
	nsData = "jabber:x:data"
	nsRSM  = "http://jabber.org/protocol/rsm"
)

// newID returns a fresh stanza ID: 72 random bits, hex.
func newID() string {
	var b [9]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// marshalLen is the size of v's XML; the values passed are the service's
// own stanzas, so an error is a programming error.
func marshalLen(v any) int {
	b, err := xml.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("muc: marshal %T: %v", v, err))
	}
	return len(b)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Stanza-ids the gateway makes. A room message the network gave no ID
// (transports.MessageEvent.RemoteID "") still needs a stanza-id, which
// clients then name in replies, reactions, corrections and retractions;
// such a reference must never reach the network as if it were a legacy
// ID. The gateway's IDs are signed so that they are known by their form
// alone, also after a restart (the archive keeps them) and without a
// write per message: a random part, a dot, and the first 8 bytes of
// HMAC-SHA256(key, random part), hex. No network can make one without the
// key, so no legacy ID passes for one.

// Option configures a Service.
type Option func(*Service)

// IDKey is the key that signs the stanza-ids the service makes for
// messages without a legacy ID. It must outlive the process (the
// component derives it from its secret): a Service without one signs with
// a random key, and its IDs are not recognised after a restart.
func IDKey(key []byte) Option {
	return func(s *Service) { s.idKey = slices.Clone(key) }
}

// madeID returns a fresh stanza-id for a message the network gave no ID.
func (s *Service) madeID() string {
	part := newID()
	return part + "." + hex.EncodeToString(s.idMAC(part))
}

// MadeID reports whether id is a stanza-id the gateway made for a room
// message the network gave no ID (an archive ID, a live message's
// stanza-id): the message has no legacy ID, and nothing may be sent to
// the network in its name. It does no I/O; any goroutine.
func (s *Service) MadeID(id string) bool {
	part, mac, ok := strings.Cut(id, ".")
	if !ok || len(mac) != 16 {
		return false
	}
	got, err := hex.DecodeString(mac)
	return err == nil && hmac.Equal(got, s.idMAC(part))
}

func (s *Service) idMAC(part string) []byte {
	h := hmac.New(sha256.New, s.idKey)
	h.Write([]byte(part))
	return h.Sum(nil)[:8]
}

// NoLegacyID is the error that refuses to act (done: "edited",
// "deleted", "reacted to") on a room message whose stanza-id the gateway
// made (MadeID) because the network gave the message no ID: the network
// could not tell which message is meant, and is never handed an ID it did
// not issue.
func NoLegacyID(done string) *stanzaerr.Error {
	return stanzaerr.New("cancel", "item-not-found", "The network gave that message no ID, so it cannot be %s there; nothing was sent.", done)
}
