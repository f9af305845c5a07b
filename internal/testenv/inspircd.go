package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed inspircd.conf.in
var inspircdConfig string

// athemeExample is the configuration Debian ships with atheme-services; the
// services configuration is derived from it at start.
const athemeExample = "/usr/share/doc/atheme-services/examples/atheme.conf.example"

// startTimeout bounds how long a server may take to become ready.
const startTimeout = 15 * time.Second

// InspIRCdOptions configure an InspIRCd server.
type InspIRCdOptions struct {
	// Services also starts Atheme services (server services.int) linked to
	// InspIRCd: NickServ accounts and SASL PLAIN.
	Services bool
	// TLS adds a TLS client listener (TLSAddr) whose certificate, for
	// localhost and 127.0.0.1, is signed by a CA made for this server
	// (CAPEM, CAFile).
	TLS bool
	// ClientAddr, if set, is the host:port of the plaintext client
	// listener instead of a free port on 127.0.0.1 (a load tool puts it
	// where biboumi looks by default, 127.0.0.2:6667).
	ClientAddr string
	// NoEchoMessage leaves out the ircv3_echomessage module, as on a
	// server without echo-message: a client learns that the server took
	// its message only from the answer to a PING written after it.
	NoEchoMessage bool
}

// InspIRCd is a running InspIRCd 3 named "irc.test" (network TestNet) with
// the IRCv3 modules on, a plaintext client listener on 127.0.0.1, and
// optionally Atheme services and a TLS listener. Its connection class lets
// thousands of clients connect from 127.0.0.1 without flood limits.
type InspIRCd struct {
	Name     string // the server name, "irc.test"
	Dir      string // its temporary directory, removed by Close
	Services bool   // Atheme is linked
	// CAPEM is the PEM certificate of the CA that signed the TLS
	// listener's certificate, and CAFile a file holding it; both are
	// empty without InspIRCdOptions.TLS.
	CAPEM  []byte
	CAFile string

	addr, tlsAddr, linkAddr string
	host                    string // of the client listener

	mu     sync.Mutex
	ircd   *daemon
	atheme *daemon
}

// LaunchInspIRCd starts InspIRCd, and Atheme when opts.Services is set, in
// a new temporary directory, and waits until they are ready. Close stops
// them and removes the directory.
func LaunchInspIRCd(opts InspIRCdOptions) (*InspIRCd, error) {
	bins := []string{"inspircd"}
	if opts.Services {
		bins = append(bins, "atheme-services")
	}
	if err := lookPaths(bins...); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	dir, err := makeTempDir("inspircd")
	if err != nil {
		return nil, err
	}
	s := &InspIRCd{
		Name:     "irc.test",
		Dir:      dir,
		Services: opts.Services,
		addr:     "127.0.0.1:" + strconv.Itoa(ports[0]),
		host:     "127.0.0.1",
		linkAddr: "127.0.0.1:" + strconv.Itoa(ports[1]),
	}
	if opts.TLS {
		s.tlsAddr = "127.0.0.1:" + strconv.Itoa(ports[2])
	}
	if opts.ClientAddr != "" {
		host, port, err := net.SplitHostPort(opts.ClientAddr)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("testenv: bad InspIRCd client address %q", opts.ClientAddr)
		}
		// A fixed address may be held by another run's server (the load
		// tool's default is one): InspIRCd would then fail to bind it
		// while Start found the other server answering there, and the
		// caller measure a server that is not its own.
		l, err := net.Listen("tcp", opts.ClientAddr)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("testenv: InspIRCd's client address %s is taken (another run's server?): %w", opts.ClientAddr, err)
		}
		l.Close()
		s.addr, s.host, ports[0] = opts.ClientAddr, host, n
	}
	if err := s.writeConfig(opts, ports); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *InspIRCd) writeConfig(opts InspIRCdOptions, ports []int) error {
	if opts.TLS {
		ca, err := writeTestCertificates(s.Dir)
		if err != nil {
			return fmt.Errorf("making the TLS certificates: %w", err)
		}
		s.CAPEM, s.CAFile = ca, filepath.Join(s.Dir, "ca.pem")
	}
	cfg := keepSection(inspircdConfig, "services", opts.Services)
	cfg = keepSection(cfg, "tls", opts.TLS)
	cfg = keepSection(cfg, "echo", !opts.NoEchoMessage)
	cfg = strings.NewReplacer(
		"@DIR@", s.Dir,
		"@PORT@", strconv.Itoa(ports[0]),
		"@CLIENT_HOST@", s.host,
		"@LINK_PORT@", strconv.Itoa(ports[1]),
		"@TLS_PORT@", strconv.Itoa(ports[2]),
	).Replace(cfg)
	if err := os.WriteFile(filepath.Join(s.Dir, "inspircd.conf"), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("writing the InspIRCd config: %w", err)
	}
	if !opts.Services {
		return nil
	}
	acfg, err := athemeConfig(s.Dir, ports[1])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "var"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "atheme.conf"), []byte(acfg), 0o644); err != nil {
		return fmt.Errorf("writing the Atheme config: %w", err)
	}
	return nil
}

// keepSection removes the marker lines "# begin name…" and "# end name"
// of a config template, and when keep is false, the lines between them.
func keepSection(cfg, name string, keep bool) string {
	var out []string
	in := false
	for _, line := range strings.SplitAfter(cfg, "\n") {
		switch {
		case strings.HasPrefix(line, "# begin "+name+":"):
			in = true
		case strings.TrimSpace(line) == "# end "+name:
			in = false
		case !in || keep:
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// athemeConfig derives the services configuration from Debian's example,
// as /work/shared/testpeers/README.md describes, plus edits that keep each
// instance to its own directory and let tests register many accounts fast.
func athemeConfig(dir string, linkPort int) (string, error) {
	data, err := os.ReadFile(athemeExample)
	if err != nil {
		return "", fmt.Errorf("reading Atheme's example config (package atheme-services): %w", err)
	}
	cfg := string(data)
	edits := []struct{ old, new string }{
		{`#loadmodule "modules/protocol/charybdis";`, `loadmodule "modules/protocol/inspircd";`},
		// InspIRCd wants a server ID that starts with a digit.
		{`numeric = "00A";`, `numeric = "00B";`},
		{`recontime = 10;`, `recontime = 2;`},
		// The HTTP server would listen on 0.0.0.0:8080 in every instance.
		{`loadmodule "modules/misc/httpd";`, `#loadmodule "modules/misc/httpd";`},
		{`loadmodule "modules/transport/xmlrpc";`, `#loadmodule "modules/transport/xmlrpc";`},
		{`mta = "/usr/sbin/sendmail";`, `#mta = "/usr/sbin/sendmail";`},
		// Atheme runs from /usr: relative log files would be lost.
		{`logfile "var/`, `logfile "` + dir + `/var/`},
		// Tests register many accounts and talk to services quickly.
		{`ratelimit_uses = 5;`, `#ratelimit_uses = 5;`},
		{`ratelimit_period = 60;`, `#ratelimit_period = 60;`},
		{`flood_msgs = 7;`, `flood_msgs = 0;`},
	}
	for _, e := range edits {
		if !strings.Contains(cfg, e.old) {
			return "", fmt.Errorf("%s no longer contains %q: update athemeConfig", athemeExample, e.old)
		}
		cfg = strings.ReplaceAll(cfg, e.old, e.new)
	}
	// The first uplink block names InspIRCd; the second, IPv6, one goes.
	uplink := fmt.Sprintf(`uplink "irc.test" { host = "127.0.0.1"; send_password = "linkpass"; receive_password = "linkpass"; port = %d; };`, linkPort)
	from := 0
	for _, repl := range []string{uplink, ""} {
		i := strings.Index(cfg[from:], "\nuplink \"")
		if i < 0 {
			return "", fmt.Errorf("%s has fewer than two uplink blocks: update athemeConfig", athemeExample)
		}
		i += from + 1
		j := strings.Index(cfg[i:], "\n};")
		if j < 0 {
			return "", fmt.Errorf("%s: unterminated uplink block", athemeExample)
		}
		cfg = cfg[:i] + repl + cfg[i+j+len("\n};"):]
		from = i + len(repl)
	}
	return cfg, nil
}

// Addr is the plaintext client listener, host:port.
func (s *InspIRCd) Addr() string { return s.addr }

// TLSAddr is the TLS client listener, host:port, or "" without
// InspIRCdOptions.TLS.
func (s *InspIRCd) TLSAddr() string { return s.tlsAddr }

// TLSConfig is a client configuration that trusts only the server's CA,
// for server name "localhost"; nil without InspIRCdOptions.TLS.
func (s *InspIRCd) TLSConfig() *tls.Config {
	if s.CAPEM == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// Start starts a stopped server again on the same ports, with Atheme's
// database kept, and waits until InspIRCd listens and Atheme finished
// synching with it.
func (s *InspIRCd) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ircd != nil {
		return errors.New("inspircd is already running")
	}
	ircd, err := startDaemon(s.Dir, "inspircd.out", "inspircd", "--runasroot", "--nofork", "--config", filepath.Join(s.Dir, "inspircd.conf"))
	if err != nil {
		return err
	}
	addrs := []string{s.addr}
	if s.tlsAddr != "" {
		addrs = append(addrs, s.tlsAddr)
	}
	if s.Services {
		addrs = append(addrs, s.linkAddr)
	}
	deadline := time.Now().Add(startTimeout)
	for _, a := range addrs {
		if err := waitListening(ircd, a, deadline); err != nil {
			ircd.stop()
			return fmt.Errorf("inspircd: %w:\n%s", err, s.tail())
		}
	}
	s.ircd = ircd
	if !s.Services {
		return nil
	}
	logFile := filepath.Join(s.Dir, "atheme.log")
	var from int64
	if fi, err := os.Stat(logFile); err == nil {
		from = fi.Size()
	}
	atheme, err := startDaemon(s.Dir, "atheme.out", "atheme-services", "-n",
		"-c", filepath.Join(s.Dir, "atheme.conf"), "-l", logFile,
		"-p", filepath.Join(s.Dir, "atheme.pid"), "-D", filepath.Join(s.Dir, "var"))
	if err != nil {
		s.stopLocked()
		return err
	}
	s.atheme = atheme
	if err := waitLog(atheme, logFile, from, "finished synching with uplink", deadline); err != nil {
		s.stopLocked()
		return fmt.Errorf("atheme-services: %w:\n%s", err, s.tail())
	}
	return nil
}

// Stop stops Atheme (which saves its database) and InspIRCd: SIGTERM, then
// SIGKILL after 5 seconds. The ports and data stay for Start.
func (s *InspIRCd) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *InspIRCd) stopLocked() {
	if s.atheme != nil {
		s.atheme.stop()
		s.atheme = nil
	}
	if s.ircd != nil {
		s.ircd.stop()
		s.ircd = nil
	}
}

// Close stops the servers and removes their directory.
func (s *InspIRCd) Close() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

// Log returns InspIRCd's log.
func (s *InspIRCd) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "ircd.log"))
	return string(b)
}

// ServicesLog returns Atheme's log; empty without services.
func (s *InspIRCd) ServicesLog() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "atheme.log"))
	return string(b)
}

func (s *InspIRCd) tail() string {
	return tailFiles(s.Dir, "inspircd.out", "ircd.log", "atheme.out", "atheme.log")
}

// StartInspIRCd starts an InspIRCd owned by the test: stopped and removed
// at cleanup, with the tail of its logs printed when the test failed.
func StartInspIRCd(t testing.TB, opts InspIRCdOptions) *InspIRCd {
	t.Helper()
	Require(t, "inspircd")
	if opts.Services {
		Require(t, "atheme-services")
	}
	s, err := LaunchInspIRCd(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("inspircd output:\n%s", s.tail())
		}
		s.Close()
	})
	return s
}

// RegisterAccount registers nick as a NickServ account with password (and
// the address nick@example.com), the way a user does: a client connects
// as nick, sends REGISTER to NickServ and waits for the confirmation.
func (s *InspIRCd) RegisterAccount(t testing.TB, nick, password string) {
	t.Helper()
	if !s.Services {
		t.Fatal("RegisterAccount: InspIRCd was started without Services")
	}
	c := DialIRC(t, s.Addr(), nick)
	defer c.Close()
	c.Send("PRIVMSG NickServ :REGISTER " + password + " " + nick + "@example.com")
	l := c.Expect(t, 10*time.Second, func(l IRCLine) bool {
		return l.Command == "NOTICE" && strings.EqualFold(l.Source, "NickServ") && !strings.HasPrefix(l.Param(1), "Welcome to")
	})
	if !strings.Contains(l.Param(1), " is now registered to ") {
		t.Fatalf("NickServ did not register %s: %s", nick, l.Raw)
	}
}

// SASLPlain is the argument of AUTHENTICATE for SASL PLAIN as account.
func SASLPlain(account, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(account + "\x00" + account + "\x00" + password))
}

// writeTestCertificates makes a throwaway CA and a certificate it signs for
// localhost, 127.0.0.1 and ::1, writes ca.pem, cert.pem and key.pem in dir
// and returns the CA certificate in PEM.
func writeTestCertificates(dir string) ([]byte, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "switchboard test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{"ca.pem", caPEM, 0o644},
		{"cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644},
		{"key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// daemon is a server child process in its own process group, its output
// appended to a file in its directory.
type daemon struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	out    *os.File
}

// startDaemon runs name with args in dir, output appended to dir/outFile.
func startDaemon(dir, outFile, name string, args ...string) (*daemon, error) {
	out, err := os.OpenFile(filepath.Join(dir, outFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = serverProcAttr(nil)
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, exited: make(chan struct{}), out: out}
	go func() { cmd.Wait(); close(d.exited) }()
	return d, nil
}

// stop ends the process (SIGTERM, then SIGKILL after 5s) and waits for it.
func (d *daemon) stop() {
	stopProcess(d.cmd, d.exited)
	d.out.Close()
}

func (d *daemon) hasExited() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

// waitListening polls until addr accepts TCP connections, d exits, or the
// deadline passes.
func waitListening(d *daemon, addr string, deadline time.Time) error {
	return waitTCP(d.name, d.exited, addr, deadline, startTimeout)
}

// errExitedAtStart is waitTCP's error when the server's process ended
// before it listened.
var errExitedAtStart = errors.New("exited at start")

// waitTCP polls until addr accepts TCP connections, exited is closed (the
// server's process ended: errExitedAtStart), or the deadline passes;
// within is what the deadline allowed, for the message.
func waitTCP(name string, exited <-chan struct{}, addr string, deadline time.Time, within time.Duration) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s %w", name, errExitedAtStart)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s within %s", name, addr, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLog polls until file, read from offset from, contains want, d exits,
// or the deadline passes.
func waitLog(d *daemon, file string, from int64, want string, deadline time.Time) error {
	for {
		if b, err := os.ReadFile(file); err == nil && int64(len(b)) > from && strings.Contains(string(b[from:]), want) {
			return nil
		}
		if d.hasExited() {
			return fmt.Errorf("%s exited at start", d.name)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not log %q within %s", d.name, want, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tailFiles returns the last 4000 bytes of each existing file.
func tailFiles(dir string, names ...string) string {
	var b strings.Builder
	for _, f := range names {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", f, data)
	}
	return b.String()
}

// makeTempDir is a new world-readable temporary directory (servers that
// drop privileges must read their config in it).
func makeTempDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", "switchboard-"+prefix+"-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
