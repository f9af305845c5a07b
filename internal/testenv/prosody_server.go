// Package testenv starts real peer servers (Prosody, IRC servers, …) from
// Debian packages as child processes in temporary directories, and gives
// tests real clients to drive them. Nothing here is a fake: the servers are
// the ones users run.
//
// The Launch*/Dial functions return errors and serve the demo program; the
// Start*/Login wrappers fail the test instead.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// Require fails the test when one of the binaries is not installed. It never
// skips: a test that needs a real server must not pass without one.
func Require(t testing.TB, binaries ...string) {
	t.Helper()
	if err := lookPaths(binaries...); err != nil {
		t.Fatal(err)
	}
}

func lookPaths(binaries ...string) error {
	for _, b := range binaries {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s is not installed: run `make test`, which installs the Debian packages the tests need (%s)", b, debPackage(b))
		}
	}
	return nil
}

func debPackage(binary string) string {
	switch binary {
	case "prosody", "prosodyctl":
		return "prosody"
	case "atheme-services":
		return "atheme-services"
	case "bearerbox", "smsbox":
		return "kannel"
	case fakesmsc:
		return "kannel-extras"
	case "ejabberdctl":
		return "ejabberd"
	case "dovecot", "/usr/lib/dovecot/imap":
		return "dovecot-imapd"
	case "/usr/lib/dovecot/lmtp":
		return "dovecot-lmtpd"
	case "/usr/lib/dovecot/submission":
		return "dovecot-submissiond"
	case "smtpd":
		return "opensmtpd"
	case "redis-cli":
		return "redis-tools"
	case "unshare":
		return "util-linux"
	}
	return binary
}

// ProsodyOptions configure a Prosody server.
type ProsodyOptions struct {
	// Components maps each external component's domain to its secret.
	Components map[string]string
	// Quiet logs warnings only (a load tool), instead of everything.
	Quiet bool
	// Privileged lists components (of Components) that the server grants
	// XEP-0356 privileges on localhost: roster both, message outgoing.
	// It needs mod_privilege (Debian prosody-modules); without it the
	// server does not start.
	Privileged []string
	// KickOld sets component_conflict_resolve = "kick_old" on every
	// component: a new connection for a domain replaces the one there
	// (half-open after its process was paused), instead of being refused.
	KickOld bool
}

// modPrivilege is where Debian's prosody-modules puts mod_privilege.
const modPrivilege = "/usr/lib/prosody/modules/mod_privilege/mod_privilege.lua"

// Prosody is a running Prosody 0.12 with virtual host "localhost", a MUC
// service at muc.localhost, HTTP upload at upload.localhost, offline
// storage, and the configured external components.
type Prosody struct {
	Domain        string // "localhost"
	C2SAddr       string
	ComponentAddr string
	HTTPAddr      string
	Dir           string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *os.File
}

// LaunchProsody starts Prosody in dir, which must exist.
func LaunchProsody(dir string, opts ProsodyOptions) (*Prosody, error) {
	if err := lookPaths("prosody", "prosodyctl"); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	p := &Prosody{
		Domain:        "localhost",
		C2SAddr:       "127.0.0.1:" + strconv.Itoa(ports[0]),
		ComponentAddr: "127.0.0.1:" + strconv.Itoa(ports[1]),
		HTTPAddr:      "127.0.0.1:" + strconv.Itoa(ports[2]),
		Dir:           dir,
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	var comps strings.Builder
	domains := make([]string, 0, len(opts.Components))
	for d := range opts.Components {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		fmt.Fprintf(&comps, "Component %q\n  component_secret = %q\n", d, opts.Components[d])
		if opts.KickOld {
			comps.WriteString("  component_conflict_resolve = \"kick_old\"\n")
		}
		if slices.Contains(opts.Privileged, d) {
			comps.WriteString("  modules_enabled = { \"privilege\" }\n")
		}
	}
	var host strings.Builder
	if len(opts.Privileged) > 0 {
		if _, err := os.Stat(modPrivilege); err != nil {
			return nil, fmt.Errorf("mod_privilege is missing (install prosody-modules): %w", err)
		}
		host.WriteString("  modules_enabled = { \"privilege\" }\n  privileged_entities = {\n")
		for _, d := range opts.Privileged {
			fmt.Fprintf(&host, "    [%q] = { roster = \"both\"; message = \"outgoing\" };\n", d)
		}
		host.WriteString("  }\n")
	}
	cfg := strings.NewReplacer(
		"@DIR@", dir,
		"@C2S_PORT@", strconv.Itoa(ports[0]),
		"@COMPONENT_PORT@", strconv.Itoa(ports[1]),
		"@HTTP_PORT@", strconv.Itoa(ports[2]),
		"@COMPONENTS@", comps.String(),
		"@HOST@", host.String(),
		"@LOG_LEVEL@", map[bool]string{false: "debug", true: "warn"}[opts.Quiet],
	).Replace(prosodyConfig)
	if err := os.WriteFile(p.config(), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	// prosodyctl drops to the prosody user, which must read the config and
	// own the data.
	os.Chmod(dir, 0o755)
	if err := chownProsody(dir); err != nil {
		return nil, err
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

const prosodyConfig = `-- Written by internal/testenv for one test run.
pidfile = "@DIR@/prosody.pid"
data_path = "@DIR@/data"
log = { @LOG_LEVEL@ = "@DIR@/prosody.log" }
daemonize = false
admins = { "admin@localhost" }
modules_enabled = { "roster", "saslauth", "disco", "presence", "message", "iq", "ping", "register", "offline", "version", "time", "carbons" }
modules_disabled = { "s2s", "tls", "posix" }
c2s_ports = { @C2S_PORT@ }
c2s_interfaces = { "127.0.0.1" }
component_ports = { @COMPONENT_PORT@ }
component_interfaces = { "127.0.0.1" }
http_ports = { @HTTP_PORT@ }
http_interfaces = { "127.0.0.1" }
-- Upload links (XEP-0363) must resolve on a test machine: *.localhost may not.
http_external_url = "http://127.0.0.1:@HTTP_PORT@/"
http_default_host = "upload.localhost"
https_ports = {}
s2s_ports = {}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
authentication = "internal_hashed"
storage = "internal"
VirtualHost "localhost"
@HOST@Component "muc.localhost" "muc"
Component "upload.localhost" "http_file_share"
@COMPONENTS@`

func (p *Prosody) config() string { return filepath.Join(p.Dir, "prosody.cfg.lua") }

// start runs the server and waits until its ports accept connections.
func (p *Prosody) start() error {
	out, err := os.OpenFile(filepath.Join(p.Dir, "prosody.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("prosody", "-F", "--config", p.config())
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = serverProcAttr(nil)
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("starting prosody: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.out, p.exited = cmd, out, exited
	p.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for _, addr := range []string{p.C2SAddr, p.ComponentAddr} {
		err := waitTCP("prosody", exited, addr, deadline, 15*time.Second)
		if errors.Is(err, errExitedAtStart) {
			return fmt.Errorf("%w:\n%s", err, p.tail())
		}
		if err != nil {
			p.Shutdown()
			return fmt.Errorf("%w:\n%s", err, p.tail())
		}
	}
	return nil
}

// Shutdown stops the server: SIGTERM, then SIGKILL after 5 seconds. The
// ports and data stay, so Restart can bring the same server back.
func (p *Prosody) Shutdown() {
	p.mu.Lock()
	cmd, out, exited := p.cmd, p.out, p.exited
	p.cmd, p.out = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	stopProcess(cmd, exited)
	out.Close()
}

// Restart starts a stopped server again on the same ports and data.
func (p *Prosody) Restart() error { return p.start() }

// AddUser creates an account on the virtual host.
func (p *Prosody) AddUser(local, password string) (jid.JID, error) {
	cmd := exec.Command("prosodyctl", "--config", p.config(), "register", local, p.Domain, password)
	cmd.Dir = p.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return jid.JID{}, fmt.Errorf("prosodyctl register %s: %v: %s", local, err, out)
	}
	return jid.New(local, p.Domain, "")
}

// Log returns Prosody's debug log.
func (p *Prosody) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "prosody.log"))
	return string(b)
}

func (p *Prosody) tail() string {
	var b strings.Builder
	for _, f := range []string{"prosody.out", "prosody.log"} {
		data, _ := os.ReadFile(filepath.Join(p.Dir, f))
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", f, data)
	}
	return b.String()
}

// StartProsody starts a Prosody owned by the test: stopped at cleanup, with
// the tail of its log printed when the test failed.
func StartProsody(t testing.TB, opts ProsodyOptions) *Prosody {
	t.Helper()
	Require(t, "prosody", "prosodyctl")
	dir := tempDir(t, "prosody")
	p, err := LaunchProsody(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Shutdown()
		if t.Failed() {
			t.Logf("prosody output:\n%s", p.tail())
		}
	})
	return p
}

// Stop stops the server, keeping its ports and data.
func (p *Prosody) Stop(t testing.TB) {
	t.Helper()
	p.Shutdown()
}

// Start starts a stopped server again.
func (p *Prosody) Start(t testing.TB) {
	t.Helper()
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
}

// CreateUser creates an account and returns its bare JID.
func (p *Prosody) CreateUser(t testing.TB, local, password string) jid.JID {
	t.Helper()
	j, err := p.AddUser(local, password)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// tempDir is a world-readable temporary directory (servers that drop
// privileges must read their config in it), removed at cleanup.
func tempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "switchboard-"+prefix+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func chownProsody(dir string) error {
	u, err := user.Lookup("prosody")
	if err != nil {
		return nil // not root, or no prosody user: run as ourselves
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, uid, gid); err != nil && !errors.Is(err, syscall.EPERM) {
			return err
		}
		return nil
	})
}

// stopProcess sends SIGTERM to the process group and SIGKILL after 5s;
// exited is closed once the process was reaped.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ctxTimeout is the default wait of the harness.
func ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}
