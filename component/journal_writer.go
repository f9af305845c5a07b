package component

import (
	"context"
	"errors"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/journal"
)

// The journal's writes off the stream's reading goroutine (group commit).
//
// A stanza to be journaled is not written by the stream's reader: the
// reader queues it for the journal writer (journalWriterLoop, one per
// Run) and goes on reading. The writer takes everything queued at once,
// writes the batch's journaled stanzas in one storage transaction
// (journal.Journal.WriteBatch) and then routes the batch, in the order
// read: a stanza's handling still starts only once its entry is durable,
// and a busy stream pays one durable write for the stanzas it read back
// to back, not one each.
//
// Order: while anything is queued or being routed by the writer, the
// reader queues every stanza behind it, journaled or not, so the
// stanzas are routed in the order read, by one goroutine at a time, as
// before; when the queue is empty, a stanza that is not journaled is
// routed by the reader at once, as before. The queue is bounded
// (writerQueue): a reader that finds it full waits, which slows the
// stream as a slow store did before, no more.
//
// toJournal predicts, before routing, which stanzas message will take
// as journaled; an entry written for a stanza that routing then does not
// bring to message (a message the server echoes back for the contacts
// package, say) is acknowledged at once.

// writerQueue bounds the stanzas waiting for, or being routed by, the
// journal writer.
const writerQueue = 256

// journalWriter is the queue between the stream's reader and the
// journal writer.
type journalWriter struct {
	mu    sync.Mutex
	queue []queued
	busy  int           // queued or being routed by the writer
	wake  chan struct{} // a non-empty queue, for the writer (capacity 1)
	slots chan struct{} // one per stanza queued or being routed
}

// queued is a stanza read, for the journal writer: user is the bare JID
// its entry is written for, "" for a stanza that is not journaled.
type queued struct {
	n    *node
	user string
}

func newJournalWriter() *journalWriter {
	return &journalWriter{wake: make(chan struct{}, 1), slots: make(chan struct{}, writerQueue)}
}

// routeRead routes n, read from the stream, on the stream's reader: at
// once when it is not journaled and nothing is queued for the journal
// writer, else through the writer. It waits only for room in the
// writer's queue.
func (c *Component) routeRead(n *node) {
	w := c.writer
	if w == nil {
		c.routeSafely(n)
		return
	}
	user, journaled := c.toJournal(n)
	w.mu.Lock()
	direct := w.busy == 0 && !journaled
	w.mu.Unlock()
	if direct {
		// Nothing is queued, and only this goroutine queues: nothing
		// can get ahead of n.
		c.routeSafely(n)
		return
	}
	select {
	case w.slots <- struct{}{}:
	case <-c.ctx().Done():
		return // stopping: n is lost as a stanza not yet read would be
	}
	w.mu.Lock()
	w.queue = append(w.queue, queued{n: n, user: user})
	w.busy++
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// journalWriterLoop is the journal writer: it writes and routes what the
// reader queued, batch after batch, until ctx ends. Run owns it.
func (c *Component) journalWriterLoop(ctx context.Context, w *journalWriter) {
	for {
		stopping := false
		select {
		case <-ctx.Done():
			// What was read is still written, so the next start
			// handles it; then no more.
			stopping = true
		case <-w.wake:
		}
		for {
			w.mu.Lock()
			batch := w.queue
			w.queue = nil
			w.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			c.writeAndRoute(ctx, batch)
			w.mu.Lock()
			w.busy -= len(batch)
			w.mu.Unlock()
			for range batch {
				<-w.slots
			}
		}
		if stopping {
			return
		}
	}
}

// writeAndRoute writes the journaled stanzas of batch in one
// transaction, then routes the batch in order: a stanza whose entry was
// not written is answered with the error that says why and not handled.
func (c *Component) writeAndRoute(ctx context.Context, batch []queued) {
	var recs []journal.Record
	var at []int // batch index of each record
	for i, q := range batch {
		if q.user != "" {
			recs = append(recs, journal.Record{User: q.user, Stanza: []byte(q.n.String())})
			at = append(at, i)
		}
	}
	seqs := make([]uint64, len(batch))
	refused := make([]error, len(batch))
	if len(recs) > 0 {
		// Written also when Run is ending: the next start handles it.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		got, errs := c.cfg.Journal.WriteBatch(wctx, c.net.Name(), recs)
		cancel()
		for k, i := range at {
			seqs[i], refused[i] = got[k], errs[k]
		}
	}
	for i, q := range batch {
		if refused[i] != nil {
			c.journalRefused(q.n, q.user, refused[i])
			continue
		}
		c.routeSafelyAt(q.n, seqs[i])
		if seqs[i] == 0 {
			continue
		}
		if _, ok := c.replays.reached.LoadAndDelete(q.n); !ok {
			// Not taken as a journaled message after all: nothing to
			// keep.
			c.journalAck(ctx, nil, q.user, seqs[i])
		}
	}
}

// journalRefused answers n, a message whose journal entry for user was
// not written (err), and logs why: it is not handled.
func (c *Component) journalRefused(n *node, user string, err error) {
	if errors.Is(err, journal.ErrFull) {
		c.log.Info("message refused: too many of the user's messages unacknowledged", "user", user)
		c.replyError(n, stanzaerr.New("wait", "resource-constraint", "Too many of your messages are still on their way; send this again in a moment."))
		return
	}
	c.log.Error("journaling a message", "user", user, "err", err)
	c.replyError(n, stanzaerr.New("wait", "internal-server-error", "The gateway cannot store this message right now; it was not sent. Send it again in a moment."))
}

// routeSafelyAt is routeSafely for a stanza whose journal entry is seq
// (0: none).
func (c *Component) routeSafelyAt(n *node, seq uint64) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic routing a stanza", "element", n.Name.Local, "panic", r, "stack", string(debug.Stack()))
			c.replyError(n, stanzaerr.New("wait", "internal-server-error", "The gateway failed on this stanza."))
		}
	}()
	c.routeAt(n, seq)
}

// toJournal reports whether routing n will bring it to message as a
// journaled message (journals), and for which user (bare JID): the
// checks of routeAt before message, without their answers or logs. No
// I/O.
func (c *Component) toJournal(n *node) (user string, ok bool) {
	if c.cfg.Journal == nil || n.Name.Space != nsComponent || n.Name.Local != "message" {
		return "", false
	}
	from, err := jid.Parse(n.Attr("from"))
	if err != nil || from.Localpart() == "" && from.Domainpart() == "" || c.gatewayDomain(from.Domainpart()) {
		return "", false
	}
	to, err := jid.Parse(n.Attr("to"))
	if err != nil || !strings.EqualFold(to.Domainpart(), c.domain.Domainpart()) {
		return "", false
	}
	s := &stanza.In{Element: n, ID: n.Attr("id"), Type: n.Attr("type"), From: from, To: to}
	if !c.journals(s) || !n.ValidUTF8() {
		return "", false
	}
	return from.Bare().String(), true
}
