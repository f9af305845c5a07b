package testenv

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

//go:embed dovecot.conf.in
var dovecotConfig string

//go:embed smtpd.conf.in
var smtpdConfig string

// mailBinaries are what a MailServer runs: Dovecot's master and the
// protocol servers of the three Debian packages it needs (not on PATH, so
// by absolute path), OpenSMTPD, and unshare (util-linux) that gives
// OpenSMTPD a private /run and /var/spool.
var mailBinaries = []string{
	"dovecot", dovecotLib + "imap", dovecotLib + "lmtp", dovecotLib + "submission",
	"smtpd", "unshare",
}

const dovecotLib = "/usr/lib/dovecot/"

// mailUser is the system user that owns every mailbox: Dovecot refuses to
// deliver as root.
const mailUser = "vmail"

// MailOptions configure a MailServer.
type MailOptions struct {
	// Users maps each address (local@localhost) to its password.
	Users map[string]string
	// NoIdle hides IMAP IDLE from the capabilities, as some servers do,
	// so clients must poll.
	NoIdle bool
}

// MailServer is a running mail system for the domain "localhost", the way
// a real deployment chains it: a client submits to Dovecot submission
// (STARTTLS or implicit TLS, AUTH PLAIN/LOGIN against the users' passwords),
// which relays to OpenSMTPD, which delivers over LMTP into Dovecot, whose
// IMAP server (STARTTLS or implicit TLS, IDLE) serves the mailboxes.
//
// Everything lives in Dir: configuration, the users file, Maildirs,
// Dovecot's base_dir and state_dir, logs. OpenSMTPD has its spool and
// control socket compiled in (/var/spool/smtpd, /run/smtpd.sock); it runs in
// a private mount namespace where Dir's smtpd-spool and smtpd-run are
// mounted over /var/spool and /run, so those stay in Dir too and several
// servers run side by side. Where mount namespaces are refused (a container
// without CAP_SYS_ADMIN), OpenSMTPD uses the system paths instead, and only
// one MailServer can run on the machine at a time.
//
// The TLS listeners present a certificate for localhost and 127.0.0.1
// signed by a CA made for this server: clients trust CAPEM or CAFile (see
// TLSConfig), they never skip verification.
//
// Launching needs root: mailboxes belong to the system user vmail, created
// when missing.
type MailServer struct {
	Domain string // "localhost"
	Dir    string // its temporary directory, removed by Close
	// CAPEM is the PEM certificate of the CA that signed the servers'
	// certificate, and CAFile a file holding it.
	CAPEM  []byte
	CAFile string

	imapAddr, imapsAddr, lmtpAddr, subAddr, subsAddr, relayAddr string

	uid, gid  int
	namespace bool // OpenSMTPD runs in its own mount namespace

	usersMu    sync.Mutex
	users      map[string]string
	usersMtime time.Time // of the users file

	mu      sync.Mutex
	dovecot *daemon
	smtpd   *daemon
}

// LaunchMailServer starts Dovecot and OpenSMTPD in a new temporary
// directory with the given users, and waits until every listener accepts
// connections. Close stops them and removes the directory.
func LaunchMailServer(opts MailOptions) (*MailServer, error) {
	if err := lookPaths(mailBinaries...); err != nil {
		return nil, err
	}
	uid, gid, err := ensureMailUser()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	dir, err := makeTempDir("mail")
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	m := &MailServer{
		Domain:    "localhost",
		Dir:       dir,
		CAFile:    filepath.Join(dir, "ca.pem"),
		imapAddr:  addr(0),
		imapsAddr: addr(1),
		lmtpAddr:  addr(2),
		subAddr:   addr(3),
		subsAddr:  addr(4),
		relayAddr: addr(5),
		uid:       uid,
		gid:       gid,
		namespace: mountNamespaces(),
		users:     map[string]string{},
	}
	if err := m.setUp(opts, ports); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := m.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return m, nil
}

// setUp writes the certificates, configurations and users file, and makes
// the directories the servers need.
func (m *MailServer) setUp(opts MailOptions, ports []int) error {
	ca, err := writeTestCertificates(m.Dir)
	if err != nil {
		return fmt.Errorf("making the TLS certificates: %w", err)
	}
	m.CAPEM = ca
	mail := filepath.Join(m.Dir, "mail")
	for _, d := range []string{mail, filepath.Join(m.Dir, "smtpd-spool"), filepath.Join(m.Dir, "smtpd-run")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chown(mail, m.uid, m.gid); err != nil {
		return fmt.Errorf("giving %s to %s: %w", mail, mailUser, err)
	}
	r := strings.NewReplacer(
		"@DIR@", m.Dir,
		"@IMAP_PORT@", strconv.Itoa(ports[0]),
		"@IMAPS_PORT@", strconv.Itoa(ports[1]),
		"@LMTP_PORT@", strconv.Itoa(ports[2]),
		"@SUBMISSION_PORT@", strconv.Itoa(ports[3]),
		"@SUBMISSIONS_PORT@", strconv.Itoa(ports[4]),
		"@RELAY_PORT@", strconv.Itoa(ports[5]),
	)
	conf := r.Replace(dovecotConfig)
	if opts.NoIdle {
		conf += "\nimap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS\n"
	}
	if err := os.WriteFile(filepath.Join(m.Dir, "dovecot.conf"), []byte(conf), 0o644); err != nil {
		return fmt.Errorf("writing the Dovecot config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(m.Dir, "smtpd.conf"), []byte(r.Replace(smtpdConfig)), 0o644); err != nil {
		return fmt.Errorf("writing the OpenSMTPD config: %w", err)
	}
	m.usersMu.Lock()
	defer m.usersMu.Unlock()
	for a, p := range opts.Users {
		if err := m.checkUser(a, p); err != nil {
			return err
		}
		m.users[a] = p
	}
	return m.writeUsers()
}

// ensureMailUser returns the IDs of the system user vmail, creating it
// when it is missing.
func ensureMailUser() (uid, gid int, err error) {
	u, err := user.Lookup(mailUser)
	if err != nil {
		out, aerr := exec.Command("useradd", "-r", "-M", "-s", "/usr/sbin/nologin", mailUser).CombinedOutput()
		// Another test process may have created it meanwhile.
		if u, err = user.Lookup(mailUser); err != nil {
			return 0, 0, fmt.Errorf("no system user %s for the mailboxes, and useradd (needs root) failed: %v: %s", mailUser, aerr, out)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

var (
	mountNSOnce sync.Once
	mountNSOK   bool
)

// mountNamespaces reports whether this process may run a program in a
// private mount namespace with bind mounts.
func mountNamespaces() bool {
	mountNSOnce.Do(func() {
		mountNSOK = exec.Command("unshare", "--mount", "--propagation", "private",
			"mount", "--bind", os.TempDir(), os.TempDir()).Run() == nil
	})
	return mountNSOK
}

func (m *MailServer) checkUser(address, password string) error {
	local, domain, ok := strings.Cut(address, "@")
	if !ok || local == "" || domain != m.Domain || strings.ContainsAny(address, ":/\n\r\t ") {
		return fmt.Errorf("testenv: mail user %q: want local@%s, without ':', '/' or spaces", address, m.Domain)
	}
	if password == "" || strings.ContainsAny(password, ":\n\r") {
		return fmt.Errorf("testenv: mail user %s: the password must be non-empty and without ':' or line breaks", address)
	}
	return nil
}

// writeUsers replaces Dovecot's passwd-file atomically; Dovecot re-reads it
// when it changed. The caller holds usersMu.
func (m *MailServer) writeUsers() error {
	addrs := make([]string, 0, len(m.users))
	for a := range m.users {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	var b strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&b, "%s:{PLAIN}%s:%d:%d::%s\n", a, m.users[a], m.uid, m.gid, filepath.Join(m.Dir, "mail", a))
	}
	tmp := filepath.Join(m.Dir, "users.tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the mail users: %w", err)
	}
	// Dovecot notices a change by the file's size and mtime in seconds:
	// every version gets a later second than the one before.
	mtime := time.Now().Truncate(time.Second)
	if !mtime.After(m.usersMtime) {
		mtime = m.usersMtime.Add(time.Second)
	}
	m.usersMtime = mtime
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		return fmt.Errorf("writing the mail users: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(m.Dir, "users")); err != nil {
		return fmt.Errorf("writing the mail users: %w", err)
	}
	return nil
}

// AddUser adds an account (local@localhost), or changes its password.
// While the server runs, it returns once Dovecot, which re-reads its users
// file at most once a second, accepts the new password over IMAP.
func (m *MailServer) AddUser(address, password string) error {
	if err := m.checkUser(address, password); err != nil {
		return err
	}
	m.usersMu.Lock()
	m.users[address] = password
	err := m.writeUsers()
	m.usersMu.Unlock()
	if err != nil {
		return err
	}
	m.mu.Lock()
	running := m.dovecot != nil
	m.mu.Unlock()
	if !running {
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := m.DialIMAP(address, password)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testenv: Dovecot does not accept the new user %s: %w", address, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// IMAPAddr is the IMAP listener with implicit TLS (IMAPS), host:port.
func (m *MailServer) IMAPAddr() string { return m.imapsAddr }

// IMAPStartTLSAddr is the IMAP listener that starts in plaintext and
// offers STARTTLS, host:port.
func (m *MailServer) IMAPStartTLSAddr() string { return m.imapAddr }

// SubmissionAddr is the submission listener (STARTTLS, then AUTH), host:port.
func (m *MailServer) SubmissionAddr() string { return m.subAddr }

// SubmissionTLSAddr is the submission listener with implicit TLS (as on
// port 465), host:port.
func (m *MailServer) SubmissionTLSAddr() string { return m.subsAddr }

// LMTPAddr is Dovecot's plaintext LMTP listener, host:port, which delivers
// into the mailboxes (see Deliver).
func (m *MailServer) LMTPAddr() string { return m.lmtpAddr }

// TLSConfig is a client configuration that trusts only the server's CA,
// for server name "localhost".
func (m *MailServer) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// Start starts a stopped server again on the same ports, with the mailboxes
// and OpenSMTPD's queue kept, and waits until every listener accepts
// connections.
func (m *MailServer) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dovecot != nil {
		return errors.New("the mail server is already running")
	}
	deadline := time.Now().Add(startTimeout)
	dovecot, err := startDaemon(m.Dir, "dovecot.out", "dovecot", "-F", "-c", filepath.Join(m.Dir, "dovecot.conf"))
	if err != nil {
		return err
	}
	m.dovecot = dovecot
	for _, a := range []string{m.imapAddr, m.imapsAddr, m.lmtpAddr, m.subAddr, m.subsAddr} {
		if err := waitListening(dovecot, a, deadline); err != nil {
			m.stopLocked()
			return fmt.Errorf("dovecot: %w:\n%s", err, m.tail())
		}
	}
	conf := filepath.Join(m.Dir, "smtpd.conf")
	var smtpd *daemon
	if m.namespace {
		smtpd, err = startDaemon(m.Dir, "smtpd.out", "unshare", "--mount", "--propagation", "private",
			"sh", "-c", `mount --bind "$1/smtpd-spool" /var/spool && mount --bind "$1/smtpd-run" /run && exec smtpd -d -f "$1/smtpd.conf"`,
			"sh", m.Dir)
	} else {
		smtpd, err = startDaemon(m.Dir, "smtpd.out", "smtpd", "-d", "-f", conf)
	}
	if err != nil {
		m.stopLocked()
		return err
	}
	smtpd.name = "smtpd"
	m.smtpd = smtpd
	if err := waitListening(smtpd, m.relayAddr, deadline); err != nil {
		m.stopLocked()
		return fmt.Errorf("smtpd: %w:\n%s", err, m.tail())
	}
	return nil
}

// Stop stops OpenSMTPD and Dovecot: SIGTERM, then SIGKILL after 5 seconds.
// The ports, mailboxes and queue stay for Start.
func (m *MailServer) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked()
}

func (m *MailServer) stopLocked() {
	if m.smtpd != nil {
		m.smtpd.stop()
		m.smtpd = nil
	}
	if m.dovecot != nil {
		m.dovecot.stop()
		m.dovecot = nil
	}
}

// Close stops the servers and removes their directory.
func (m *MailServer) Close() {
	m.Stop()
	os.RemoveAll(m.Dir)
}

// Log returns Dovecot's log followed by OpenSMTPD's.
func (m *MailServer) Log() string {
	var b strings.Builder
	for _, f := range []string{"dovecot.log", "smtpd.out"} {
		data, _ := os.ReadFile(filepath.Join(m.Dir, f))
		fmt.Fprintf(&b, "--- %s ---\n%s", f, data)
	}
	return b.String()
}

func (m *MailServer) tail() string {
	return tailFiles(m.Dir, "dovecot.out", "dovecot.log", "smtpd.out")
}

// StartMailServer starts a MailServer owned by the test: stopped and
// removed at cleanup, with the tail of its logs printed when the test
// failed. A missing package fails the test; it never skips.
func StartMailServer(t testing.TB, opts MailOptions) *MailServer {
	t.Helper()
	Require(t, mailBinaries...)
	m, err := LaunchMailServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("mail server output:\n%s", m.tail())
		}
		m.Close()
	})
	return m
}

// Submit sends raw, an RFC 5322 message, from the account from to the
// recipients, the way a mail client does: to the submission port, STARTTLS
// trusting the server's CA, AUTH PLAIN with from and password. Delivery
// into the recipients' mailboxes follows asynchronously (see WaitMail). An
// SMTP refusal is a *smtp.SMTPError (535 for a wrong password).
func (m *MailServer) Submit(from, password string, to []string, raw []byte) error {
	c, err := smtp.DialStartTLS(m.subAddr, m.TLSConfig())
	if err != nil {
		return fmt.Errorf("submission: %w", err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", from, password)); err != nil {
		return fmt.Errorf("submission AUTH PLAIN as %s: %w", from, err)
	}
	if err := c.SendMail(from, to, bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("submission from %s to %v: %w", from, to, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("submission QUIT: %w", err)
	}
	return nil
}

// Send is Submit that fails the test on error.
func (m *MailServer) Send(t testing.TB, from, password string, to []string, raw []byte) {
	t.Helper()
	if err := m.Submit(from, password, to, raw); err != nil {
		t.Fatal(err)
	}
}

// Deliver puts raw, an RFC 5322 message, into the INBOX of to directly over
// LMTP (envelope sender from), without submission or relay: the fast path
// for tests of inbound mail. It returns once Dovecot saved the message.
func (m *MailServer) Deliver(t testing.TB, from, to string, raw []byte) {
	t.Helper()
	if err := m.deliver(from, to, raw); err != nil {
		t.Fatal(err)
	}
}

func (m *MailServer) deliver(from, to string, raw []byte) error {
	conn, err := net.DialTimeout("tcp", m.lmtpAddr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("lmtp: %w", err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("lmtp LHLO: %w", err)
	}
	if err := c.Mail(from, nil); err != nil {
		return fmt.Errorf("lmtp MAIL FROM:<%s>: %w", from, err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return fmt.Errorf("lmtp RCPT TO:<%s>: %w", to, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("lmtp DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("lmtp DATA: %w", err)
	}
	// LMTP answers once per recipient, after the message was saved.
	if _, err := w.CloseWithLMTPResponse(); err != nil {
		return fmt.Errorf("lmtp delivery to %s: %w", to, err)
	}
	return c.Quit()
}

// Doveadm runs a doveadm command against this server (for example
// "mailbox", "update", "--uid-validity", "7", "-u", address, "INBOX", to
// make a mailbox look rebuilt) and returns its output.
func (m *MailServer) Doveadm(args ...string) (string, error) {
	out, err := exec.Command("doveadm", append([]string{"-c", filepath.Join(m.Dir, "dovecot.conf")}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("doveadm %v: %w: %s", args, err, out)
	}
	return string(out), nil
}
