package component

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/outbox"
)

// The outbox: what the legacy side sends is stored first (queue), and
// flushLoop hands it to the XMPP server in order.
//
// A write that returned is not a delivery: the bytes are in the kernel's
// buffer, and a server refuses a stanza after that (Prosody closes a
// component stream on a stanza over its size limit). Acknowledging on
// write therefore lost what was written after a refused stanza. So the
// flusher acknowledges a batch only once the server has routed back a
// check written after it (see barrier): the server handles a stream's
// stanzas in order, so the check coming back means it took everything
// before. A stanza the server keeps refusing, or one over the size limit,
// goes to the dead-letter record (outbox.Outbox.DeadLetter) and the user is
// told, so it never blocks the queue behind it.

const (
	// batchSize is how many stanzas are written before a check.
	batchSize = 64
	// maxWriteFailures is how often a stanza may fail (a write error, or
	// the stream lost before the check after it came back) before it is
	// given up.
	maxWriteFailures = 3
	// barrierTimeout bounds the wait for a check to come back. A server
	// that does not route it back is taken as one that accepted the
	// batch, and for the rest of that stream stanzas are acknowledged once
	// written (logged).
	barrierTimeout = 15 * time.Second
)

// flusher is flushLoop's memory across batches.
type flusher struct {
	// failures counts the failures of a stanza sent alone, by queue and
	// sequence number; only then is a failure known to be that stanza's.
	failures map[stanzaKey]int
	// careful is how many stanzas are still to be sent one at a time,
	// each with its check, after a batch failed: that finds the stanza
	// the server refuses.
	careful int
	// noEcho is the end channel of a stream on which a check timed out:
	// on that stream, stanzas are acknowledged once written.
	noEcho <-chan struct{}
}

// stanzaKey names an outbox stanza: its recipient's queue and its number
// there.
type stanzaKey struct {
	user string
	seq  uint64
}

func keyOf(it outbox.Item) stanzaKey { return stanzaKey{it.User, it.Seq} }

// flushLoop hands outbox stanzas to the XMPP server in order, removing each
// only once the server took it (or it was moved to the dead-letter
// record).
func (c *Component) flushLoop(ctx context.Context) {
	f := &flusher{failures: make(map[stanzaKey]int)}
	// The tick finds what another process enqueued (outbox.RescanEvery).
	tick := time.NewTicker(outbox.RescanEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.flush:
		case <-tick.C:
		}
		for ctx.Err() == nil && c.flushBatch(ctx, f) {
		}
	}
}

// flushBatch writes one batch of the outbox and reports whether there may
// be more to write now.
func (c *Component) flushBatch(ctx context.Context, f *flusher) bool {
	sess, done := c.stream()
	if sess == nil {
		return false
	}
	n := batchSize
	if f.careful > 0 {
		n = 1
	}
	items, err := c.out.Pending(ctx, c.net.Name(), n)
	if err != nil {
		c.log.Error("reading outbox", "err", err)
		return false
	}
	if len(items) == 0 {
		f.careful = 0
		return false
	}
	max := c.maxStanza()
	var written []outbox.Item
	for _, it := range items {
		if len(it.Stanza) > max {
			// Queued before a limit was lowered, or by an older version:
			// never written, since the server would close the stream.
			c.deadLetter(ctx, it, "it is larger than the gateway's limit of "+sizeText(max))
			continue
		}
		if err := writeStanza(ctx, sess, it.Stanza); err != nil {
			if ctx.Err() != nil {
				return false // stopping: not the stanza's failure
			}
			c.log.Warn("outbox stanza not written; will retry", "seq", it.Seq, "err", err)
			if len(written) == 0 {
				// The stanzas before it were checked: the failure is its own.
				c.failed(ctx, f, it, "it could not be written to your server")
			}
			f.careful = batchSize
			return false
		}
		written = append(written, it)
	}
	if len(written) == 0 {
		return true
	}
	switch c.barrier(ctx, sess, done, f) {
	case barrierCancelled:
		return false
	case barrierStreamEnded:
		c.log.Warn("the XMPP stream ended before the server took the outbox stanzas written; they will be written again", "count", len(written))
		if len(written) == 1 && !errors.Is(c.streamErr(), stream.SystemShutdown) {
			// A server shutting down says so; a stanza is not to blame for it.
			c.failed(ctx, f, written[0], "your server refused it (it closed the gateway's connection after it)")
		}
		f.careful = batchSize
		return false
	}
	for _, it := range written {
		c.stats.stanzasOut.Add(1)
		delete(f.failures, keyOf(it))
		if err := c.out.Ack(ctx, c.net.Name(), it.User, it.Seq); err != nil {
			if errors.Is(err, outbox.ErrFenced) {
				// Another instance holds the domain now (outbox.Outbox.Hold):
				// it sends what is left; writing it again here would only
				// repeat it.
				c.log.Warn("outbox flush stopped: this instance no longer holds the domain's lease", "seq", it.Seq)
				return false
			}
			c.log.Error("acknowledging outbox item", "seq", it.Seq, "err", err)
		}
	}
	if f.careful > 0 {
		f.careful -= len(written)
	}
	return true
}

// failed counts a failure of outbox stanza it, sent alone, and gives it up
// after maxWriteFailures.
func (c *Component) failed(ctx context.Context, f *flusher, it outbox.Item, reason string) {
	k := keyOf(it)
	f.failures[k]++
	if f.failures[k] < maxWriteFailures {
		return
	}
	delete(f.failures, k)
	c.deadLetter(ctx, it, fmt.Sprintf("%s, %d times", reason, maxWriteFailures))
}

type barrierResult int

const (
	barrierConfirmed barrierResult = iota
	barrierStreamEnded
	barrierCancelled
)

// barrier writes a check to the stream, an empty IQ result from the
// component to itself, and waits for the server to route it back: then
// the server took everything written before it (Prosody and ejabberd both
// route it back: TestOnEveryXMPPServer). It returns barrierStreamEnded
// when the stream ends first.
func (c *Component) barrier(ctx context.Context, sess *xmpp.Session, done <-chan struct{}, f *flusher) barrierResult {
	if f.noEcho == done {
		return barrierConfirmed
	}
	id := "outbox-" + newID()
	ch, release := c.iq.expect(id)
	defer release()
	check := mustMarshal(&stanza.IQ{ID: id, Type: "result", From: c.domain.String(), To: c.domain.String()})
	if err := writeStanza(ctx, sess, check); err != nil {
		if ctx.Err() != nil {
			return barrierCancelled
		}
		return barrierStreamEnded // a failed write closes the stream
	}
	t := time.NewTimer(barrierTimeout)
	defer t.Stop()
	select {
	case <-ch:
		return barrierConfirmed
	case <-done:
		select {
		case <-ch: // it came back just before the end
			return barrierConfirmed
		default:
			return barrierStreamEnded
		}
	case <-ctx.Done():
		return barrierCancelled
	case <-t.C:
		f.noEcho = done
		c.log.Warn("the XMPP server did not route back the outbox's check; on this stream, outbox stanzas are acknowledged once written", "timeout", barrierTimeout)
		return barrierConfirmed
	}
}

// deadLetter moves outbox stanza it to the dead-letter record and tells
// its recipient, when that is a user of the gateway, with a message from
// the gateway. reason is a fixed phrase, never the peer's bytes.
func (c *Component) deadLetter(ctx context.Context, it outbox.Item, reason string) {
	kind, from, to := stanzaHead(it.Stanza)
	if err := c.out.DeadLetter(ctx, c.net.Name(), it, reason); err != nil {
		c.log.Error("moving an outbox stanza to the dead-letter record", "seq", it.Seq, "err", err)
		return
	}
	c.stats.deadLetters.Add(1)
	c.log.Warn("outbox stanza given up", "seq", it.Seq, "element", logAttr(kind), "from", logAttr(from), "to", logAttr(to),
		"bytes", len(it.Stanza), "reason", reason)
	user, err := jid.Parse(to)
	if err != nil || user.Localpart() == "" || !c.allowedUser(user) || c.gatewayDomain(user.Domainpart()) {
		return
	}
	if kind == "message" && from == c.domain.String() {
		return // a notice of the gateway's own: telling about it could loop
	}
	what := "A message"
	switch kind {
	case "presence":
		what = "A presence update"
	case "iq":
		what = "A request"
	}
	sender := c.domain.String()
	if j, err := jid.Parse(from); err == nil {
		sender = j.String()
	}
	text := fmt.Sprintf("%s from %s could not be delivered: %s.", what, logAttr(sender), reason)
	if err := c.queue(ctx, &stanza.Message{Type: "chat", From: c.domain.String(), To: user.Bare().String(), Body: text}); err != nil {
		c.log.Error("telling a user about a dead letter", "user", user.Bare().String(), "err", err)
	}
}

// stanzaHead returns the element name and the from and to attributes of
// the stanza marshalled in b.
func stanzaHead(b []byte) (kind, from, to string) {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.RawToken()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return "", "", ""
			}
			return kind, from, to
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "from":
					from = a.Value
				case "to":
					to = a.Value
				}
			}
			return se.Name.Local, from, to
		}
	}
}
