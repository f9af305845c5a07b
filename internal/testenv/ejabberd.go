package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// EjabberdOptions configure an ejabberd server.
type EjabberdOptions struct {
	// Components maps each external component's domain to its secret.
	Components map[string]string
	// Quiet logs warnings only, instead of everything at info level.
	Quiet bool
	// Privileged lists components (of Components) that the server grants
	// XEP-0356 privileges (mod_privilege): roster both, message outgoing.
	Privileged []string
}

// Ejabberd is a running ejabberd 23.01 (Debian) with virtual host
// "localhost", a MUC service at muc.localhost (mod_caps needs mod_muc: its
// hook crashes on a presence with caps without it), offline storage,
// roster, vCard, HTTP upload at upload.localhost (plain http on loopback,
// like the test Prosody's) and the configured external
// components (XEP-0114, module ejabberd_service) — the second XMPP server
// the component's tests run against, beside Prosody.
//
// It runs unprivileged (as the ejabberd user when the tests run as root)
// in its own directory: config, Mnesia spool, logs and Erlang cookie. Its
// Erlang distribution listens on a port of its own (ERL_DIST_PORT), so no
// epmd is started and instances never share a name server; ejabberdctl
// reaches the node on that port.
type Ejabberd struct {
	Domain        string // "localhost"
	C2SAddr       string
	ComponentAddr string
	// HTTPAddr serves HTTP upload (XEP-0363, mod_http_upload at
	// upload.localhost): plain http on loopback, as Prosody's.
	HTTPAddr string
	Dir      string
	// Node is the Erlang node name, unique per instance.
	Node string

	cred *syscall.Credential // the ejabberd user, when running as root

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *os.File
}

var ejabberdNodes atomic.Int64

// LaunchEjabberd starts ejabberd in dir, which must exist.
func LaunchEjabberd(dir string, opts EjabberdOptions) (*Ejabberd, error) {
	if err := lookPaths("ejabberdctl"); err != nil {
		return nil, err
	}
	cred, err := ejabberdUser()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	e := &Ejabberd{
		Domain:        "localhost",
		C2SAddr:       "127.0.0.1:" + strconv.Itoa(ports[0]),
		ComponentAddr: "127.0.0.1:" + strconv.Itoa(ports[1]),
		HTTPAddr:      "127.0.0.1:" + strconv.Itoa(ports[3]),
		Dir:           dir,
		Node:          fmt.Sprintf("sbtest%d_%d@localhost", os.Getpid(), ejabberdNodes.Add(1)),
		cred:          cred,
	}
	for _, d := range []string{"db", "log", "upload"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	var comps strings.Builder
	domains := make([]string, 0, len(opts.Components))
	for d := range opts.Components {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		fmt.Fprintf(&comps, "      %q:\n        password: %q\n", d, opts.Components[d])
	}
	if len(domains) == 0 {
		comps.WriteString("      {}\n")
	}
	cfg := strings.NewReplacer(
		"@C2S_PORT@", strconv.Itoa(ports[0]),
		"@COMPONENT_PORT@", strconv.Itoa(ports[1]),
		"@HTTP_PORT@", strconv.Itoa(ports[3]),
		"@DIR@", dir,
		"@COMPONENTS@", comps.String(),
		"@PRIVILEGED_ACL@", privilegedACL(opts.Privileged),
		"@PRIVILEGE@", privilegeModule(opts.Privileged),
		"@COMPONENT_SERVERS@", componentServers(domains),
		"@PRIVILEGED_RULE@", map[bool]string{false: "", true: "  privileged:\n    allow: privileged\n"}[len(opts.Privileged) > 0],
		"@LOG_LEVEL@", map[bool]string{false: "info", true: "warning"}[opts.Quiet],
	).Replace(ejabberdConfig)
	files := map[string]string{
		"ejabberd.yml": cfg,
		// Read by ejabberdctl: the node's distribution port, so that
		// neither the server nor ejabberdctl needs epmd.
		"ejabberdctl.cfg": "ERL_DIST_PORT=" + strconv.Itoa(ports[2]) + "\n",
		// ERL_INETRC points here; without the file every ejabberdctl call
		// logs an error and waits on the resolver.
		"inetrc": "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	if err := e.chown(); err != nil {
		return nil, err
	}
	if err := e.start(); err != nil {
		return nil, err
	}
	return e, nil
}

// ejabberdConfig is the server's configuration: plain c2s on loopback
// (PLAIN allowed without TLS, for the test client), the components, no
// server-to-server traffic at all (s2s_access: none), nothing that
// reaches off the machine.
const ejabberdConfig = `# Written by internal/testenv for one test run.
hosts:
  - localhost
loglevel: @LOG_LEVEL@
auth_method: internal
auth_password_format: plain
s2s_access: none
acl:
  local:
    user_regexp: ""
  loopback:
    ip:
      - 127.0.0.0/8
  components:
    server:
@COMPONENT_SERVERS@@PRIVILEGED_ACL@access_rules:
  local:
    allow: local
  upload:
    - allow: local
    - allow: components
@PRIVILEGED_RULE@  c2s:
    allow: all
shaper_rules:
  c2s_shaper: none
  max_user_sessions: 10
listen:
  -
    port: @C2S_PORT@
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
    shaper: c2s_shaper
    access: c2s
  -
    port: @COMPONENT_PORT@
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
@COMPONENTS@  -
    port: @HTTP_PORT@
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /upload: mod_http_upload

modules:
  mod_caps: {}
  mod_carboncopy: {}
  mod_disco: {}
  mod_muc:
    host: muc.localhost
  mod_offline: {}
  mod_ping: {}
  mod_roster: {}
  mod_vcard: {}
  mod_version: {}
  mod_http_upload:
    hosts:
      - upload.localhost
    put_url: "http://127.0.0.1:@HTTP_PORT@/upload"
    get_url: "http://127.0.0.1:@HTTP_PORT@/upload"
    docroot: "@DIR@/upload"
    max_size: 10485760
    access: upload
@PRIVILEGE@`

// privilegedACL is the ACL of the privileged components, "" for none.
func privilegedACL(domains []string) string {
	if len(domains) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("  privileged:\n    server:\n")
	for _, d := range domains {
		fmt.Fprintf(&b, "      - %q\n", d)
	}
	return b.String()
}

// privilegeModule grants the privileged access rule (the ACL of the same
// name) XEP-0356's roster and message permissions, "" for none.
func privilegeModule(domains []string) string {
	if len(domains) == 0 {
		return ""
	}
	return "  mod_privilege:\n    roster:\n      both: privileged\n    message:\n      outgoing: privileged\n"
}

// ejabberdUser returns the credential to run ejabberdctl with: the
// ejabberd user when the tests run as root (ejabberdctl would otherwise su
// to it, outside the process group the harness stops), nil when they run
// as that user already. Anyone else cannot run Debian's ejabberdctl.
func ejabberdUser() (*syscall.Credential, error) {
	me, err := user.Current()
	if err != nil {
		return nil, err
	}
	if me.Username == "ejabberd" {
		return nil, nil
	}
	if me.Uid != "0" {
		return nil, errors.New("ejabberdctl runs only as root or as the ejabberd user: run the tests as root (as `make test` does)")
	}
	u, err := user.Lookup("ejabberd")
	if err != nil {
		return nil, fmt.Errorf("the ejabberd package's user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// chown gives the directory to the user ejabberd runs as.
func (e *Ejabberd) chown() error {
	if e.cred == nil {
		return nil
	}
	return filepath.Walk(e.Dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(e.cred.Uid), int(e.cred.Gid))
	})
}

// ctl returns an ejabberdctl command on this instance's config, spool,
// logs and node, run as the ejabberd user with the instance's directory
// as HOME (where Erlang keeps the node's cookie).
func (e *Ejabberd) ctl(args ...string) *exec.Cmd {
	base := []string{"--config-dir", e.Dir, "--config", filepath.Join(e.Dir, "ejabberd.yml"),
		"--spool", filepath.Join(e.Dir, "db"), "--logs", filepath.Join(e.Dir, "log"), "--node", e.Node}
	cmd := exec.Command("ejabberdctl", append(base, args...)...)
	cmd.Dir = e.Dir
	cmd.Env = append(os.Environ(), "HOME="+e.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
	return cmd
}

// start runs the server and waits until its ports accept connections.
func (e *Ejabberd) start() error {
	out, err := os.OpenFile(filepath.Join(e.Dir, "ejabberd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := e.ctl("foreground")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = serverProcAttr(e.cred)
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("starting ejabberd: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	e.mu.Lock()
	e.cmd, e.out, e.exited = cmd, out, exited
	e.mu.Unlock()
	// The Erlang VM and Mnesia take a few seconds (5 s measured idle).
	deadline := time.Now().Add(60 * time.Second)
	for _, addr := range []string{e.C2SAddr, e.ComponentAddr, e.HTTPAddr} {
		err := waitTCP("ejabberd", exited, addr, deadline, 60*time.Second)
		if errors.Is(err, errExitedAtStart) {
			return fmt.Errorf("%w:\n%s", err, e.tail())
		}
		if err != nil {
			e.Shutdown()
			return fmt.Errorf("%w:\n%s", err, e.tail())
		}
	}
	return nil
}

// Shutdown stops the server: SIGTERM to its process group (the Erlang VM
// stops cleanly on it), then SIGKILL after 5 seconds. The ports, node
// name and spool stay, so Restart can bring the same server back.
func (e *Ejabberd) Shutdown() {
	e.mu.Lock()
	cmd, out, exited := e.cmd, e.out, e.exited
	e.cmd, e.out = nil, nil
	e.mu.Unlock()
	if cmd == nil {
		return
	}
	// ejabberdctl's shell ends at once on SIGTERM, the VM a moment
	// later: the server is stopped when its whole process group is gone.
	stopProcess(cmd, exited)
	pgid := cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			deadline = time.Now().Add(time.Hour)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out.Close()
}

// Restart starts a stopped server again on the same ports and spool.
func (e *Ejabberd) Restart() error { return e.start() }

// AddUser creates an account on the virtual host with ejabberdctl.
func (e *Ejabberd) AddUser(local, password string) (jid.JID, error) {
	if out, err := e.ctl("register", local, e.Domain, password).CombinedOutput(); err != nil {
		return jid.JID{}, fmt.Errorf("ejabberdctl register %s: %v: %s", local, err, out)
	}
	return jid.New(local, e.Domain, "")
}

// Log returns ejabberd's log and error log.
func (e *Ejabberd) Log() string {
	var b strings.Builder
	for _, f := range []string{"ejabberd.out", "log/ejabberd.log", "log/error.log"} {
		data, _ := os.ReadFile(filepath.Join(e.Dir, f))
		b.Write(data)
	}
	return b.String()
}

func (e *Ejabberd) tail() string {
	var b strings.Builder
	for _, f := range []string{"ejabberd.out", "log/ejabberd.log", "log/error.log", "log/crash.log"} {
		data, _ := os.ReadFile(filepath.Join(e.Dir, f))
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", f, data)
	}
	return b.String()
}

// StartEjabberd starts an ejabberd owned by the test: stopped at cleanup,
// with the tail of its logs printed when the test failed. A missing
// ejabberd fails the test, as every other missing server does.
func StartEjabberd(t testing.TB, opts EjabberdOptions) *Ejabberd {
	t.Helper()
	Require(t, "ejabberdctl")
	dir := tempDir(t, "ejabberd")
	e, err := LaunchEjabberd(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Shutdown()
		if t.Failed() {
			t.Logf("ejabberd output:\n%s", e.tail())
		}
	})
	return e
}

// Stop stops the server, keeping its ports and data.
func (e *Ejabberd) Stop(t testing.TB) {
	t.Helper()
	e.Shutdown()
}

// Start starts a stopped server again.
func (e *Ejabberd) Start(t testing.TB) {
	t.Helper()
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
}

// CreateUser creates an account and returns its bare JID.
func (e *Ejabberd) CreateUser(t testing.TB, local, password string) jid.JID {
	t.Helper()
	j, err := e.AddUser(local, password)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// Login logs in a client owned by the test (closed at cleanup).
func (e *Ejabberd) Login(t testing.TB, user jid.JID, password, resource string, priority int) *Client {
	t.Helper()
	ctx, cancel := ctxTimeout()
	defer cancel()
	c, err := Dial(ctx, e.C2SAddr, user, password, resource, priority)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// componentServers lists the components' domains for the "components"
// ACL, which may ask for upload slots (a gateway asks as itself).
func componentServers(domains []string) string {
	var b strings.Builder
	for _, d := range domains {
		fmt.Fprintf(&b, "      - %q\n", d)
	}
	if len(domains) == 0 {
		b.WriteString("      - \"none.invalid\"\n")
	}
	return b.String()
}
