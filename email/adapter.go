package email

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/net/idna"

	"github.com/switchboard-im/switchboard/transports"
)

// adapter is one user's mailbox session: a goroutine that watches INBOX
// over IMAP, and SMTP submissions for what the user writes.
type adapter struct {
	n     *Network
	acct  transports.Account
	login login
	sink  transports.Sink
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	check  chan chan checkResult // "check mail now" requests

	mu      sync.Mutex
	threads *threadStore // by peer and Thread: what a reply needs

	transports.Ending
}

var (
	_ transports.Adapter       = (*adapter)(nil)
	_ transports.CommandRunner = (*adapter)(nil)
)

// threadInfo is what the transport remembers of a conversation thread so
// that the user's answer is a proper reply.
type threadInfo struct {
	subject    string
	lastID     string
	references []string
}

type checkResult struct {
	n   int
	err error
}

func newAdapter(n *Network, acct transports.Account, l login, sink transports.Sink) *adapter {
	ctx, cancel := context.WithCancel(context.Background())
	return &adapter{n: n, acct: acct, login: l, sink: sink,
		log: n.log.With("user", acct.User), ctx: ctx, cancel: cancel,
		check: make(chan chan checkResult), threads: newThreadStore(acct.Store, maxThreads)}
}

// start logs in once (reporting a refused password at once) and starts
// the watcher with that connection.
func (a *adapter) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.n.cfg.Timeout)
	defer cancel()
	newMail := make(chan struct{}, 1)
	c, err := a.n.dialIMAP(ctx, a.ctx, a.acct.User, a.login, newMail)
	if err != nil {
		return err
	}
	// Take the bookmark now: for a new registration, mail that arrives
	// once Connect returned is new.
	sel, last, err := a.selectInbox(c)
	if err != nil {
		c.closeNow()
		return err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer a.recoverPanic()
		a.run(c, sel, last, newMail)
	}()
	return nil
}

// recoverPanic ends the session of a goroutine that panicked, logging the
// stack; the rest of the process is untouched.
func (a *adapter) recoverPanic() {
	if v := recover(); v != nil {
		a.log.Error("email session panicked", "panic", v, "stack", string(debug.Stack()))
		a.End(fmt.Errorf("%w: internal error in the email session", transports.ErrUnavailable))
	}
}

// selectInbox selects INBOX and returns it with the last UID delivered.
func (a *adapter) selectInbox(c *imapConn) (*imap.SelectData, imap.UID, error) {
	var sel *imap.SelectData
	err := c.do("selecting INBOX", metaCap, c.timeout, func() (err error) {
		sel, err = c.Select("INBOX", nil).Wait()
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	last, err := a.bookmark(sel)
	return sel, last, err
}

// Close implements transports.Adapter. It returns within the network's
// Timeout (plus a short grace to log out) whatever the server does: the
// connection is closed once the grace is over.
func (a *adapter) Close() error {
	a.cancel()
	a.wg.Wait()
	return nil
}

// SetPresence implements transports.Adapter: mail has no presence.
func (a *adapter) SetPresence(context.Context, transports.Presence) error { return nil }

// RunCommand implements transports.CommandRunner: "check-mail" looks for
// new mail at once.
func (a *adapter) RunCommand(ctx context.Context, node string) (string, error) {
	if node != "check-mail" {
		return "", fmt.Errorf("%w: no command %q", transports.ErrNotFound, node)
	}
	reply := make(chan checkResult, 1)
	select {
	case a.check <- reply:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-a.Done():
		return "", a.Err()
	}
	select {
	case r := <-reply:
		if r.err != nil {
			return "", r.err
		}
		switch r.n {
		case 0:
			return "No new mail.", nil
		case 1:
			return "1 new mail delivered.", nil
		}
		return strconv.Itoa(r.n) + " new mails delivered.", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// run watches INBOX until the adapter closes or the connection fails.
// A failure ends the session (End): the supervisor's one reconnect policy
// connects a new adapter after its backoff, and that one's login reports
// a refused password like a first connection's.
func (a *adapter) run(c *imapConn, sel *imap.SelectData, last imap.UID, newMail chan struct{}) {
	err := a.watch(c, sel, &last, newMail)
	c.closeNow()
	if a.ctx.Err() != nil {
		return
	}
	a.log.Warn("mailbox connection lost", "err", err)
	a.End(err)
}

// watch delivers new mail of the selected INBOX after *last, then waits
// (IDLE, or a poll timer) for more, until the connection fails or the
// adapter closes. Every command runs under the connection's watchdog;
// only the wait itself is unbounded, and the end of the session or of the
// connection ends it.
func (a *adapter) watch(c *imapConn, sel *imap.SelectData, last *imap.UID, newMail chan struct{}) error {
	var idle bool
	if err := c.do("reading capabilities", metaCap, c.timeout, func() error {
		idle = c.Caps().Has(imap.CapIdle)
		return nil
	}); err != nil {
		return err
	}
	var reply chan checkResult
	for {
		n, err := a.deliverNew(c, sel.UIDValidity, last)
		if reply != nil {
			reply <- checkResult{n: n, err: err}
			reply = nil
		}
		if err != nil {
			return err
		}
		var idleCmd *imapclient.IdleCommand
		var poll <-chan time.Time
		var pollTimer *time.Timer
		if idle {
			if err := c.do("starting IDLE", metaCap, c.timeout, func() (err error) {
				idleCmd, err = c.Idle()
				return err
			}); err != nil {
				return err
			}
			// What the server may send while idling (new mail, flag
			// changes) until the next command.
			c.raw.allow(metaCap)
		} else {
			pollTimer = time.NewTimer(a.n.cfg.PollInterval)
			poll = pollTimer.C
		}
		select {
		case <-a.ctx.Done():
		case <-c.Closed():
			if idleCmd != nil {
				idleCmd.Close()
			}
			if c.raw.over.Load() {
				return fmt.Errorf("%w: %s sent more data than this gateway accepts while waiting for mail", transports.ErrUnavailable, c.addr)
			}
			return fmt.Errorf("%w: %s closed the connection", transports.ErrUnavailable, c.addr)
		case <-newMail:
		case <-poll:
		case reply = <-a.check:
		}
		if pollTimer != nil {
			pollTimer.Stop()
		}
		if idleCmd != nil {
			if err := c.do("ending IDLE", metaCap, c.timeout, func() error {
				if err := idleCmd.Close(); err != nil {
					return err
				}
				return idleCmd.Wait()
			}); err != nil {
				if reply != nil {
					reply <- checkResult{err: err}
				}
				return err
			}
		}
		if a.ctx.Err() != nil {
			if reply != nil {
				reply <- checkResult{err: transports.ErrNotConnected}
			}
			c.logout()
			return a.ctx.Err()
		}
	}
}

// bookmark returns the last UID delivered from INBOX. A new registration
// starts with the mail that arrives from now on; a changed UIDVALIDITY
// (the server rebuilt the mailbox) starts over from its current end,
// rather than flooding the user with old mail, and says so.
func (a *adapter) bookmark(sel *imap.SelectData) (imap.UID, error) {
	ctx, cancel := context.WithTimeout(a.ctx, a.n.cfg.Timeout)
	defer cancel()
	current := imap.UID(0)
	if sel.UIDNext > 0 {
		current = sel.UIDNext - 1
	}
	v, err := a.acct.Store.Get(ctx, "INBOX")
	if err != nil && !errors.Is(err, transports.ErrNotFound) {
		return 0, fmt.Errorf("%w: reading the mailbox bookmark: %v", transports.ErrUnavailable, err)
	}
	if err == nil {
		validity, uid, ok := parseBookmark(string(v))
		if ok && validity == sel.UIDValidity {
			return uid, nil
		}
		a.sink.Deliver(&transports.NoticeEvent{Text: "Your mail server rebuilt your INBOX (its UIDVALIDITY changed); the mail already in it is not delivered again, new mail is."})
	}
	if err := a.saveBookmark(sel.UIDValidity, current); err != nil {
		return 0, err
	}
	return current, nil
}

func parseBookmark(s string) (validity uint32, uid imap.UID, ok bool) {
	v, u, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	vv, err1 := strconv.ParseUint(v, 10, 32)
	uu, err2 := strconv.ParseUint(u, 10, 32)
	return uint32(vv), imap.UID(uu), err1 == nil && err2 == nil
}

func (a *adapter) saveBookmark(validity uint32, uid imap.UID) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), a.n.cfg.Timeout)
	defer cancel()
	if err := a.acct.Store.Put(ctx, "INBOX", []byte(fmt.Sprintf("%d:%d", validity, uid))); err != nil {
		return fmt.Errorf("%w: saving the mailbox bookmark: %v", transports.ErrUnavailable, err)
	}
	return nil
}

// deliverNew delivers every mail of INBOX after last, in UID order,
// advancing last (and its stored copy) after each mail, delivered or
// skipped. A mail larger than Limits.MaxMessage is announced to the user
// (sender, subject, size) instead of delivered; no more than that limit
// is ever read of a mail, whatever the server announces.
func (a *adapter) deliverNew(c *imapConn, validity uint32, last *imap.UID) (int, error) {
	delivered := 0
	for {
		uids, err := a.searchNew(c, *last)
		if err != nil || len(uids) == 0 {
			return delivered, err
		}
		n, err := a.deliverUIDs(c, validity, last, uids)
		delivered += n
		if err != nil || len(uids) < maxUIDsPerRound {
			return delivered, err
		}
	}
}

// maxUIDsPerRound is how many new mails are taken from one search.
const maxUIDsPerRound = 100

// searchNew returns the smallest UIDs after last in INBOX, at most
// maxUIDsPerRound, in order.
func (a *adapter) searchNew(c *imapConn, last imap.UID) ([]imap.UID, error) {
	crit := &imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: last + 1, Stop: 0}}}}
	var res *imap.SearchData
	if err := c.do("searching INBOX", metaCap, c.timeout, func() (err error) {
		res, err = c.UIDSearch(crit, nil).Wait()
		return err
	}); err != nil {
		return nil, err
	}
	return uidsAfter(res, last, maxUIDsPerRound), nil
}

// uidsAfter returns the smallest max UIDs of a search result that are
// above last, in order. The server's ranges are not expanded beyond
// that: "1:4294967295" costs no more than "1:100" (go-imap's AllUIDs
// would allocate every number, and panics on "*").
func uidsAfter(res *imap.SearchData, last imap.UID, limit int) []imap.UID {
	if res == nil {
		return nil
	}
	set, _ := res.All.(imap.UIDSet)
	var out []imap.UID
	compact := func() {
		slices.Sort(out)
		out = slices.Compact(out)
		if len(out) > limit {
			out = out[:limit]
		}
	}
	for _, r := range set {
		start, stop := r.Start, r.Stop
		if start == 0 || stop == 0 { // "*": the last mail, which "n:*" matches anyway
			start = max(start, stop)
			stop = start
		}
		if start > stop {
			start, stop = stop, start
		}
		if stop <= last {
			continue
		}
		start = max(start, last+1)
		for u, n := start, 0; n < limit; u, n = u+1, n+1 {
			out = append(out, u)
			if u == stop {
				break
			}
		}
		if len(out) >= 2*limit {
			compact()
		}
	}
	compact()
	return out
}

// deliverUIDs delivers the mails uids (in order, all after *last),
// advancing *last (and its stored copy) after each mail, delivered or
// skipped.
func (a *adapter) deliverUIDs(c *imapConn, validity uint32, last *imap.UID, uids []imap.UID) (int, error) {
	markRead := a.acct.Settings["mark_read"] != "false"
	limit := a.n.cfg.Limits.withDefaults().MaxMessage
	delivered := 0
	for _, uid := range uids {
		if a.ctx.Err() != nil {
			return delivered, a.ctx.Err()
		}
		meta, err := a.fetchMeta(c, uid)
		if err != nil {
			return delivered, err
		}
		var connErr error
		switch {
		case meta == nil:
			a.log.Info("a mail vanished before it was fetched", "uid", uid)
		case meta.size > limit:
			a.announceSkipped(meta, meta.size, limit)
		default:
			in, perr, announced, err := a.fetchMail(c, uid, limit)
			switch {
			case errors.Is(err, errTooLarge):
				// The server sent more than it announced and than was
				// asked for: the connection is closed, the mail skipped.
				a.announceSkipped(meta, announced, limit)
				connErr = err
			case err != nil:
				return delivered, err
			case in == nil && perr == nil:
				a.log.Info("a mail vanished before it was fetched", "uid", uid)
			default:
				a.deliverMail(validity, uid, in, perr)
				delivered++
				if markRead {
					if err := c.do("marking a mail as read", metaCap, c.timeout, func() error {
						return c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
					}); err != nil {
						a.log.Warn("marking a mail as read", "err", err)
					}
				}
			}
		}
		*last = uid
		if err := a.saveBookmark(validity, uid); err != nil {
			return delivered, err
		}
		if connErr != nil {
			return delivered, connErr
		}
	}
	return delivered, nil
}

// errTooLarge is returned by fetchBody when the server sent a message
// larger than asked for.
var errTooLarge = fmt.Errorf("%w: the mail server sent a mail larger than it announced", transports.ErrUnavailable)

// mailMeta is what is known of a mail before its body is fetched.
type mailMeta struct {
	uid     imap.UID
	size    int64
	from    string // address, may be empty
	subject string // cleaned, cut
}

// fetchMeta fetches a mail's size and envelope; nil when the server has
// no such mail (any more).
func (a *adapter) fetchMeta(c *imapConn, uid imap.UID) (*mailMeta, error) {
	var msgs []*imapclient.FetchMessageBuffer
	if err := c.do("fetching a mail's size", metaCap, c.timeout, func() (err error) {
		msgs, err = c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, RFC822Size: true, Envelope: true}).Collect()
		return err
	}); err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.UID != uid {
			continue
		}
		meta := &mailMeta{uid: uid, size: m.RFC822Size}
		if e := m.Envelope; e != nil {
			meta.subject = cutUTF8(cleanLine(toUTF8(e.Subject)), 200)
			if len(e.From) > 0 {
				meta.from = cutUTF8(cleanLine(toUTF8(e.From[0].Addr())), 254)
			}
		}
		return meta, nil
	}
	return nil, nil
}

// fetchMail fetches at most limit bytes of a mail (BODY.PEEK[]<0.limit>)
// and parses it as the literal arrives: its attachments go straight to
// spool files, so memory does not grow with them. A server whose literal
// is larger than limit gets its connection closed before any of it is
// read: errTooLarge, with the size it announced. A mail that was read but
// makes no sense is perr (for the user); a literal that could not be
// read, or a fetch that failed after it, is err, and the files of what
// was parsed are released. Both are nil, with in, when the server sent no
// body for the mail.
func (a *adapter) fetchMail(c *imapConn, uid imap.UID, limit int64) (in *Incoming, perr error, announced int64, err error) {
	section := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: limit}}
	d := max(c.timeout, 5*time.Minute) // a big mail on a slow link
	seen := false
	err = c.do("fetching a mail", limit+metaCap, d, func() error {
		cmd := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			for item := msg.Next(); item != nil; item = msg.Next() {
				body, ok := item.(imapclient.FetchItemDataBodySection)
				if !ok || body.Literal == nil || seen {
					continue
				}
				if n := body.Literal.Size(); n > limit {
					announced = n
					// Reading on would make the library drain the
					// literal: close first, so nothing more is read.
					c.raw.Close()
					cmd.Close()
					return errTooLarge
				}
				seen = true
				lit := &countingReader{r: io.LimitReader(body.Literal, limit)}
				in, perr = parse(lit, a.n.cfg.Limits, a.n.spool)
				if lit.n < body.Literal.Size() && !errors.Is(perr, errReading) {
					// go-imap ends a literal the connection cut short
					// as if it were complete: it is not a mail.
					perr = fmt.Errorf("%w: %w", errReading, io.ErrUnexpectedEOF)
				}
				if errors.Is(perr, errReading) {
					if in != nil {
						in.Close()
						in = nil
					}
					// The connection is done for. cmd.Close would read
					// the rest of the literal, racing go-imap's reader,
					// which an ended literal let go on.
					c.raw.Close()
					return perr
				}
			}
		}
		return cmd.Close()
	})
	if err != nil {
		if in != nil {
			in.Close()
		}
		return nil, nil, announced, err
	}
	if seen && in == nil && perr == nil {
		perr = fmt.Errorf("%w: an empty mail", transports.ErrInvalidInput)
	}
	return in, perr, 0, nil
}

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// announceSkipped tells the user about a mail too large to relay.
func (a *adapter) announceSkipped(m *mailMeta, size, limit int64) {
	a.log.Info("mail too large, skipped", "uid", m.uid, "size", size, "limit", limit)
	from := m.from
	if from == "" {
		from = "an unknown sender"
	}
	subject := m.subject
	if subject == "" {
		subject = "(no subject)"
	}
	a.sink.Deliver(&transports.NoticeEvent{Error: true, Text: fmt.Sprintf(
		"A mail from %s, “%s” (%s), is larger than the %s this gateway relays; it was not delivered here and is still in your mailbox.",
		from, subject, humanSize(size), humanSize(limit))})
}

// humanSize writes a byte count for people.
func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// deliverMail hands one mail to the sink, keyed by UIDVALIDITY:UID so that
// a replay after a crash reaches the user once, or tells the user that
// the mail could not be read (perr). The component reads the attachments'
// files before Deliver returns; whatever it did not read is released
// then.
func (a *adapter) deliverMail(validity uint32, uid imap.UID, in *Incoming, perr error) {
	if in != nil {
		defer in.Close()
	}
	if perr != nil || in == nil || in.From == nil {
		err := perr
		if err == nil {
			err = fmt.Errorf("%w: the mail names no sender", transports.ErrInvalidInput)
		}
		a.log.Warn("unreadable mail", "uid", uid, "err", err)
		a.sink.Deliver(&transports.NoticeEvent{Error: true,
			Text: fmt.Sprintf("A mail in your INBOX (UID %d) could not be read: %v", uid, err)})
		return
	}
	a.rememberThread(in)
	ev := &transports.MessageEvent{
		From:     transports.ID(strings.ToLower(in.From.Address)),
		Nick:     in.FromName,
		RemoteID: transports.RemoteID(fmt.Sprintf("%d:%d", validity, uid)),
		Subject:  in.Subject,
		Body:     in.Body,
		Thread:   in.Thread,
		Time:     in.Date,
	}
	for _, at := range in.Attachments {
		ev.Attachments = append(ev.Attachments, attachment(at))
	}
	a.sink.Deliver(ev)
}

// rememberThread stores what a reply to in needs. A store that fails is
// logged: the mail is delivered all the same, and a reply to it is a new
// mail that names the thread.
func (a *adapter) rememberThread(in *Incoming) {
	if in.Thread == "" || in.From == nil || len(in.Thread) > maxStoredID {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), a.n.cfg.Timeout)
	defer cancel()
	a.mu.Lock()
	defer a.mu.Unlock()
	var refs []string
	for _, id := range append(in.References[:len(in.References):len(in.References)], in.MessageID) {
		if len(id) <= maxStoredID {
			refs = append(refs, id)
		}
	}
	lastID := in.MessageID
	if len(lastID) > maxStoredID {
		lastID = ""
	}
	if err := a.threads.put(ctx, threadKey{peer: strings.ToLower(in.From.Address), thread: in.Thread},
		threadInfo{subject: cutUTF8(in.Subject, maxStoredSubject), lastID: lastID, references: trimRefs(refs)}); err != nil {
		a.log.Warn("remembering a thread", "err", err)
	}
}

// maxStoredID and maxStoredSubject bound what a remembered thread keeps
// of a mail's headers, so that a user's maxThreads threads stay small in
// storage whatever the mails carry: an ID longer than a header line may
// be (RFC 5322: 998 characters) is no message ID, and is not kept.
const (
	maxStoredID      = 998
	maxStoredSubject = 1000
)

// trimRefs keeps the root and the most recent IDs of a thread's
// References, at most maxReferences, so a remembered thread stays small.
func trimRefs(refs []string) []string {
	if len(refs) <= maxReferences {
		return refs
	}
	return append([]string{refs[0]}, refs[len(refs)-maxReferences+1:]...)
}

// outgoing builds the mail for msg: from the registered address, and a
// reply (subject, In-Reply-To, References) when the thread is one this
// peer took part in. A thread is remembered per peer, so a sender who
// copies another conversation's References cannot make the user's next
// reply in it carry their subject or message IDs.
func (a *adapter) outgoing(ctx context.Context, msg transports.Message, to *mail.Address) Outgoing {
	o := Outgoing{From: *a.login.address, To: []mail.Address{*to}, Subject: msg.Subject, Body: msg.Body,
		Date: time.Now(), Domain: a.login.address.Address[strings.LastIndexByte(a.login.address.Address, '@')+1:]}
	if msg.Thread != "" {
		a.mu.Lock()
		th, ok, err := a.threads.get(ctx, threadKey{peer: strings.ToLower(to.Address), thread: msg.Thread})
		a.mu.Unlock()
		if err != nil {
			a.log.Warn("reading a thread", "err", err)
		}
		if ok {
			o.InReplyTo, o.References = th.lastID, th.references
			if o.Subject == "" {
				o.Subject = SubjectForReply(th.subject)
			}
		} else {
			o.InReplyTo, o.References = msg.Thread, []string{msg.Thread}
		}
	}
	return o
}

// Send implements transports.Adapter: a mail from the registered address,
// a reply when the message carries a thread the transport knows.
func (a *adapter) Send(ctx context.Context, msg transports.Message) (_ transports.RemoteID, err error) {
	defer a.n.recovered(&err, "sending")
	msg.Files = nil // only SendFiles takes them
	return a.send(ctx, msg)
}

// send sends msg as one mail, its Files as MIME attachments (see
// SendFiles).
func (a *adapter) send(ctx context.Context, msg transports.Message) (_ transports.RemoteID, err error) {
	to, err := mail.ParseAddress(string(msg.To))
	if err != nil {
		return "", fmt.Errorf("%w: %q is not an email address", transports.ErrInvalidInput, msg.To)
	}
	ctx, cancel := context.WithTimeout(ctx, a.n.cfg.Timeout)
	defer cancel()
	o := a.outgoing(ctx, msg, to)
	files, err := openFiles(ctx, msg.Files)
	defer files.close()
	if err != nil {
		return "", err
	}
	o.Attachments = files.atts
	if o.Subject == "" && strings.TrimSpace(o.Body) == "" && len(msg.Files) > 0 {
		o.Subject = filesSubject(msg.Files) // a file sent alone
	}
	m, err := NewMail(o)
	if err != nil {
		return "", err
	}
	id := m.MessageID
	c, err := a.n.dialSMTP(ctx, a.acct.User, a.login)
	if err != nil {
		return "", err
	}
	defer c.Close()
	// The envelope recipient matches the header Compose wrote: an
	// internationalised domain in its ASCII (xn--) form.
	rcpt := to.Address
	if at := strings.LastIndexByte(rcpt, '@'); at >= 0 {
		if d, err := idna.Lookup.ToASCII(rcpt[at+1:]); err == nil {
			rcpt = rcpt[:at+1] + d
		}
	}
	if err := a.submit(ctx, c, rcpt, m); err != nil {
		return "", err
	}
	c.Quit()
	if msg.Thread != "" {
		key := threadKey{peer: strings.ToLower(to.Address), thread: msg.Thread}
		// The mail is sent: remembering its thread must not wait on the
		// caller's deadline, which the send may have used up.
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), a.n.cfg.Timeout)
		defer scancel()
		a.mu.Lock()
		th, _, err := a.threads.get(sctx, key)
		if err == nil {
			th.lastID, th.references = id, trimRefs(append(append([]string(nil), th.references...), id))
			if th.subject == "" {
				th.subject = o.Subject
			}
			err = a.threads.put(sctx, key, th)
		}
		a.mu.Unlock()
		if err != nil {
			a.log.Warn("remembering a sent mail's thread", "err", err)
		}
	}
	return transports.RemoteID(id), nil
}
