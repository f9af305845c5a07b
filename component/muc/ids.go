package muc

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/transports"
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

// attachmentLinks are the out-of-band elements (XEP-0066) of a message
// event's files that the core uploaded (those with a URL), one per file.
func attachmentLinks(ev *transports.MessageEvent) []any {
	var oob []any
	for _, a := range ev.Attachments {
		if a.URL != "" {
			oob = append(oob, &stanza.OOB{URL: a.URL, Desc: shortName(a.Name, 200)})
		}
	}
	return oob
}

// shortName is a file name fit for one line of text: no control or
// format (bidi) characters, at most max runes, "attachment" when empty.
func shortName(name string, max int) string {
	name = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" {
		return "attachment"
	}
	if utf8.RuneCountInString(name) > max {
		r := []rune(name)
		name = string(r[:max-1]) + "…"
	}
	return name
}
