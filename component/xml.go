package component

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"sync"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// Namespaces the component speaks.
const (
	nsStanzas  = stanzaerr.NS
	nsDiscoInf = "http://jabber.org/protocol/disco#info"
	nsDiscoIt  = "http://jabber.org/protocol/disco#items"
	nsRegister = "jabber:iq:register"
	nsGateway  = "jabber:iq:gateway"
	nsPing     = "urn:xmpp:ping"
	nsVersion  = "jabber:iq:version"
	nsCommands = "http://jabber.org/protocol/commands"
	nsData     = "jabber:x:data"
	nsMUC      = "http://jabber.org/protocol/muc"
	nsNick     = stanza.NSNick
	nsDelay    = stanza.NSDelay
	nsReceipts = "urn:xmpp:receipts"
	nsSID      = stanza.NSSID
	nsChat     = stanza.NSChat
	nsOOB      = stanza.NSOOB
)

// node is a parsed incoming stanza or payload.
type node = xmltree.Element

// mustMarshal encodes v as xml.Marshal does; the values passed are the
// component's own structs, so an error is a programming error.
//
// Every stanza the component writes is marshalled here, and xml.Marshal
// gives each new Encoder a new 4 KiB write buffer: 500 users joining one
// room made a gigabyte of them. The write buffers are pooled instead; the
// Encoder is still new for each value (bufio.NewWriter, in
// xml.NewEncoder, takes a big enough *bufio.Writer as it is), so the
// bytes are exactly xml.Marshal's, down to the generated namespace
// prefixes an Encoder numbers as it goes.
func mustMarshal(v any) []byte {
	m := marshalers.Get().(*marshaler)
	b, err := m.marshal(v)
	if err != nil {
		// m is not put back: what it holds after a failure is unknown.
		panic(fmt.Sprintf("component: marshal %T: %v", v, err))
	}
	if m.buf.Cap() <= maxPooledMarshal {
		marshalers.Put(m)
	}
	return b
}

// maxPooledMarshal bounds the buffer a pooled marshaler keeps: one that
// grew for a big stanza is left to the collector.
const maxPooledMarshal = 64 << 10

// marshaler is a pooled write buffer for an Encoder and the bytes it
// wrote.
type marshaler struct {
	buf bytes.Buffer
	w   *bufio.Writer // into buf; the size xml.NewEncoder would make
}

func newMarshaler() *marshaler {
	m := &marshaler{}
	m.w = bufio.NewWriter(&m.buf)
	return m
}

// marshal encodes v as xml.Marshal does and returns a copy of the bytes,
// leaving the marshaler empty for the next value.
func (m *marshaler) marshal(v any) ([]byte, error) {
	enc := xml.NewEncoder(m.w)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	b := bytes.Clone(m.buf.Bytes())
	m.buf.Reset()
	return b, nil
}

var marshalers = sync.Pool{New: func() any { return newMarshaler() }}
