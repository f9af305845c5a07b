package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pgBin is where Debian's postgresql-15 puts the server binaries (they are
// not on PATH).
const pgBin = "/usr/lib/postgresql/15/bin"

// spacebarStartTimeout bounds a start: initdb, PostgreSQL, and Spacebar's
// first start, which runs its database migrations (15–20 s measured on
// two cores).
const spacebarStartTimeout = 90 * time.Second

// Spacebar is a running Spacebar server (spacebarchat/server, an
// open-source implementation of Discord's REST API v9, gateway and CDN)
// with its own PostgreSQL 15, both in a temporary directory. REST is under
// BaseURL()+"api/v9/", the gateway websocket and the CDN on the same port.
// It stands in for Discord in tests; [Spacebar.SetupScene] and the other
// helpers create its users, bots, guilds and channels over HTTP.
//
// Caveat: Spacebar has no listen-address option and listens on all
// interfaces (PostgreSQL only on 127.0.0.1); its endpoints, which it hands
// to clients, all name 127.0.0.1.
type Spacebar struct {
	Dir string // its temporary directory (config, files, database, logs), removed by Close

	port   int
	pgPort int
	build  *spacebarBuild
	client *http.Client

	mu sync.Mutex
	pg *daemon
	sb *daemon
}

// LaunchSpacebar builds Spacebar if this recipe has no cached build yet
// (about a minute, needs the npm registry), then starts PostgreSQL and
// Spacebar on free ports in a new temporary directory and waits until the
// REST API answers. Close stops both and removes the directory.
func LaunchSpacebar(ctx context.Context) (*Spacebar, error) {
	for _, b := range []string{"postgres", "initdb", "pg_isready", "createdb"} {
		if _, err := exec.LookPath(filepath.Join(pgBin, b)); err != nil {
			return nil, fmt.Errorf("PostgreSQL 15 is not installed: run `make test`, which installs the Debian packages the tests need (postgresql-15): %w", err)
		}
	}
	b, err := ensureSpacebarBuild(ctx)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	dir, err := makeTempDir("spacebar")
	if err != nil {
		return nil, err
	}
	s := &Spacebar{Dir: dir, port: ports[0], pgPort: ports[1], build: b,
		client: &http.Client{Timeout: 30 * time.Second}}
	if err := s.start(ctx, ports[2]); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// BaseURL is the server's root, "http://127.0.0.1:PORT/", the form
// discordgo's EndpointDiscord takes.
func (s *Spacebar) BaseURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) + "/" }

// APIURL is the REST API's root, BaseURL()+"api/v9/".
func (s *Spacebar) APIURL() string { return s.BaseURL() + "api/v9/" }

// start is start.sh of the recipe: PostgreSQL as user postgres (it refuses
// root) with trust authentication and no fsync, a database "spacebar",
// then the Spacebar bundle with the node preload that turns int8 columns
// into numbers.
func (s *Spacebar) start(ctx context.Context, wrtcPort int) error {
	deadline := time.Now().Add(spacebarStartTimeout)
	pgData := filepath.Join(s.Dir, "pg")
	if err := os.MkdirAll(filepath.Join(s.Dir, "files"), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(pgData, 0o700); err != nil {
		return err
	}
	cred, err := postgresCredential(pgData)
	if err != nil {
		return err
	}
	initdb := exec.CommandContext(ctx, filepath.Join(pgBin, "initdb"), "-D", pgData, "-U", "postgres", "-A", "trust", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	pg, err := startProcess(s.Dir, "postgres.log", s.Dir, nil, cred, filepath.Join(pgBin, "postgres"),
		"-D", pgData, "-p", strconv.Itoa(s.pgPort), "-h", "127.0.0.1", "-k", pgData,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	if err != nil {
		return err
	}
	s.pg = pg
	if err := waitListening(pg, "127.0.0.1:"+strconv.Itoa(s.pgPort), deadline); err != nil {
		return fmt.Errorf("postgres: %w:\n%s", err, tailFiles(s.Dir, "postgres.log"))
	}
	pgArgs := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.pgPort), "-U", "postgres"}
	for {
		if exec.CommandContext(ctx, filepath.Join(pgBin, "pg_isready"), append([]string{"-q"}, pgArgs...)...).Run() == nil {
			break
		}
		if time.Now().After(deadline) || pg.hasExited() {
			return fmt.Errorf("postgres not ready:\n%s", tailFiles(s.Dir, "postgres.log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := exec.CommandContext(ctx, filepath.Join(pgBin, "createdb"), append(pgArgs, "spacebar")...).CombinedOutput(); err != nil {
		return fmt.Errorf("createdb: %w\n%s", err, out)
	}

	tmpl, err := os.ReadFile(filepath.Join(s.build.recipe, "config.json.in"))
	if err != nil {
		return err
	}
	cfg := strings.ReplaceAll(string(tmpl), "@PORT@", strconv.Itoa(s.port))
	if err := os.WriteFile(filepath.Join(s.Dir, "config.json"), []byte(cfg), 0o644); err != nil {
		return err
	}
	env := append(os.Environ(),
		fmt.Sprintf("DATABASE=postgres://postgres@127.0.0.1:%d/spacebar", s.pgPort),
		"PORT="+strconv.Itoa(s.port),
		"CONFIG_PATH="+filepath.Join(s.Dir, "config.json"),
		"STORAGE_LOCATION="+filepath.Join(s.Dir, "files"),
		"WRTC_WS_PORT="+strconv.Itoa(wrtcPort),
		"THREADS=1",
	)
	sb, err := startProcess(s.Dir, "spacebar.log", s.build.src, env, nil, s.build.node,
		"--enable-source-maps", "--require", filepath.Join(s.build.recipe, "pg-int8.js"), "dist/bundle/start.js")
	if err != nil {
		return err
	}
	s.sb = sb
	// The port opens before the API and gateway finish their set-up: wait
	// for the REST API to answer.
	for {
		if err := s.gatewayAnswers(ctx); err == nil {
			return nil
		}
		if sb.hasExited() {
			return fmt.Errorf("spacebar exited at start:\n%s", s.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("spacebar's API did not answer within %s:\n%s", spacebarStartTimeout, s.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Spacebar) gatewayAnswers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.APIURL()+"gateway", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /gateway: %s", resp.Status)
	}
	return nil
}

// postgresCredential is the user PostgreSQL runs as: as root, user
// postgres (PostgreSQL refuses root), owning its data directory; otherwise
// nil, the current user.
func postgresCredential(pgData string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgresql runs as user postgres, which postgresql-15 creates: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(pgData, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// startProcess is startDaemon with a working directory, an environment
// (nil: inherited) and a user (nil: ours).
func startProcess(dir, outFile, cwd string, env []string, cred *syscall.Credential, name string, args ...string) (*daemon, error) {
	out, err := os.OpenFile(filepath.Join(dir, outFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = cwd
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = serverProcAttr(cred)
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	d := &daemon{name: filepath.Base(name), cmd: cmd, exited: make(chan struct{}), out: out}
	go func() { cmd.Wait(); close(d.exited) }()
	return d, nil
}

// Stop stops Spacebar, then PostgreSQL (SIGTERM, SIGKILL after 5 s).
func (s *Spacebar) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sb != nil {
		s.sb.stop()
		s.sb = nil
	}
	if s.pg != nil {
		s.pg.stop()
		s.pg = nil
	}
}

// Close stops the servers and removes the directory.
func (s *Spacebar) Close() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

// Log returns Spacebar's output.
func (s *Spacebar) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "spacebar.log"))
	return string(b)
}

// PIDs are the process ids of Spacebar's node and of the PostgreSQL
// postmaster, 0 when stopped (for measuring their memory).
func (s *Spacebar) PIDs() (spacebar, postgres int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sb != nil {
		spacebar = s.sb.cmd.Process.Pid
	}
	if s.pg != nil {
		postgres = s.pg.cmd.Process.Pid
	}
	return spacebar, postgres
}

func (s *Spacebar) tail() string {
	return tailFiles(s.Dir, "spacebar.log", "postgres.log")
}

// StartSpacebar starts a Spacebar owned by the test (building it first
// when the cache has no build of this recipe): stopped and removed at
// cleanup, with the tails of its and PostgreSQL's logs printed when the
// test failed. A missing PostgreSQL or npm, or a failed build, fails the
// test: it never skips.
func StartSpacebar(t testing.TB) *Spacebar {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), spacebarBuildTimeout+spacebarStartTimeout)
	defer cancel()
	s, err := LaunchSpacebar(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("spacebar: %v (build or start took too long)", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("spacebar output:\n%s", s.tail())
		}
		s.Close()
	})
	return s
}

// SharedSpacebar is the one Spacebar of a test package (it takes 16–20 s
// to start): the first test that calls Get starts it, and the package's
// TestMain calls Close after m.Run. A start that failed fails every test
// that asks, never skips it. The zero value is ready to use.
type SharedSpacebar struct {
	// Started, if set, runs once the server is up, before Get returns
	// it to any test (to point a client library's globals at it).
	Started func(*Spacebar)

	once sync.Once
	err  error
	srv  *Spacebar
}

// Get returns the package's Spacebar, starting it on the first call
// (within 5 minutes).
func (s *SharedSpacebar) Get(t testing.TB) *Spacebar {
	t.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if s.srv, s.err = LaunchSpacebar(ctx); s.err == nil && s.Started != nil {
			s.Started(s.srv)
		}
	})
	if s.err != nil {
		t.Fatalf("Spacebar: %v", s.err)
	}
	return s.srv
}

// Close stops the server, if one was started.
func (s *SharedSpacebar) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}
