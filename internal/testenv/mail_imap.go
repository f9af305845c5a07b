package testenv

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// FetchedMail is one message of a mailbox, as IMAP returns it.
type FetchedMail struct {
	UID   uint32
	Flags []string // e.g. `\Seen`; reading with Fetch sets none
	Raw   []byte   // the whole message, header and body, as stored
}

// mailWait bounds how long WaitMail waits for messages.
const mailWait = 15 * time.Second

// DialIMAP logs address in over IMAPS, trusting the server's CA. The
// caller closes the client.
func (m *MailServer) DialIMAP(address, password string) (*imapclient.Client, error) {
	c, err := imapclient.DialTLS(m.imapsAddr, &imapclient.Options{
		TLSConfig: m.TLSConfig(),
		Dialer:    &net.Dialer{Timeout: 5 * time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("imap: %w", err)
	}
	if err := c.Login(address, password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap LOGIN %s: %w", address, err)
	}
	return c, nil
}

// FetchMail returns every message of mailbox (e.g. "INBOX") of the account
// address, in UID order, read-only: it changes no flags.
func (m *MailServer) FetchMail(address, password, mailbox string) ([]FetchedMail, error) {
	c, err := m.DialIMAP(address, password)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("imap EXAMINE %s as %s: %w", mailbox, address, err)
	}
	var mails []FetchedMail
	if sel.NumMessages > 0 {
		whole := &imap.FetchItemBodySection{Peek: true}
		var all imap.SeqSet
		all.AddRange(1, sel.NumMessages)
		msgs, err := c.Fetch(all, &imap.FetchOptions{
			UID:         true,
			Flags:       true,
			BodySection: []*imap.FetchItemBodySection{whole},
		}).Collect()
		if err != nil {
			return nil, fmt.Errorf("imap FETCH %s of %s: %w", mailbox, address, err)
		}
		for _, msg := range msgs {
			f := FetchedMail{UID: uint32(msg.UID), Raw: msg.FindBodySection(whole)}
			for _, fl := range msg.Flags {
				f.Flags = append(f.Flags, string(fl))
			}
			mails = append(mails, f)
		}
	}
	if err := c.Logout().Wait(); err != nil {
		return nil, fmt.Errorf("imap LOGOUT: %w", err)
	}
	return mails, nil
}

// Fetch is FetchMail that fails the test on error.
func (m *MailServer) Fetch(t testing.TB, address, password, mailbox string) []FetchedMail {
	t.Helper()
	mails, err := m.FetchMail(address, password, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	return mails
}

// WaitMail polls mailbox until it holds at least n messages, and returns
// them all; it fails the test after 15 seconds. Mail sent through
// submission reaches the mailbox a moment after Send returned.
func (m *MailServer) WaitMail(t testing.TB, address, password, mailbox string, n int) []FetchedMail {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for {
		mails, err := m.FetchMail(address, password, mailbox)
		if err == nil && len(mails) >= n {
			return mails
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("waiting for %d messages in %s of %s: %v", n, mailbox, address, err)
			}
			t.Fatalf("waiting for %d messages in %s of %s: %d after %s", n, mailbox, address, len(mails), mailWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
