// Command switchboard-load measures an XMPP–IRC gateway under load and
// prints figures: for N XMPP users joined to one IRC channel through the
// gateway, IRC→XMPP throughput and latency, XMPP→IRC throughput and
// latency, the time the joins took, and the gateway's resident memory per
// joined user. It runs the same scenario against Switchboard and, for
// comparison, biboumi (Debian package), each on a fresh Prosody and
// InspIRCd started here.
//
// The burst scenario (-burst) measures outgoing pacing alone: each of the
// users (default 10) sends a burst of -sends messages (default 30) into
// the channel at once; the figures are the messages delivered to IRC per
// second, their latency, how many were lost and how many reached IRC out
// of their sender's order. -echo=false runs InspIRCd without
// echo-message, where a gateway learns that the server took a message
// only from the answer to a PING written after it.
//
// The gateway runs as its own process, so its RSS is its own; the XMPP
// clients and the IRC peer run in this process.
//
//	go build -o /tmp/switchboard ./cmd/switchboard
//	go run ./cmd/switchboard-load -switchboard /tmp/switchboard -users 50
//	go run ./cmd/switchboard-load -burst -echo=false -gateways switchboard,biboumi
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

const (
	domain   = "irc.localhost"
	secret   = "s3cret"
	channel  = "#load"
	password = "load-pw"
)

// ircHost is the loopback address InspIRCd listens on, port 6667, where
// biboumi looks for a server named by its address (-irc-host: another,
// for a run beside another one on the same machine); ircAddr is its
// client address.
var ircHost, ircAddr string

func main() {
	var (
		gateways = flag.String("gateways", "switchboard,biboumi", "gateways to measure, comma-separated: switchboard (bbolt), switchboard-redis, switchboard-redis-replica (min_replicas = 1), biboumi")
		bin      = flag.String("switchboard", "", "path to the switchboard binary (default: build it)")
		users    = flag.Int("users", 50, "XMPP users joined to the channel")
		messages = flag.Int("messages", 200, "messages said on IRC (each reaches every user)")
		sends    = flag.Int("sends", 5, "messages each XMPP user says")
		idle     = flag.Bool("idle", false, "measure idle IRC users of the irc package in process instead (see -steps)")
		idleGw   = flag.Bool("idle-gateways", false, "measure idle users through the gateways instead: RSS after each of -steps")
		steps    = flag.String("steps", "10,100,500", "with -idle or -idle-gateways: users in the channel after each step")
		heapProf = flag.String("heapprofile", "", "with -idle: write a heap profile here after the last step")
		profDir  = flag.String("profile", "", "with -idle-gateways: build Switchboard with -tags pprof and write its heap and goroutine profiles before the joins (GATEWAY-heap-0…) and after each step into this directory")
		memRate  = flag.Int("memprofilerate", 0, "with -profile: the gateway samples one allocation per this many bytes (GODEBUG=memprofilerate; 0: the runtime's 512 KiB); the profiling itself then costs memory, so RSS figures of such a run are not comparable")
		settle   = flag.Duration("settle", 0, "with -idle-gateways: also measure each gateway's RSS this long after each step's joins (beside the figure 3 s after them), once the runtime has had time to return freed pages")
		warmup   = flag.Bool("warmup", false, "with -idle-gateways: one user joins the channel and leaves before the steps, and each step is also measured against the RSS after that (the marginal cost per user, without what the first join costs once), beside the cold figure")
		burst    = flag.Bool("burst", false, "the burst scenario: no IRC→XMPP phase; each user sends -sends messages at once (defaults: -users 10 -sends 30)")
		echo     = flag.Bool("echo", true, "InspIRCd offers echo-message (false: gateways confirm their messages otherwise, e.g. with PING)")
	)
	irc := flag.String("irc-host", "127.0.0.2", "the loopback address InspIRCd listens on (port 6667)")
	flag.Parse()
	ircHost, ircAddr = *irc, net.JoinHostPort(*irc, "6667")
	if *burst {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["users"] {
			*users = 10
		}
		if !set["sends"] {
			*sends = 30
		}
		*messages = 0
	}
	if *idle {
		st, err := parseSteps(*steps)
		if err != nil {
			fatal(err)
		}
		if err := runIdle(os.Stdout, st, *heapProf); err != nil {
			fatal(fmt.Errorf("idle: %w", err))
		}
		return
	}
	if *bin == "" {
		dir, err := os.MkdirTemp("", "switchboard-load-bin-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(dir)
		*bin = filepath.Join(dir, "switchboard")
		fmt.Fprintln(os.Stderr, "building switchboard…")
		args := []string{"build", "-o", *bin}
		if *profDir != "" {
			args = append(args, "-tags", "pprof")
		}
		cmd := exec.Command("go", append(args, "./cmd/switchboard")...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fatal(fmt.Errorf("building switchboard: %w", err))
		}
	}
	if *idleGw {
		st, err := parseSteps(*steps)
		if err != nil {
			fatal(err)
		}
		var gs []string
		for _, g := range strings.Split(*gateways, ",") {
			gs = append(gs, strings.TrimSpace(g))
		}
		if err := runIdleGateways(os.Stdout, gs, *bin, st, idleOptions{profDir: *profDir, memProfileRate: *memRate, settle: *settle, warmup: *warmup}); err != nil {
			fatal(fmt.Errorf("idle: %w", err))
		}
		return
	}
	var results []*result
	for _, g := range strings.Split(*gateways, ",") {
		g = strings.TrimSpace(g)
		fmt.Fprintf(os.Stderr, "\n=== %s: %d users, %d IRC messages, %d XMPP messages per user, echo-message %v\n", g, *users, *messages, *sends, *echo)
		r, err := measure(g, *bin, *users, *messages, *sends, *echo)
		if err != nil {
			fatal(fmt.Errorf("%s: %w", g, err))
		}
		results = append(results, r)
	}
	if *burst {
		printBurst(os.Stdout, results, *users, *sends, *echo)
		return
	}
	printTable(os.Stdout, results, *users, *messages, *sends)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "switchboard-load:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "  "+format+"\n", args...)
}

// result holds one gateway's figures.
type result struct {
	gateway            string
	joinTime           time.Duration
	inRate, outRate    float64 // messages delivered per second
	inP50, inP99       time.Duration
	outP50, outP99     time.Duration
	inLost, outLost    int
	outOfOrder         int   // XMPP→IRC messages that reached IRC before an earlier one of their sender
	rssBase, rssJoined int64 // bytes
	rssPerUser         float64
	cpuBase, cpuAfter  time.Duration
	// cpuJoined and cpuIn are the gateway's CPU time after the joins
	// and after the IRC→XMPP phase: each phase's CPU per message.
	cpuJoined, cpuIn        time.Duration
	inDeliveries, outDelivs int
}

// measure runs the scenario against gateway; messages 0 leaves out the
// IRC→XMPP phase (the burst scenario).
func measure(gateway, bin string, users, messages, sends int, echo bool) (*result, error) {
	r := &result{gateway: gateway}
	dir, err := os.MkdirTemp("", "switchboard-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	p, err := testenv.LaunchProsody(filepath.Join(dir), testenv.ProsodyOptions{Components: map[string]string{domain: secret}, Quiet: true})
	if err != nil {
		return nil, err
	}
	defer p.Shutdown()
	ircd, err := testenv.LaunchInspIRCd(testenv.InspIRCdOptions{ClientAddr: ircAddr, NoEchoMessage: !echo})
	if err != nil {
		return nil, err
	}
	defer ircd.Close()
	logf("Prosody %s, InspIRCd %s", p.C2SAddr, ircAddr)

	gw, err := startGateway(ctx, gateway, bin, dir, p.ComponentAddr)
	if err != nil {
		return nil, err
	}
	defer gw.stop()

	// The IRC peer: opens the channel, speaks, and counts what arrives.
	peer, err := dialIRC(ctx, ircAddr, "speaker")
	if err != nil {
		return nil, err
	}
	defer peer.conn.Close()
	peer.send("JOIN " + channel)

	logf("creating %d XMPP users", users)
	if err := createUsers(p, users); err != nil {
		return nil, err
	}
	if err := waitGateway(ctx, p); err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // let the gateway settle before the baseline
	r.rssBase = gw.rss()
	r.cpuBase = gw.cpu()

	logf("logging in and joining %s through %s", channel, gateway)
	room := channel + "%" + ircHost + "@" + domain
	clients := make([]*client, users)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, users)
	sem := make(chan struct{}, 16)
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := joinRoom(ctx, p, i, room)
			if err != nil {
				errs <- err
				return
			}
			clients[i] = c
		}(i)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	r.joinTime = time.Since(start)
	defer func() {
		for _, c := range clients {
			c.c.Shutdown()
		}
	}()
	time.Sleep(2 * time.Second) // joins are done; let memory settle
	r.rssJoined = gw.rss()
	r.cpuJoined = gw.cpu()
	r.rssPerUser = float64(r.rssJoined-r.rssBase) / float64(users)
	logf("joined in %v; RSS %s → %s", r.joinTime.Round(time.Millisecond), mib(r.rssBase), mib(r.rssJoined))

	// IRC → XMPP.
	if messages > 0 {
		measureIn(r, peer, clients, messages)
	}
	r.cpuIn = gw.cpu()

	// XMPP → IRC.
	want := users * sends
	peer.expectCount(want)
	first := time.Now()
	for i, c := range clients {
		for k := range sends {
			body := fmt.Sprintf("up %d %d %d", i, k, time.Now().UnixNano())
			if err := c.c.SendRaw(ctx, `<message type="groupchat" to="`+room+`"><body>`+body+`</body></message>`); err != nil {
				return nil, err
			}
		}
	}
	outLat, outLast := peer.waitCount(time.Now().Add(3 * time.Minute))
	r.outDelivs = len(outLat)
	r.outLost = want - len(outLat)
	r.outRate = float64(len(outLat)) / outLast.Sub(first).Seconds()
	r.outP50, r.outP99 = percentile(outLat, 50), percentile(outLat, 99)
	r.outOfOrder = peer.outOfOrder()
	r.cpuAfter = gw.cpu()
	logf("XMPP→IRC: %d messages, %.0f/s, p50 %v, p99 %v, lost %d", len(outLat), r.outRate, r.outP50, r.outP99, r.outLost)
	return r, nil
}

// measureIn is the IRC→XMPP phase: the peer says messages in the
// channel, and every client counts what reaches it.
func measureIn(r *result, peer *ircPeer, clients []*client, messages int) {
	for _, c := range clients {
		c.reset(messages)
	}
	first := time.Now()
	for i := range messages {
		peer.send(fmt.Sprintf("PRIVMSG %s :load %d %d", channel, i, time.Now().UnixNano()))
	}
	var lat []time.Duration
	last := first
	deadline := time.Now().Add(3 * time.Minute)
	for _, c := range clients {
		got := c.wait(deadline)
		lat = append(lat, got.lat...)
		if got.last.After(last) {
			last = got.last
		}
		r.inLost += messages - len(got.lat)
	}
	r.inDeliveries = len(lat)
	r.inRate = float64(len(lat)) / last.Sub(first).Seconds()
	r.inP50, r.inP99 = percentile(lat, 50), percentile(lat, 99)
	logf("IRC→XMPP: %d deliveries, %.0f/s, p50 %v, p99 %v, lost %d", len(lat), r.inRate, r.inP50, r.inP99, r.inLost)
}

// gatewayProc is the gateway under test, a child process.
type gatewayProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	// httpAddr is Switchboard's HTTP listener (/metrics), "" for biboumi.
	httpAddr string
	// closers stop what runs beside the gateway (its Redis), after it.
	closers []func()
}

// startGateway starts gateway with its configuration in dir; env is
// added to Switchboard's environment.
func startGateway(ctx context.Context, gateway, bin, dir, componentAddr string, env ...string) (_ *gatewayProc, rerr error) {
	var cmd *exec.Cmd
	var closers []func()
	httpAddr := ""
	defer func() {
		if rerr != nil { // the gateway did not start: stop its Redis
			for _, c := range closers {
				c()
			}
		}
	}()
	switch gateway {
	case "switchboard", "switchboard-redis", "switchboard-redis-replica":
		storage := fmt.Sprintf("path = %q", filepath.Join(dir, "switchboard.db"))
		if gateway != "switchboard" {
			var err error
			storage, closers, err = startRedis(gateway == "switchboard-redis-replica")
			if err != nil {
				return nil, err
			}
		}
		var err error
		if httpAddr, err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
		cfg := fmt.Sprintf(`[xmpp]
server = %q
[storage]
%s
[security]
key_file = %q
allowed_domains = ["localhost"]
[http]
listen = %q
[log]
level = "warn"
[irc]
domain = %q
secret = %q
[irc.servers.%q]
address = %q
plaintext = true
`, componentAddr, storage, filepath.Join(dir, "switchboard.key"), httpAddr, domain, secret, ircHost, ircAddr)
		file := filepath.Join(dir, "switchboard.toml")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		cmd = exec.CommandContext(ctx, bin, "run", "--config", file)
		cmd.Env = append(os.Environ(), env...)
	case "biboumi":
		host, port, _ := net.SplitHostPort(componentAddr)
		cfg := fmt.Sprintf("hostname=%s\npassword=%s\nxmpp_server_ip=%s\nport=%s\ndb_name=%s\nlog_level=2\nidentd_port=0\nrealname_customization=false\npolicy_directory=%s\n",
			domain, secret, host, port, filepath.Join(dir, "biboumi.sqlite"), dir)
		file := filepath.Join(dir, "biboumi.cfg")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		if _, err := exec.LookPath("biboumi"); err != nil {
			return nil, errors.New("biboumi is not installed (apt-get install biboumi)")
		}
		cmd = exec.CommandContext(ctx, "biboumi", file)
	default:
		return nil, fmt.Errorf("unknown gateway %q (switchboard, switchboard-redis, switchboard-redis-replica, biboumi)", gateway)
	}
	out, err := os.Create(filepath.Join(dir, gateway+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &gatewayProc{cmd: cmd, done: make(chan struct{}), httpAddr: httpAddr, closers: closers}
	go func() {
		cmd.Wait()
		out.Close()
		close(g.done)
	}()
	return g, nil
}

func (g *gatewayProc) stop() {
	g.cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
	}
	for _, c := range g.closers {
		c()
	}
}

// startRedis starts a redis-server for the gateway (with appendonly, as
// the README asks of production), with a replica and min_replicas = 1
// when replica is set, and returns the [storage] keys that use it and
// what stops it.
func startRedis(replica bool) (string, []func(), error) {
	master, err := testenv.LaunchRedis(testenv.RedisOptions{AppendOnly: true})
	if err != nil {
		return "", nil, fmt.Errorf("redis: %w", err)
	}
	closers := []func(){master.Close}
	keys := fmt.Sprintf("url = %q", "redis://"+master.Addr())
	if !replica {
		return keys, closers, nil
	}
	r, err := testenv.LaunchRedis(testenv.RedisOptions{AppendOnly: true, ReplicaOf: master.Addr()})
	if err != nil {
		master.Close()
		return "", nil, fmt.Errorf("redis replica: %w", err)
	}
	closers = append([]func(){r.Close}, closers...)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if out, err := r.Cli("info", "replication"); err == nil && strings.Contains(out, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			for _, c := range closers {
				c()
			}
			return "", nil, errors.New("the redis replica never synced")
		}
	}
	return keys + "\nmin_replicas = 1", closers, nil
}

// rss is the process's resident set size in bytes.
func (g *gatewayProc) rss() int64 { return g.status("VmRSS") }

// status is the byte count the process's /proc status gives for key
// (VmRSS; RssAnon: its heap, stacks and other private memory; RssFile:
// the pages of its binary and libraries it touched), 0 when unknown.
func (g *gatewayProc) status(key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cpu is the process's user+system CPU time.
func (g *gatewayProc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// createUsers registers load users with prosodyctl, a few at a time.
func createUsers(p *testenv.Prosody, n int) error {
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := p.AddUser("u"+strconv.Itoa(i), password); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// waitGateway waits until the gateway answers disco#info.
func waitGateway(ctx context.Context, p *testenv.Prosody) error {
	c, err := testenv.Dial(ctx, p.C2SAddr, jid.MustParse("u0@localhost"), password, "probe", 0)
	if err != nil {
		return err
	}
	defer c.Shutdown()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := c.Request(qctx, `<iq type="get" to="`+domain+`"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
		cancel()
		if err == nil && res.Attr("type") == "result" {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("the gateway never answered disco#info")
}

// client is one XMPP user in the room, counting the speaker's messages.
type client struct {
	c    *testenv.Client
	room string

	mu    sync.Mutex
	want  int
	lat   []time.Duration
	last  time.Time
	ready chan struct{}
}

type received struct {
	lat  []time.Duration
	last time.Time
}

func joinRoom(ctx context.Context, p *testenv.Prosody, i int, room string) (*client, error) {
	user := jid.MustParse("u" + strconv.Itoa(i) + "@localhost")
	c, err := testenv.Dial(ctx, p.C2SAddr, user, password, "load", 0)
	if err != nil {
		return nil, err
	}
	cl := &client{c: c, room: room}
	nick := "u" + strconv.Itoa(i)
	if err := c.SendRaw(ctx, `<presence/>`); err != nil {
		return nil, err
	}
	if err := c.SendRaw(ctx, `<presence to="`+room+`/`+nick+`"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="0"/></x></presence>`); err != nil {
		return nil, err
	}
	jctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err = c.Next(jctx, func(el *testenv.Element) bool {
		if el.Name.Local != "presence" || !strings.HasPrefix(el.Attr("from"), room+"/") {
			return false
		}
		if el.Attr("type") == "error" {
			return true
		}
		x := el.Child("http://jabber.org/protocol/muc#user", "x")
		if x == nil {
			return false
		}
		for _, st := range x.Children {
			if st.Name.Local == "status" && st.Attr("code") == "110" {
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("%s joining: %w", user, err)
	}
	go cl.consume(ctx)
	return cl, nil
}

// consume takes the speaker's messages off the client as they arrive.
func (cl *client) consume(ctx context.Context) {
	from := cl.room + "/speaker"
	for {
		el, err := cl.c.Next(ctx, func(el *testenv.Element) bool {
			return el.Name.Local == "message" && el.Attr("from") == from
		})
		if err != nil {
			return
		}
		now := time.Now()
		f := strings.Fields(el.ChildText("", "body"))
		if len(f) != 3 || f[0] != "load" {
			continue
		}
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		cl.mu.Lock()
		cl.lat = append(cl.lat, now.Sub(time.Unix(0, ns)))
		cl.last = now
		if len(cl.lat) == cl.want && cl.ready != nil {
			close(cl.ready)
			cl.ready = nil
		}
		cl.mu.Unlock()
	}
}

func (cl *client) reset(want int) {
	cl.mu.Lock()
	cl.want, cl.lat, cl.ready = want, nil, make(chan struct{})
	cl.mu.Unlock()
}

func (cl *client) wait(deadline time.Time) received {
	cl.mu.Lock()
	ch := cl.ready
	cl.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
		}
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return received{lat: append([]time.Duration(nil), cl.lat...), last: cl.last}
}

// ircPeer is the person on IRC.
type ircPeer struct {
	conn net.Conn
	wmu  sync.Mutex
	w    *bufio.Writer

	mu    sync.Mutex
	want  int
	lat   []time.Duration
	last  time.Time
	ready chan struct{}
	count atomic.Int64
	nth   map[string]int // the latest message number read of each sender
	late  int            // messages read after a later one of their sender
}

func dialIRC(ctx context.Context, addr, nick string) (*ircPeer, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &ircPeer{conn: conn, w: bufio.NewWriter(conn)}
	welcome := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		once := sync.Once{}
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "PING "):
				p.send("PONG " + l[5:])
			case strings.Contains(l, " 001 "):
				once.Do(func() { close(welcome) })
			case strings.Contains(l, " PRIVMSG "+channel+" :up "):
				p.gotUp(l)
			}
		}
	}()
	p.send("NICK " + nick)
	p.send("USER " + nick + " 0 * :" + nick)
	select {
	case <-welcome:
	case <-time.After(10 * time.Second):
		return nil, errors.New("IRC server did not welcome the load peer")
	}
	return p, nil
}

func (p *ircPeer) send(line string) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.w.WriteString(line + "\r\n")
	p.w.Flush()
}

func (p *ircPeer) gotUp(l string) {
	now := time.Now()
	f := strings.Fields(l[strings.Index(l, " :up ")+2:])
	if len(f) != 4 {
		return
	}
	ns, _ := strconv.ParseInt(f[3], 10, 64)
	k, _ := strconv.Atoi(f[2])
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.nth[f[1]]; ok && k < prev {
		p.late++
	} else {
		p.nth[f[1]] = k
	}
	p.lat = append(p.lat, now.Sub(time.Unix(0, ns)))
	p.last = now
	if len(p.lat) == p.want && p.ready != nil {
		close(p.ready)
		p.ready = nil
	}
}

func (p *ircPeer) expectCount(n int) {
	p.mu.Lock()
	p.want, p.lat, p.ready = n, nil, make(chan struct{})
	p.nth, p.late = make(map[string]int), 0
	p.mu.Unlock()
}

// outOfOrder is how many messages reached IRC after a later one of
// their sender, since expectCount.
func (p *ircPeer) outOfOrder() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.late
}

func (p *ircPeer) waitCount(deadline time.Time) ([]time.Duration, time.Time) {
	p.mu.Lock()
	ch := p.ready
	p.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.lat...), p.last
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// tableRows prints a Markdown table's header, one column per gateway of
// rs, and returns the function that prints a row of it.
func tableRows(w *os.File, rs []*result) func(name string, f func(*result) string) {
	fmt.Fprintf(w, "| %-26s |", "")
	for _, r := range rs {
		fmt.Fprintf(w, " %-25s |", r.gateway)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "|%s|", strings.Repeat("-", 28))
	for range rs {
		fmt.Fprintf(w, "%s|", strings.Repeat("-", 27))
	}
	fmt.Fprintln(w)
	return func(name string, f func(*result) string) {
		fmt.Fprintf(w, "| %-26s |", name)
		for _, r := range rs {
			fmt.Fprintf(w, " %-25s |", f(r))
		}
		fmt.Fprintln(w)
	}
}

func printTable(w *os.File, rs []*result, users, messages, sends int) {
	fmt.Fprintf(w, "\n%d XMPP users in one IRC channel; %d messages said on IRC (%d deliveries), %d said by each XMPP user.\n\n",
		users, messages, users*messages, sends)
	row := tableRows(w, rs)
	row("joins (all users)", func(r *result) string { return r.joinTime.Round(time.Millisecond).String() })
	row("IRC→XMPP deliveries/s", func(r *result) string { return fmt.Sprintf("%.0f", r.inRate) })
	row("IRC→XMPP latency p50", func(r *result) string { return r.inP50.Round(time.Microsecond * 100).String() })
	row("IRC→XMPP latency p99", func(r *result) string { return r.inP99.Round(time.Microsecond * 100).String() })
	row("IRC→XMPP lost", func(r *result) string { return strconv.Itoa(r.inLost) })
	row("XMPP→IRC messages/s", func(r *result) string { return fmt.Sprintf("%.0f", r.outRate) })
	row("XMPP→IRC latency p50", func(r *result) string { return r.outP50.Round(time.Microsecond * 100).String() })
	row("XMPP→IRC latency p99", func(r *result) string { return r.outP99.Round(time.Microsecond * 100).String() })
	row("XMPP→IRC lost", func(r *result) string { return strconv.Itoa(r.outLost) })
	row("RSS before joins", func(r *result) string { return mib(r.rssBase) })
	row("RSS after joins", func(r *result) string { return mib(r.rssJoined) })
	row("RSS per joined user", func(r *result) string { return fmt.Sprintf("%.0f KiB", r.rssPerUser/1024) })
	row("gateway CPU (whole run)", func(r *result) string { return (r.cpuAfter - r.cpuBase).Round(time.Millisecond).String() })
	row("CPU per IRC→XMPP delivery", func(r *result) string { return perMessage(r.cpuIn-r.cpuJoined, r.inDeliveries) })
	row("CPU per XMPP→IRC message", func(r *result) string { return perMessage(r.cpuAfter-r.cpuIn, r.outDelivs) })
}

// printBurst prints the burst scenario's figures.
func printBurst(w *os.File, rs []*result, users, sends int, echo bool) {
	server := "InspIRCd 3 with echo-message"
	if !echo {
		server = "InspIRCd 3 without echo-message"
	}
	fmt.Fprintf(w, "\n%d XMPP users in one IRC channel on %s, each sending a burst of %d messages at once (%d in all).\n\n",
		users, server, sends, users*sends)
	row := tableRows(w, rs)
	row("XMPP→IRC messages/s", func(r *result) string { return fmt.Sprintf("%.1f", r.outRate) })
	row("per user, messages/s", func(r *result) string { return fmt.Sprintf("%.2f", r.outRate/float64(users)) })
	row("latency p50", func(r *result) string { return r.outP50.Round(time.Millisecond).String() })
	row("latency p99", func(r *result) string { return r.outP99.Round(time.Millisecond).String() })
	row("lost", func(r *result) string { return strconv.Itoa(r.outLost) })
	row("out of sender's order", func(r *result) string { return strconv.Itoa(r.outOfOrder) })
	row("CPU per message", func(r *result) string { return perMessage(r.cpuAfter-r.cpuIn, r.outDelivs) })
}

// perMessage is a phase's CPU time divided by what it delivered.
func perMessage(cpu time.Duration, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f µs", float64(cpu.Microseconds())/float64(n))
}
