package muc

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
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
