package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ngircdConfig is a minimal ngIRCd 26 configuration: one plaintext client
// port on loopback, no DNS or ident lookups, no PAM, no limit on
// connections per IP or channels per user, no penalty delays, no MOTD file
// and no system include directory.
const ngircdConfig = `# Written by internal/testenv for one test run.
[Global]
	Name = irc.ngircd.test
	Info = switchboard test server
	AdminInfo1 = switchboard tests
	AdminInfo2 = localhost
	AdminEMail = test@localhost
	Network = NgTestNet
	Listen = 127.0.0.1
	Ports = @PORT@
	MotdPhrase = switchboard test server
	PidFile = @DIR@/run/ngircd.pid
@USER@
[Limits]
	MaxConnections = 0
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxNickLength = 30
	MaxPenaltyTime = 0
[Options]
	DNS = no
	Ident = no
	PAM = no
	IncludeDir = @DIR@/conf.d
`

// NgIRCd is a running ngIRCd named "irc.ngircd.test" (network NgTestNet):
// a plain RFC 2812 server without services, few IRCv3 caps
// (multi-prefix), nicks up to 30 characters.
type NgIRCd struct {
	Name string // the server name, "irc.ngircd.test"
	Dir  string // its temporary directory, removed by Close

	addr string

	mu sync.Mutex
	d  *daemon
}

// LaunchNgIRCd starts ngIRCd in a new temporary directory and waits until
// it listens. Close stops it and removes the directory.
func LaunchNgIRCd() (*NgIRCd, error) {
	if err := lookPaths("ngircd"); err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	dir, err := makeTempDir("ngircd")
	if err != nil {
		return nil, err
	}
	s := &NgIRCd{Name: "irc.ngircd.test", Dir: dir, addr: "127.0.0.1:" + strconv.Itoa(ports[0])}
	if err := s.writeConfig(ports[0]); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *NgIRCd) writeConfig(port int) error {
	for _, d := range []string{"run", "conf.d"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	// As root, ngIRCd drops to ServerUID/ServerGID (it refuses to stay
	// root) and writes its pidfile after that.
	var userLines string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return fmt.Errorf("ngircd needs an unprivileged user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(filepath.Join(s.Dir, "run"), uid, gid); err != nil {
			return err
		}
		userLines = fmt.Sprintf("\tServerUID = %d\n\tServerGID = %d", uid, gid)
	}
	cfg := strings.NewReplacer(
		"@DIR@", s.Dir,
		"@PORT@", strconv.Itoa(port),
		"@USER@", userLines,
	).Replace(ngircdConfig)
	if err := os.WriteFile(filepath.Join(s.Dir, "ngircd.conf"), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("writing the ngIRCd config: %w", err)
	}
	return nil
}

// Addr is the client listener, host:port.
func (s *NgIRCd) Addr() string { return s.addr }

// Start starts a stopped server again on the same port and waits until it
// listens.
func (s *NgIRCd) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d != nil {
		return errors.New("ngircd is already running")
	}
	d, err := startDaemon(s.Dir, "ngircd.log", "ngircd", "-n", "-f", filepath.Join(s.Dir, "ngircd.conf"))
	if err != nil {
		return err
	}
	if err := waitListening(d, s.addr, time.Now().Add(startTimeout)); err != nil {
		d.stop()
		return fmt.Errorf("ngircd: %w:\n%s", err, tailFiles(s.Dir, "ngircd.log"))
	}
	s.d = d
	return nil
}

// Stop stops the server: SIGTERM, then SIGKILL after 5 seconds. The port
// stays for Start.
func (s *NgIRCd) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d != nil {
		s.d.stop()
		s.d = nil
	}
}

// Close stops the server and removes its directory.
func (s *NgIRCd) Close() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

// Log returns ngIRCd's log (its output in the foreground).
func (s *NgIRCd) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "ngircd.log"))
	return string(b)
}

// StartNgIRCd starts an ngIRCd owned by the test: stopped and removed at
// cleanup, with the tail of its log printed when the test failed.
func StartNgIRCd(t testing.TB) *NgIRCd {
	t.Helper()
	Require(t, "ngircd")
	s, err := LaunchNgIRCd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("ngircd output:\n%s", tailFiles(s.Dir, "ngircd.log"))
		}
		s.Close()
	})
	return s
}
