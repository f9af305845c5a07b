package component

import (
	"context"
	"fmt"

	"mellium.im/xmpp"

	"github.com/switchboard-im/switchboard/component/stanza"
)

// Writing stanzas. Every stanza the component writes is marshalled to
// bytes first (mustMarshal): its size is checked against the limit and
// cut to fit (marshalFit), and the outbox stores those bytes. They are
// written to the stream as they are. Handing them to mellium's
// Session.Send instead, which takes a token reader, meant decoding them
// into tokens again and encoding those once more: for an occupant's
// presence 72 allocations and 4.1 KiB instead of 15 and 1.2 KiB, for a
// 16 KiB message 54 KiB instead of 19 (BenchmarkSend, marshalling
// included), and most of a room join's heap churn.
//
// What mellium's encoder did to each stanza on the way is done where the
// stanza is marshalled or is not needed: a stanza without an id gets one
// (missingID); the top-level element has no xmlns of its own, so it is in
// the stream's default namespace, jabber:component:accept, as the
// encoder made it explicitly.

// writeStanza writes b, one stanza as xml.Marshal wrote it, to the
// session's stream.
//
// It holds the session's write lock (Session.TokenWriter, the one every
// write of mellium's takes) for the whole stanza, so nothing is written
// inside it, and it first flushes what mellium's encoder may hold, so
// what was written before goes first. It blocks while another write holds
// the lock (ctx does not end that wait). It does not write when ctx is
// done when it is called, or when the output stream was closed
// (Session.Close). The write itself is bounded by streamConn
// (streamWriteTimeout), which closes the connection when a write fails:
// a stanza half written cannot be taken back, so a failed write ends the
// stream, and Run reconnects; nothing here retries.
func writeStanza(ctx context.Context, sess *xmpp.Session, b []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stanza not written: %w", err)
	}
	w := sess.TokenWriter()
	defer w.Close()
	if err := w.Flush(); err != nil {
		return fmt.Errorf("stanza not written: %w", err)
	}
	if _, err := sess.Conn().Write(b); err != nil {
		return fmt.Errorf("writing a stanza: %w", err)
	}
	return nil
}

// missingID returns the id field of a message, presence or IQ that has
// none, or nil. marshalFit gives such a stanza a new id while it is
// marshalled, as mellium's encoder did to every stanza it wrote (RFC 6120
// §8.1.3 recommends an id on every stanza; an IQ must have one).
func missingID(v any) *string {
	var id *string
	switch s := v.(type) {
	case *stanza.Message:
		id = &s.ID
	case *stanza.Presence:
		id = &s.ID
	case *stanza.IQ:
		id = &s.ID
	default:
		return nil
	}
	if *id != "" {
		return nil
	}
	return id
}
