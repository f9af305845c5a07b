package email

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/switchboard-im/switchboard/egress"
)

// Config configures the email network. The fields with a toml tag (and
// Limits.MaxBody, max_body_bytes) are the keys of the configuration
// file's [email] table, which is decoded into this struct strictly (a key
// not here is an error); the others are set by the program (the
// process's shared egress policy, CA roots, logger, attachment limits).
type Config struct {
	// DefaultIMAP and DefaultSMTP (host:port) are used when a user leaves
	// the servers empty; otherwise they are derived from the address
	// (imap.<domain>, smtp.<domain>).
	DefaultIMAP string `toml:"default_imap_server"`
	DefaultSMTP string `toml:"default_smtp_server"`
	// AllowPlaintext allows security "plain" towards servers users name;
	// without it, "plain" is allowed only towards DefaultIMAP and
	// DefaultSMTP. Those servers are still subject to Egress.
	AllowPlaintext bool `toml:"allow_plaintext"`
	// RootCAs verifies servers' certificates; nil means the system roots.
	// Verification is never turned off.
	RootCAs *x509.CertPool `toml:"-"`
	// Limits bound what is read of a mail. It is embedded so that its
	// max_body_bytes key sits in the [email] table itself.
	Limits
	// TempDir is where the attachments of incoming mail wait, decoded,
	// between the fetch and their upload to the user's server (at most
	// max_attachments files of max_attachment_bytes per mail being
	// delivered); empty means the system's (os.TempDir). Choose a disk
	// rather than a RAM-backed /tmp when files are large. Files there
	// named switchboard-mail-* are removed at start.
	TempDir string `toml:"temp_dir"`
	// PollInterval is how often a mailbox without IDLE is checked.
	PollInterval time.Duration `toml:"-"`
	// Timeout bounds connecting, logging in and each command.
	Timeout time.Duration `toml:"-"`
	Logger  *slog.Logger  `toml:"-"`

	// Egress checks the addresses of mail servers named by users (not
	// DefaultIMAP/DefaultSMTP, which the admin configured); nil allows
	// public addresses only.
	Egress *egress.Policy `toml:"-"`
	// Budget counts connections: process-wide and per user per minute.
	// nil means no limit.
	Budget *egress.Budget `toml:"-"`
}

// Check reports each problem of the keys read from the file: problem is
// called with the key, relative to the [email] table, and what is wrong.
// It does no I/O and looks at no other table.
func (c *Config) Check(problem func(key, msg string)) {
	for _, k := range []struct{ key, v string }{
		{"default_imap_server", c.DefaultIMAP},
		{"default_smtp_server", c.DefaultSMTP},
	} {
		if _, port, err := net.SplitHostPort(k.v); k.v != "" && (err != nil || port == "") {
			problem(k.key, fmt.Sprintf("%q is not host:port", k.v))
		}
	}
	if c.TempDir != "" && !filepath.IsAbs(c.TempDir) {
		problem("temp_dir", fmt.Sprintf("%q is not an absolute path", c.TempDir))
	}
	if c.MaxBody < 0 {
		problem("max_body_bytes", "must not be negative")
	}
}
