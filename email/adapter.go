package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
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
	threads map[string]threadInfo // by Thread: what a reply needs

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
		check: make(chan chan checkResult), threads: make(map[string]threadInfo)}
}

// start logs in once (reporting a refused password at once) and starts
// the watcher with that connection.
func (a *adapter) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.n.cfg.Timeout)
	defer cancel()
	newMail := make(chan struct{}, 1)
	c, err := a.n.dialIMAP(ctx, a.login, newMail)
	if err != nil {
		return err
	}
	// Take the bookmark now: for a new registration, mail that arrives
	// once Connect returned is new.
	sel, last, err := a.selectInbox(c)
	if err != nil {
		c.Close()
		return err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.run(c, sel, last, newMail)
	}()
	return nil
}

// selectInbox selects INBOX and returns it with the last UID delivered.
func (a *adapter) selectInbox(c *imapclient.Client) (*imap.SelectData, imap.UID, error) {
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		return nil, 0, imapError("selecting INBOX", err)
	}
	last, err := a.bookmark(sel)
	return sel, last, err
}

// Close implements transports.Adapter.
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

// run watches INBOX until the adapter closes, reconnecting with backoff.
func (a *adapter) run(c *imapclient.Client, sel *imap.SelectData, last imap.UID, newMail chan struct{}) {
	attempt := 0
	for {
		err := a.watch(c, sel, last, newMail)
		c.Close()
		if a.ctx.Err() != nil {
			return
		}
		if errors.Is(err, transports.ErrBadCredentials) {
			a.End(err)
			return
		}
		for {
			delay := a.n.cfg.Backoff.Delay(attempt)
			attempt++
			a.log.Warn("mailbox connection lost", "err", err, "retry_in", delay)
			a.sink.Deliver(&transports.StateEvent{Status: transports.Status{
				State: transports.StateTransientDisconnect, Text: err.Error(), Retry: time.Now().Add(delay)}})
			t := time.NewTimer(delay)
			select {
			case <-a.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(a.ctx, a.n.cfg.Timeout)
			c, err = a.n.dialIMAP(ctx, a.login, newMail)
			cancel()
			if err == nil {
				if sel, last, err = a.selectInbox(c); err == nil {
					break
				}
				c.Close()
			}
			if errors.Is(err, transports.ErrBadCredentials) {
				a.End(err)
				return
			}
		}
		attempt = 0
		a.sink.Deliver(&transports.StateEvent{Status: transports.Status{State: transports.StateConnected}})
	}
}

// watch delivers new mail of the selected INBOX after last, then waits (IDLE, or a poll timer) for
// more, until the connection fails or the adapter closes.
func (a *adapter) watch(c *imapclient.Client, sel *imap.SelectData, last imap.UID, newMail chan struct{}) error {
	idle := c.Caps().Has(imap.CapIdle)
	var reply chan checkResult
	for {
		n, err := a.deliverNew(c, sel.UIDValidity, &last)
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
			if idleCmd, err = c.Idle(); err != nil {
				return imapError("IDLE", err)
			}
		} else {
			pollTimer = time.NewTimer(a.n.cfg.PollInterval)
			poll = pollTimer.C
		}
		select {
		case <-a.ctx.Done():
		case <-c.Closed():
			return fmt.Errorf("%w: %s closed the connection", transports.ErrUnavailable, a.login.imap)
		case <-newMail:
		case <-poll:
		case reply = <-a.check:
		}
		if pollTimer != nil {
			pollTimer.Stop()
		}
		if idleCmd != nil {
			if err := idleCmd.Close(); err != nil {
				return imapError("ending IDLE", err)
			}
		}
		if a.ctx.Err() != nil {
			if reply != nil {
				reply <- checkResult{err: transports.ErrNotConnected}
			}
			c.Logout().Wait()
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
// advancing last (and its stored copy) after each delivery.
func (a *adapter) deliverNew(c *imapclient.Client, validity uint32, last *imap.UID) (int, error) {
	crit := &imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: *last + 1, Stop: 0}}}}
	res, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return 0, imapError("searching INBOX", err)
	}
	var uids []imap.UID
	for _, u := range res.AllUIDs() {
		if u > *last { // "n:*" always matches the last mail, even below n
			uids = append(uids, u)
		}
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	markRead := a.acct.Settings["mark_read"] != "false"
	delivered := 0
	section := &imap.FetchItemBodySection{Peek: true}
	for _, uid := range uids {
		if a.ctx.Err() != nil {
			return delivered, a.ctx.Err()
		}
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			return delivered, imapError("fetching a mail", err)
		}
		if len(msgs) == 1 {
			raw := msgs[0].FindBodySection(section)
			a.deliverMail(validity, uid, raw)
			delivered++
			if markRead {
				if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
					a.log.Warn("marking a mail as read", "err", err)
				}
			}
		}
		*last = uid
		if err := a.saveBookmark(validity, uid); err != nil {
			return delivered, err
		}
	}
	return delivered, nil
}

// deliverMail hands one mail to the sink, keyed by UIDVALIDITY:UID so that
// a replay after a crash reaches the user once.
func (a *adapter) deliverMail(validity uint32, uid imap.UID, raw []byte) {
	in, err := Parse(bytes.NewReader(raw), a.n.cfg.Limits)
	if err != nil || in == nil || in.From == nil {
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
		ev.Attachments = append(ev.Attachments, transports.Attachment{Name: at.Name, Type: at.ContentType, Size: at.Size, Data: at.Data})
	}
	a.sink.Deliver(ev)
}

func (a *adapter) rememberThread(in *Incoming) {
	if in.Thread == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	refs := append(append([]string(nil), in.References...), in.MessageID)
	a.threads[in.Thread] = threadInfo{subject: in.Subject, lastID: in.MessageID, references: refs}
}

// Send implements transports.Adapter: a mail from the registered address,
// a reply when the message carries a thread the transport knows.
func (a *adapter) Send(ctx context.Context, msg transports.Message) (transports.RemoteID, error) {
	to, err := mail.ParseAddress(string(msg.To))
	if err != nil {
		return "", fmt.Errorf("%w: %q is not an email address", transports.ErrInvalidInput, msg.To)
	}
	o := Outgoing{From: *a.login.address, To: []mail.Address{*to}, Subject: msg.Subject, Body: msg.Body,
		Date: time.Now(), Domain: a.login.address.Address[strings.LastIndexByte(a.login.address.Address, '@')+1:]}
	if msg.Thread != "" {
		a.mu.Lock()
		th, ok := a.threads[msg.Thread]
		a.mu.Unlock()
		if ok {
			o.InReplyTo, o.References = th.lastID, th.references
			if o.Subject == "" {
				o.Subject = SubjectForReply(th.subject)
			}
		} else {
			o.InReplyTo, o.References = msg.Thread, []string{msg.Thread}
		}
	}
	raw, id, err := Compose(o)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, a.n.cfg.Timeout)
	defer cancel()
	c, err := a.n.dialSMTP(ctx, a.login)
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
	if err := c.SendMail(a.login.address.Address, []string{rcpt}, bytes.NewReader(raw)); err != nil {
		return "", smtpError("sending", err)
	}
	c.Quit()
	if msg.Thread != "" {
		a.mu.Lock()
		th := a.threads[msg.Thread]
		th.lastID, th.references = id, append(th.references, id)
		if th.subject == "" {
			th.subject = o.Subject
		}
		a.threads[msg.Thread] = th
		a.mu.Unlock()
	}
	return transports.RemoteID(id), nil
}

// dialIMAP connects and logs in. newMail, if not nil, is signalled when the
// selected mailbox grows.
func (n *Network) dialIMAP(ctx context.Context, l login, newMail chan struct{}) (*imapclient.Client, error) {
	opts := &imapclient.Options{TLSConfig: n.tlsConfig(l.imap)}
	if newMail != nil {
		opts.UnilateralDataHandler = &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case newMail <- struct{}{}:
					default:
					}
				}
			},
		}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", l.imap)
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to %s: %v", transports.ErrUnavailable, l.imap, err)
	}
	var c *imapclient.Client
	switch l.security {
	case SecurityTLS:
		tc := tls.Client(conn, opts.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: TLS with %s: %v", transports.ErrUnavailable, l.imap, err)
		}
		c = imapclient.New(tc, opts)
	case SecurityStartTLS:
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		c, err = imapclient.NewStartTLS(conn, opts)
		stop()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: STARTTLS with %s: %v", transports.ErrUnavailable, l.imap, err)
		}
	default:
		c = imapclient.New(conn, opts)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err = c.Login(l.address.Address, l.password).Wait()
	stop()
	if err != nil {
		c.Close()
		var ie *imap.Error
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("%w: %s", transports.ErrBadCredentials, ie.Text)
		}
		return nil, imapError("login", err)
	}
	return c, nil
}

// dialSMTP connects to the submission server and authenticates.
func (n *Network) dialSMTP(ctx context.Context, l login) (*smtp.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", l.smtp)
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to %s: %v", transports.ErrUnavailable, l.smtp, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *smtp.Client
	switch l.security {
	case SecurityTLS:
		c = smtp.NewClient(tls.Client(conn, n.tlsConfig(l.smtp)))
	case SecurityStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, n.tlsConfig(l.smtp)); err != nil {
			conn.Close()
			return nil, smtpError("STARTTLS", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	if err := c.Hello("localhost"); err != nil {
		c.Close()
		return nil, smtpError("EHLO", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", l.address.Address, l.password)); err != nil {
		c.Close()
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code == 535 {
			return nil, fmt.Errorf("%w: %s", transports.ErrBadCredentials, se.Message)
		}
		return nil, smtpError("AUTH", err)
	}
	return c, nil
}

// imapError classifies an IMAP failure.
func imapError(what string, err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return fmt.Errorf("%w: %s: %s", transports.ErrUnavailable, what, ie.Text)
	}
	return fmt.Errorf("%w: %s: %v", transports.ErrUnavailable, what, err)
}

// smtpError classifies an SMTP failure: a permanent refusal (5xx) is the
// server's word on the message, a temporary one (4xx) a retry later.
func smtpError(what string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		switch {
		case se.Code == 550 || se.Code == 551 || se.Code == 553:
			return fmt.Errorf("%w: %s refused: %d %s", transports.ErrNotFound, what, se.Code, se.Message)
		case se.Code >= 500:
			return fmt.Errorf("%w: %s refused: %d %s", transports.ErrForbidden, what, se.Code, se.Message)
		}
		return fmt.Errorf("%w: %s: %d %s", transports.ErrUnavailable, what, se.Code, se.Message)
	}
	return fmt.Errorf("%w: %s: %v", transports.ErrUnavailable, what, err)
}
