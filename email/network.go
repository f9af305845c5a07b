// Package email bridges to email: a registered user's mailbox becomes a set
// of XMPP contacts. New mail in INBOX arrives over IMAP (IDLE, or polling
// where the server lacks it) as a chat message from the sender's address;
// what the user writes to an address is sent over SMTP submission. The
// transport remembers, per mailbox, the UIDVALIDITY and the last UID it
// delivered, so a restart neither loses nor repeats a mail.
//
// Every mail server is untrusted: users name them. A server the user
// named is dialled through the egress policy (public addresses only,
// checked at dial time), plaintext only towards the admin's default
// servers unless allowed, and each connection holds a lease of the
// connection budget. The greeting is read before the password is sent;
// failures reach the user as fixed phrases, never the server's bytes;
// every command has a deadline and a byte cap; a mail is fetched only up
// to Limits.MaxMessage, and one larger is announced instead.
//
// The package knows nothing of XMPP: it implements the transports contract.
package email

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// Security is how a connection to a mail server is protected.
const (
	SecurityTLS      = "tls"      // implicit TLS (IMAPS 993, submissions 465)
	SecurityStartTLS = "starttls" // STARTTLS (IMAP 143, submission 587)
	SecurityPlain    = "plain"    // none: the admin's default servers only, unless allowed
)

// Network is the email network. It implements transports.Network and the
// optional SettingsProvider; its adapters implement CommandRunner.
type Network struct {
	cfg   Config
	log   *slog.Logger
	spool *spool // attachments of incoming mail, on their way to the user
	// dialer replaces every dial in tests that script a server over an
	// in-memory pipe.
	dialer func(ctx context.Context, addr string) (net.Conn, error)
}

var (
	_ transports.Network          = (*Network)(nil)
	_ transports.SettingsProvider = (*Network)(nil)
)

// New returns the email network configured by cfg. It connects nowhere;
// it removes the attachment files an earlier run left (sweepSpool).
func New(cfg Config) *Network {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	n := &Network{cfg: cfg, log: cfg.Logger.With("network", "email"), spool: newSpool(cfg.TempDir)}
	n.sweepSpool()
	return n
}

// sweepSpool creates the configured spool directory if need be and
// removes what an earlier run left in the spool (see spool). A directory
// that cannot be read is logged: attachments then fail one by one, and
// the user is told which.
func (n *Network) sweepSpool() {
	if n.cfg.TempDir != "" {
		if err := os.MkdirAll(n.cfg.TempDir, 0o700); err != nil {
			n.log.Warn("email: the attachment directory cannot be created", "dir", n.cfg.TempDir, "err", err)
			return
		}
	}
	removed, err := n.spool.sweep()
	switch {
	case err != nil:
		n.log.Warn("email: the attachment directory cannot be read", "dir", n.spool.dir, "err", err)
	case removed > 0:
		n.log.Info("email: removed attachment files left by an earlier run", "dir", n.spool.dir, "files", removed)
	}
}

// Name implements transports.Network.
func (n *Network) Name() string { return "email" }

// Identity implements transports.Network.
func (n *Network) Identity() transports.Identity {
	return transports.Identity{Category: "gateway", Type: "smtp", Name: "Email gateway"}
}

// LoginFields implements transports.Network.
func (n *Network) LoginFields() []transports.Field {
	return []transports.Field{
		{Name: "address", Label: "Email address", Kind: transports.FieldText, Required: true, Legacy: "username", MaxLen: 254},
		{Name: "password", Label: "Password", Kind: transports.FieldSecret, Required: true, Legacy: "password", MaxLen: 1024},
		{Name: "imap_server", Label: "IMAP server (host:port)", Kind: transports.FieldText, MaxLen: 260,
			Desc: "Empty: " + n.defaultDesc(n.cfg.DefaultIMAP, "imap")},
		{Name: "smtp_server", Label: "SMTP server (host:port)", Kind: transports.FieldText, MaxLen: 260,
			Desc: "Empty: " + n.defaultDesc(n.cfg.DefaultSMTP, "smtp")},
		{Name: "security", Label: "Connection security", Kind: transports.FieldList, Default: SecurityTLS,
			Options: []transports.Option{
				{Label: "TLS", Value: SecurityTLS},
				{Label: "STARTTLS", Value: SecurityStartTLS},
				{Label: n.plainLabel(), Value: SecurityPlain},
			}},
	}
}

// plainLabel describes security "plain" as this gateway allows it.
func (n *Network) plainLabel() string {
	if n.cfg.AllowPlaintext {
		return "None (unencrypted)"
	}
	return "None (the gateway's default servers only)"
}

func (n *Network) defaultDesc(def, prefix string) string {
	if def != "" {
		return def
	}
	return prefix + ".<your domain>"
}

// SettingsFields implements transports.SettingsProvider.
func (n *Network) SettingsFields() []transports.Field {
	return []transports.Field{{Name: "mark_read", Label: "Mark delivered mail as read on the server",
		Kind: transports.FieldBool, Default: "true"}}
}

// login is a validated registration.
type login struct {
	address  *mail.Address
	password string
	imap     string // host:port
	smtp     string
	security string
	// imapAdmin and smtpAdmin are true when the server is the admin's
	// default, dialled without the egress policy.
	imapAdmin, smtpAdmin bool
}

func (n *Network) login(creds transports.Credentials) (login, error) {
	var l login
	addr, err := mail.ParseAddress(strings.TrimSpace(creds["address"]))
	if err != nil || addr.Name != "" {
		return l, fmt.Errorf("%w: %q is not an email address", transports.ErrInvalidInput, creds["address"])
	}
	l.address, l.password = addr, creds["password"]
	l.security = strings.ToLower(strings.TrimSpace(creds["security"]))
	if l.security == "" {
		l.security = SecurityTLS
	}
	domain := addr.Address[strings.LastIndexByte(addr.Address, '@')+1:]
	ports := map[string][2]string{SecurityTLS: {"993", "465"}, SecurityStartTLS: {"143", "587"}, SecurityPlain: {"143", "587"}}
	p, ok := ports[l.security]
	if !ok {
		return l, fmt.Errorf("%w: security must be tls, starttls or plain", transports.ErrInvalidInput)
	}
	l.imap = server(creds["imap_server"], n.cfg.DefaultIMAP, "imap."+domain, p[0])
	l.smtp = server(creds["smtp_server"], n.cfg.DefaultSMTP, "smtp."+domain, p[1])
	l.imapAdmin = isDefault(l.imap, n.cfg.DefaultIMAP, p[0])
	l.smtpAdmin = isDefault(l.smtp, n.cfg.DefaultSMTP, p[1])
	for _, s := range []struct {
		addr  string
		admin bool
	}{{l.imap, l.imapAdmin}, {l.smtp, l.smtpAdmin}} {
		host, port, err := net.SplitHostPort(s.addr)
		if err != nil || host == "" {
			return l, fmt.Errorf("%w: %q is not host:port", transports.ErrInvalidInput, s.addr)
		}
		if pn, err := strconv.Atoi(port); err != nil || pn < 1 || pn > 65535 {
			return l, fmt.Errorf("%w: %q does not end with a port number", transports.ErrInvalidInput, s.addr)
		}
		if l.security == SecurityPlain && !n.cfg.AllowPlaintext && !s.admin {
			return l, fmt.Errorf("%w: security \"plain\" would send your password unencrypted to %s; this gateway allows it only towards its own default mail servers ([email] allow_plaintext is off); use tls or starttls", transports.ErrPolicy, s.addr)
		}
	}
	return l, nil
}

// server picks the server a user gave, else the configured default, else
// one derived from the address, adding the port when missing.
func server(given, def, derived, port string) string {
	s := strings.TrimSpace(given)
	if s == "" {
		s = def
	}
	if s == "" {
		s = derived
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		s = net.JoinHostPort(s, port)
	}
	return s
}

// isDefault reports whether addr is the admin's default server def (with
// port added as server does), whether the user left the field empty or
// typed the same server.
func isDefault(addr, def, port string) bool {
	if strings.TrimSpace(def) == "" {
		return false
	}
	return strings.EqualFold(addr, server("", def, "", port))
}

func (n *Network) tlsConfig(hostport string) *tls.Config {
	host, _, _ := net.SplitHostPort(hostport)
	return &tls.Config{ServerName: host, RootCAs: n.cfg.RootCAs, MinVersion: tls.VersionTLS12}
}

// Validate implements transports.Network: an IMAP login and an SMTP
// EHLO+AUTH, then both are closed.
func (n *Network) Validate(ctx context.Context, creds transports.Credentials) (err error) {
	defer n.recovered(&err, "checking the registration")
	l, err := n.login(creds)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	// Validate has no XMPP user: the budget counts the mail address.
	user := "validate:" + strings.ToLower(l.address.Address)
	c, err := n.dialIMAP(ctx, ctx, user, l, nil)
	if err != nil {
		return err
	}
	c.logout()
	sc, err := n.dialSMTP(ctx, user, l)
	if err != nil {
		return err
	}
	sc.Quit()
	sc.Close()
	return nil
}

// Connect implements transports.Network: it logs in to IMAP (so a refused
// password is reported at once) and starts watching INBOX.
func (n *Network) Connect(ctx context.Context, acct transports.Account, sink transports.Sink) (_ transports.Adapter, err error) {
	defer n.recovered(&err, "connecting")
	l, err := n.login(acct.Credentials)
	if err != nil {
		return nil, err
	}
	if acct.Store == nil {
		return nil, fmt.Errorf("%w: no store for the mailbox bookmark", transports.ErrUnavailable)
	}
	a := newAdapter(n, acct, l, sink)
	if err := a.start(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// recovered turns a panic in a call that handled a server's input (in
// go-imap, go-smtp or this package) into an error, logged with its stack,
// so that one server cannot take the process down.
func (n *Network) recovered(err *error, what string) {
	if v := recover(); v != nil {
		n.log.Error("email: panic", "while", what, "panic", v, "stack", string(debug.Stack()))
		*err = fmt.Errorf("%w: internal error while %s", transports.ErrUnavailable, what)
	}
}
