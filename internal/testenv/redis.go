package testenv

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// redisConfig is the test configuration of a redis-server 7 (the recipe in
// shared/testpeers/redis): loopback only, no snapshots, no append-only
// file unless asked, in its own directory.
const redisConfig = `# Written by internal/testenv for one test run.
bind 127.0.0.1
port @PORT@
protected-mode no
daemonize no
dir @DIR@
pidfile @DIR@/redis.pid
logfile @DIR@/redis.log
save ""
appendonly @AOF@
appendfsync everysec
maxclients 10000
`

// RedisOptions configure a redis-server.
type RedisOptions struct {
	// Password, when set, is required of clients: the default user's
	// password, or User's when User is set (an ACL user with every
	// right; the default user is then disabled).
	User     string
	Password string
	// ReplicaOf is the master's host:port for a replica.
	ReplicaOf string
	// Cluster starts a node with cluster mode enabled.
	Cluster bool
	// AppendOnly turns the append-only file on (appendfsync everysec).
	AppendOnly bool
	// TLS serves TLS only, with a certificate for 127.0.0.1 from a
	// throwaway CA (see [Redis.TLSConfig]); clients need no certificate.
	TLS bool
}

// Redis is a running redis-server on 127.0.0.1.
type Redis struct {
	Dir string // its temporary directory, removed by Close

	opts RedisOptions
	addr string
	ca   []byte // the CA's PEM, with TLS

	mu sync.Mutex
	d  *daemon
}

// LaunchRedis starts redis-server in a new temporary directory and waits
// until it answers PING. Close stops it and removes the directory.
//
// A port found free may be taken by another process before redis-server
// binds it; then LaunchRedis starts again on other ports, a few times.
func LaunchRedis(opts RedisOptions) (*Redis, error) {
	if err := lookPaths("redis-server", "redis-cli"); err != nil {
		return nil, err
	}
	var err error
	for range 3 {
		var r *Redis
		if r, err = launchRedis(opts); !errors.Is(err, errPortTaken) {
			return r, err
		}
	}
	return nil, err
}

// launchRedis is one attempt of LaunchRedis.
func launchRedis(opts RedisOptions) (*Redis, error) {
	// A cluster node also listens on a bus port. Left to itself, redis
	// takes port+10000, which may be another server's chosen port.
	n := 1
	if opts.Cluster {
		n = 2
	}
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	dir, err := makeTempDir("redis")
	if err != nil {
		return nil, err
	}
	r := &Redis{Dir: dir, opts: opts, addr: "127.0.0.1:" + strconv.Itoa(ports[0])}
	if opts.TLS {
		if r.ca, err = writeTestCertificates(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := r.writeConfig(ports); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := r.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

// writeConfig writes redis.conf for the server's port, ports[0], and with
// Cluster its cluster bus port, ports[1].
func (r *Redis) writeConfig(ports []int) error {
	port := ports[0]
	aof := "no"
	if r.opts.AppendOnly {
		aof = "yes"
	}
	cfg := strings.NewReplacer("@DIR@", r.Dir, "@PORT@", strconv.Itoa(port), "@AOF@", aof).Replace(redisConfig)
	var b strings.Builder
	b.WriteString(cfg)
	if r.opts.TLS {
		fmt.Fprintf(&b, "port 0\ntls-port %d\ntls-cert-file %s/cert.pem\ntls-key-file %s/key.pem\ntls-ca-cert-file %s/ca.pem\ntls-auth-clients no\n",
			port, r.Dir, r.Dir, r.Dir)
	}
	switch {
	case r.opts.User != "":
		fmt.Fprintf(&b, "user default off\nuser %s on >%s ~* &* +@all\n", r.opts.User, r.opts.Password)
	case r.opts.Password != "":
		fmt.Fprintf(&b, "requirepass %s\n", r.opts.Password)
	}
	if r.opts.ReplicaOf != "" {
		host, p, _ := net.SplitHostPort(r.opts.ReplicaOf)
		fmt.Fprintf(&b, "replicaof %s %s\n", host, p)
	}
	// Every server may become a replica (Sentinel demotes a master that
	// comes back after a failover), so each knows how to log in to a
	// master.
	if r.opts.Password != "" {
		if r.opts.User != "" {
			fmt.Fprintf(&b, "masteruser %s\n", r.opts.User)
		}
		fmt.Fprintf(&b, "masterauth %s\n", r.opts.Password)
	}
	if r.opts.Cluster {
		fmt.Fprintf(&b, "cluster-enabled yes\ncluster-port %d\ncluster-config-file nodes.conf\ncluster-node-timeout 5000\n", ports[1])
	}
	return os.WriteFile(filepath.Join(r.Dir, "redis.conf"), []byte(b.String()), 0o600)
}

// Addr is the server's host:port.
func (r *Redis) Addr() string { return r.addr }

// TLSConfig trusts the server's certificate (with TLS).
func (r *Redis) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.ca)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// cli runs redis-cli against the server.
func (r *Redis) cli(args ...string) (string, error) {
	if r.opts.TLS {
		args = append([]string{"--tls", "--cacert", filepath.Join(r.Dir, "ca.pem")}, args...)
	}
	return redisCli(r.addr, r.opts.User, r.opts.Password, args...)
}

// Start starts a stopped server again on the same port, with its data
// directory, and waits until it answers PING.
func (r *Redis) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d != nil {
		return errors.New("redis-server is already running")
	}
	d, err := startDaemon(r.Dir, "redis.out", "redis-server", filepath.Join(r.Dir, "redis.conf"))
	if err != nil {
		return err
	}
	if err := waitRedis(d, r.addr, r.cli, time.Now().Add(startTimeout)); err != nil {
		d.stop()
		tail := tailFiles(r.Dir, "redis.log", "redis.out")
		if strings.Contains(tail, "Address already in use") {
			err = fmt.Errorf("%w (%w)", err, errPortTaken)
		}
		return fmt.Errorf("redis-server: %w:\n%s", err, tail)
	}
	r.d = d
	return nil
}

// Kill ends the server with SIGKILL, as a crash does: nothing is flushed.
func (r *Redis) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d != nil {
		syscall.Kill(-r.d.cmd.Process.Pid, syscall.SIGKILL)
		<-r.d.exited
		r.d.out.Close()
		r.d = nil
	}
}

// Stop stops the server: SIGTERM, then SIGKILL after 5 seconds.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.d != nil {
		r.d.stop()
		r.d = nil
	}
}

// Close stops the server and removes its directory.
func (r *Redis) Close() {
	r.Stop()
	os.RemoveAll(r.Dir)
}

// Cli runs redis-cli against the server with args and returns its output.
func (r *Redis) Cli(args ...string) (string, error) {
	return r.cli(args...)
}

// StartRedis starts a redis-server owned by the test: stopped and removed
// at cleanup, with the tail of its log printed when the test failed. A
// missing redis-server fails the test.
func StartRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	Require(t, "redis-server", "redis-cli")
	r, err := LaunchRedis(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("redis-server %s output:\n%s", r.addr, tailFiles(r.Dir, "redis.log", "redis.out"))
		}
		r.Close()
	})
	return r
}

// RedisCluster is a Redis Cluster of three masters without replicas, on
// loopback.
type RedisCluster struct {
	Nodes []*Redis
}

// Addrs are the nodes' host:port.
func (c *RedisCluster) Addrs() []string {
	var a []string
	for _, n := range c.Nodes {
		a = append(a, n.Addr())
	}
	return a
}

// StartRedisCluster starts three cluster-enabled redis-servers, joins
// them with redis-cli --cluster create (every slot covered, no replicas)
// and waits until the cluster is ok.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	c := &RedisCluster{}
	for range 3 {
		c.Nodes = append(c.Nodes, StartRedis(t, RedisOptions{Cluster: true}))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, n := range c.Nodes {
		for {
			out, err := n.Cli("cluster", "info")
			if err == nil && strings.Contains(out, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redis cluster node %s not ok within %s: %v\n%s", n.Addr(), startTimeout, err, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// sentinelConfig watches one master. Sentinel rewrites the file as it
// learns about replicas and failovers.
const sentinelConfig = `# Written by internal/testenv for one test run.
bind 127.0.0.1
port @PORT@
daemonize no
dir @DIR@
logfile @DIR@/sentinel.log
sentinel monitor @NAME@ 127.0.0.1 @MASTER@ @QUORUM@
sentinel down-after-milliseconds @NAME@ 1000
sentinel failover-timeout @NAME@ 10000
sentinel parallel-syncs @NAME@ 1
`

// RedisSentinel is a master, one replica of it, and sentinels watching
// the master under MasterName, all on loopback.
type RedisSentinel struct {
	MasterName string
	Master     *Redis
	Replica    *Redis
	Sentinels  []*Redis
}

// SentinelAddrs are the sentinels' host:port.
func (s *RedisSentinel) SentinelAddrs() []string {
	var a []string
	for _, n := range s.Sentinels {
		a = append(a, n.Addr())
	}
	return a
}

// CurrentMaster asks the first live sentinel which server is the master.
func (s *RedisSentinel) CurrentMaster() (string, error) {
	var lastErr error
	for _, n := range s.Sentinels {
		out, err := redisCli(n.Addr(), "", "", "sentinel", "get-master-addr-by-name", s.MasterName)
		if err != nil {
			lastErr = err
			continue
		}
		f := strings.Fields(out)
		if len(f) != 2 {
			lastErr = fmt.Errorf("sentinel answered %q", out)
			continue
		}
		return net.JoinHostPort(f[0], f[1]), nil
	}
	return "", lastErr
}

// StartRedisSentinel starts a master (with opts), a replica of it, and n
// sentinels (quorum n/2+1) that watch it. The master's replica is in sync
// and every sentinel knows the replica when it returns.
func StartRedisSentinel(t testing.TB, opts RedisOptions, n int) *RedisSentinel {
	t.Helper()
	Require(t, "redis-server", "redis-sentinel", "redis-cli")
	s := &RedisSentinel{MasterName: "switchboard"}
	s.Master = StartRedis(t, opts)
	ropts := opts
	ropts.ReplicaOf = s.Master.Addr()
	s.Replica = StartRedis(t, ropts)
	waitFor(t, "the replica to sync", func() (bool, string) {
		out, err := s.Replica.Cli("info", "replication")
		return err == nil && strings.Contains(out, "master_link_status:up"), out
	})
	ports, err := freePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	_, masterPort, _ := net.SplitHostPort(s.Master.Addr())
	for _, port := range ports {
		dir, err := makeTempDir("sentinel")
		if err != nil {
			t.Fatal(err)
		}
		cfg := strings.NewReplacer("@DIR@", dir, "@PORT@", strconv.Itoa(port), "@NAME@", s.MasterName,
			"@MASTER@", masterPort, "@QUORUM@", strconv.Itoa(n/2+1)).Replace(sentinelConfig)
		if opts.Password != "" {
			if opts.User != "" {
				cfg += fmt.Sprintf("sentinel auth-user %s %s\n", s.MasterName, opts.User)
			}
			cfg += fmt.Sprintf("sentinel auth-pass %s %s\n", s.MasterName, opts.Password)
		}
		if err := os.WriteFile(filepath.Join(dir, "sentinel.conf"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := startDaemon(dir, "sentinel.out", "redis-sentinel", filepath.Join(dir, "sentinel.conf"))
		if err != nil {
			t.Fatal(err)
		}
		sn := &Redis{Dir: dir, addr: "127.0.0.1:" + strconv.Itoa(port), d: d}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("redis-sentinel %s output:\n%s", sn.addr, tailFiles(dir, "sentinel.log", "sentinel.out"))
			}
			sn.Close()
		})
		if err := waitRedis(d, sn.addr, sn.cli, time.Now().Add(startTimeout)); err != nil {
			t.Fatalf("redis-sentinel: %v\n%s", err, tailFiles(dir, "sentinel.log", "sentinel.out"))
		}
		s.Sentinels = append(s.Sentinels, sn)
	}
	for _, sn := range s.Sentinels {
		waitFor(t, "sentinel "+sn.addr+" to know the replica and the other sentinels", func() (bool, string) {
			out, err := redisCli(sn.addr, "", "", "sentinel", "master", s.MasterName)
			if err != nil {
				return false, err.Error()
			}
			f := strings.Fields(out)
			var replicas, others string
			for i := 0; i+1 < len(f); i++ {
				switch f[i] {
				case "num-slaves":
					replicas = f[i+1]
				case "num-other-sentinels":
					others = f[i+1]
				}
			}
			return replicas == "1" && others == strconv.Itoa(n-1), out
		})
	}
	return s
}

// waitFor polls cond every 50ms until it holds, failing the test with its
// last detail after startTimeout.
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within %s:\n%s", what, startTimeout, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errPortTaken is Redis.Start's error when the server could not bind one of
// its ports.
var errPortTaken = errors.New("a port was taken")

// waitRedis polls until the server at addr answers PING through cli, d
// exits, or the deadline passes. The answer must come from d's process:
// another server that took the port is errPortTaken.
func waitRedis(d *daemon, addr string, cli func(...string) (string, error), deadline time.Time) error {
	pid := "process_id:" + strconv.Itoa(d.cmd.Process.Pid)
	for {
		if d.hasExited() {
			return fmt.Errorf("%s exited at start", d.name)
		}
		out, err := cli("ping")
		if err == nil && strings.TrimSpace(out) == "PONG" {
			info, err := cli("info", "server")
			if err == nil && slices.Contains(strings.Fields(info), pid) {
				return nil
			}
			if err == nil {
				return fmt.Errorf("%s: another server answers on %s (%w)", d.name, addr, errPortTaken)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer PING on %s within %s: %v %s", d.name, addr, startTimeout, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cliTimeout bounds one redis-cli command.
const cliTimeout = 10 * time.Second

// redisCli runs redis-cli against addr. The password goes in the
// REDISCLI_AUTH environment variable, not on a command line others can
// read.
func redisCli(addr, user, password string, args ...string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	all := []string{"-h", host, "-p", port}
	if user != "" {
		all = append(all, "--user", user)
	}
	// Whatever listens on addr may accept and never answer (another
	// process took the port); redis-cli would wait for ever.
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "redis-cli", append(all, args...)...)
	cmd.Env = os.Environ()
	if password != "" {
		cmd.Env = append(cmd.Env, "REDISCLI_AUTH="+password)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("redis-cli %s: %w", strings.Join(args, " "), err)
	}
	// redis-cli prints server errors on stdout with exit status 0.
	if sc := bufio.NewScanner(strings.NewReader(string(out))); sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "ERR") || strings.HasPrefix(line, "NOAUTH") || strings.HasPrefix(line, "WRONGPASS") {
			return string(out), fmt.Errorf("redis-cli %s: %s", strings.Join(args, " "), line)
		}
	}
	return string(out), nil
}
