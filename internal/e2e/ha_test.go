package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/testenv"
)

// TestHAKillTheHolder: three switchboard processes (the built binary) on
// one real Redis and one real Prosody, bridging to a real InspIRCd. The
// first holds irc.localhost's lease and stream; a numbered stream of
// private messages flows both ways (XMPP user alice ↔ IRC user bob) while
// the holder is SIGKILLed. A standby takes over; the messages are counted
// at both ends.
//
// What each end may do is what a user's software does: alice resends a
// message her server bounced (no component connected) or that got no
// XEP-0184 receipt; bob resends a message the IRC server refused (401:
// alice's IRC connection was gone with the killed process). Lost is a
// message that never arrived although its sender was told it was taken
// (a receipt; no 401) or kept resending until the end: it must be 0 both
// ways, with one exception IRC itself makes: IRC acknowledges nothing, so
// the message bob sent just before the kill (the same instant) may have
// reached the killed process's socket and die with it; it is reported,
// and it is the only one that may be missing. Beside them bob says
// numbered lines in a channel alice is in through the gateway, with
// InspIRCd's join replay on (+H): none may be lost, not even the one at
// the instant of the kill, since the new holder's rejoin brings back
// from the replay what the dead process never delivered. Duplicates (one
// flush batch, the in-flight message, the replayed lines delivered after
// the last bookmark write) are counted and logged.
func TestHAKillTheHolder(t *testing.T) {
	r := runHA(t, haScenario{
		what:      "the SIGKILL",
		interrupt: func(t *testing.T, old *instance, _ []*instance) { old.kill(t) },
	})
	xl, il := r.x.lost(), r.i.lost()
	if len(il) == 1 && il[0] == r.at {
		t.Logf("IRC→XMPP message %d, sent by bob at the instant of the SIGKILL and taken by the IRC server, died with the killed process (IRC has no acknowledgement)", r.at)
		il = nil
	}
	if len(xl) > 0 || len(il) > 0 {
		t.Errorf("lost XMPP→IRC %v, IRC→XMPP %v\n%s", xl, il, r.dump())
	}
	if cl := r.ch.lost(); len(cl) > 0 {
		t.Errorf("lost IRC channel→XMPP %v (the server's join replay brings back what the killed process missed)\n%s", cl, r.dump())
	}
	if r.takeover == "" {
		t.Errorf("no standby took over within a minute\n%s", r.dump())
	} else {
		t.Log(r.takeover)
	}
}

// haScenario is one run of the HA scene: what happens to the holder
// while the numbered messages flow.
type haScenario struct {
	// kickOld configures Prosody to let a new component stream replace
	// the one there (component_conflict_resolve = "kick_old").
	kickOld bool
	// what names the interruption in the logs ("the SIGKILL").
	what string
	// interrupt is done to the stream's holder after message killAt;
	// standbys are the other instances.
	interrupt func(t *testing.T, old *instance, standbys []*instance)
}

// haResult is what a run of the HA scene counted.
type haResult struct {
	x, i     *tally // alice → bob, bob → alice
	ch       *tally // bob in #ha → alice, through the channel
	at       int    // the message after which the holder was interrupted
	takeover string // how long a standby took to be ready, "" if none did
	insts    []*instance
	dump     func() string
}

// runHA runs the HA scene: three instances on one Redis, Prosody and
// InspIRCd, the first holding the stream; 60 numbered messages each way
// and 60 lines in a +H channel, the holder interrupted after the 20th;
// both ends read, and what a user's software resends is resent, until
// everything taken arrived (or only the private message at the
// interruption is missing IRC→XMPP, for ten seconds), or for 90 seconds
// at most.
func runHA(t *testing.T, sc haScenario) haResult {
	t.Helper()
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{gw: secret}, KickOld: sc.kickOld})
	ircd := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	rds := testenv.StartRedis(t, testenv.RedisOptions{})
	dir := t.TempDir()
	bin := filepath.Join(dir, "switchboard")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/switchboard-im/switchboard/cmd/switchboard").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	insts := []*instance{}
	for _, name := range []string{"a", "b", "c"} {
		insts = append(insts, &instance{name: name})
	}
	start := func(in *instance) {
		t.Helper()
		cfg := fmt.Sprintf(`[xmpp]
server = %q
[storage]
url = "redis://%s"
[ha]
instance = %q
lease_ttl = "2s"
[security]
key_file = %q
allowed_domains = ["localhost"]
[limits]
incoming_per_minute = 100000
[http]
listen = "127.0.0.1:0"
[log]
level = "debug"
[irc]
domain = %q
secret = %q
default_server = "irc.test"
message_rate = 100
message_burst = 100
send_rate = 100
send_burst = 100
[irc.servers."irc.test"]
address = %q
plaintext = true
`, p.ComponentAddr, rds.Addr(), in.name, filepath.Join(dir, "sb.key"), gw, secret, ircd.Addr())
		file := filepath.Join(dir, in.name+".toml")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		in.start(t, bin, file)
	}
	dump := func() string {
		var b strings.Builder
		for _, in := range insts {
			fmt.Fprintf(&b, "--- instance %s ---\n%s\n", in.name, in.logs.String())
		}
		return b.String()
	}

	start(insts[0])
	insts[0].waitReady(t, 30*time.Second, dump)

	// alice registers with the nick alice and comes online; bob waits for
	// her on IRC.
	p.CreateUser(t, "alice", "xmpp-pw")
	alice := p.Login(t, jid.MustParse("alice@localhost"), "xmpp-pw", "pc", 0)
	res := alice.IQ(t, `<iq type="set" to="`+gw+`"><query xmlns="jabber:iq:register"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>jabber:iq:register</value></field><field var="nick"><value>alice</value></field></x></query></iq>`)
	if res.Attr("type") != "result" {
		t.Fatalf("registration: %s\n%s", res, dump())
	}
	alice.Expect(t, "subscription request", func(el *testenv.Element) bool {
		return el.Name.Local == "presence" && el.Attr("type") == "subscribe" && el.Attr("from") == gw
	})
	alice.Send(t, `<presence to="`+gw+`" type="subscribed"/>`)
	alice.Send(t, `<presence/>`)
	bob := testenv.DialIRC(t, ircd.Addr(), "bob")
	waitOnIRC := func() {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			bob.Send("WHOIS alice")
			l := bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "318" || l.Command == "401" || l.Command == "311" })
			if l.Command == "311" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("alice never on IRC\n%s", dump())
			}
		}
	}
	waitOnIRC()
	// alice is in a channel of bob's with the server's join replay on
	// (+H): what bob says there mentions her, so it reaches her as group
	// chat while her client is in the room, and as a highlight to her
	// bare JID after a takeover (the new holder rejoins the channel for
	// her; her client's room presence was the old holder's).
	bob.Join(t, "#ha")
	setHistory(t, bob, "#ha")
	haRoom := "#ha@" + gw
	alice.Send(t, `<presence to="`+haRoom+`/alice"><x xmlns="`+nsMUC+`"/></presence>`)
	alice.Expect(t, "own room presence", isPresenceFrom(haRoom+"/alice", "110"))
	bob.Expect(t, timeout, func(l testenv.IRCLine) bool { return l.Command == "JOIN" && l.Source == "alice" })
	for _, in := range insts[1:] {
		start(in)
	}
	for _, in := range insts[1:] {
		in.waitStandby(t, 30*time.Second, dump)
	}

	// alice's side: everything she receives, kept in order.
	var amu sync.Mutex
	var got []*testenv.Element
	actx, acancel := context.WithCancel(context.Background())
	adone := make(chan struct{})
	go func() {
		defer close(adone)
		for {
			el, err := alice.Next(actx, func(*testenv.Element) bool { return true })
			if err != nil {
				return
			}
			amu.Lock()
			got = append(got, el)
			amu.Unlock()
		}
	}()
	defer func() { acancel(); <-adone }()

	const n = 60
	const killAt = 20
	x := newTally(n)  // alice → bob
	i := newTally(n)  // bob → alice
	ch := newTally(n) // bob → #ha → alice
	sendX := func(k int) {
		x.attempt(k)
		alice.Send(t, fmt.Sprintf(`<message type="chat" to="bob@%s" id="x%d-%d"><body>x2i %d</body><request xmlns="urn:xmpp:receipts"/></message>`,
			gw, k, x.attempts[k], k))
	}
	sendC := func(k int) {
		ch.attempt(k)
		bob.Sendf("PRIVMSG #ha :alice: c2x %d", k)
	}
	sendI := func(k int) {
		i.attempt(k)
		bob.Sendf("PRIVMSG alice :i2x %d", k)
		bob.Sendf("PING :i2x-%d-%d", k, i.attempts[k])
	}
	// takeover is how long after the interruption a standby's /readyz
	// said 200, polled beside the load.
	takeover := make(chan string, 1)
	stop := make(chan struct{})
	defer close(stop)
	for k := 1; k <= n; k++ {
		sendX(k)
		sendI(k)
		sendC(k)
		if k == killAt {
			sc.interrupt(t, insts[0], insts[1:])
			killed := time.Now()
			go func() {
				for time.Since(killed) < time.Minute {
					for _, in := range insts[1:] {
						if in.ready() {
							takeover <- fmt.Sprintf("instance %s took over %s after %s of %s",
								in.name, time.Since(killed).Round(10*time.Millisecond), sc.what, insts[0].name)
							return
						}
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
				takeover <- ""
			}()
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Read both ends; resend what a user would; stop when everything
	// taken has arrived, or after a minute.
	xRE := regexp.MustCompile(`^x(\d+)-(\d+)$`)
	var bobSeen int
	refusedOpen := false
	var settled time.Time
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		// bob's lines: deliveries, and which of his messages were refused.
		lines := bob.Lines()
		for _, l := range lines[bobSeen:] {
			switch {
			case l.Command == "PRIVMSG" && strings.EqualFold(l.Param(0), "bob"):
				var k int
				if _, err := fmt.Sscanf(l.Param(1), "x2i %d", &k); err == nil {
					x.arrived(k)
				}
			case l.Command == "401" && strings.EqualFold(l.Param(1), "alice"):
				refusedOpen = true
			case l.Command == "PONG":
				var k, a int
				if _, err := fmt.Sscanf(strings.ReplaceAll(l.Param(len(l.Params)-1), "-", " "), "i2x %d %d", &k, &a); err == nil && a == i.attempts[k] {
					i.answer(k, !refusedOpen)
				}
				refusedOpen = false
			}
		}
		bobSeen = len(lines)
		// alice's stanzas: deliveries, receipts, bounces.
		amu.Lock()
		els := got
		got = nil
		amu.Unlock()
		for _, el := range els {
			if el.Name.Local != "message" {
				continue
			}
			if r := el.Child("urn:xmpp:receipts", "received"); r != nil {
				if m := xRE.FindStringSubmatch(r.Attr("id")); m != nil {
					var k int
					fmt.Sscan(m[1], &k)
					x.answer(k, true)
				}
				continue
			}
			if el.Attr("type") == "error" {
				if m := xRE.FindStringSubmatch(el.Attr("id")); m != nil {
					var k, a int
					fmt.Sscan(m[1], &k)
					fmt.Sscan(m[2], &a)
					if a == x.attempts[k] {
						x.answer(k, false)
					}
				}
				continue
			}
			var k int
			if _, err := fmt.Sscanf(body(el), "i2x %d", &k); err == nil && el.Attr("from") == "bob@"+gw {
				i.arrived(k)
			}
			if _, err := fmt.Sscanf(body(el), "alice: c2x %d", &k); err == nil && el.Attr("from") == haRoom+"/bob" {
				ch.arrived(k)
			}
		}
		if x.missing() == 0 && i.missing() == 0 && ch.missing() == 0 || time.Now().After(deadline) {
			break
		}
		// The one message IRC may lose with the process: wait ten
		// seconds more for it, then stop.
		if x.missing() == 0 && i.missing() == 1 && i.arrival[killAt] == 0 && ch.missing() == 0 {
			if settled.IsZero() {
				settled = time.Now()
			} else if time.Since(settled) > 10*time.Second {
				break
			}
		}
		// Resend what was refused, and alice's messages without an
		// answer for ten seconds (a client's resend on a missing receipt).
		for k := 1; k <= n; k++ {
			if x.refused(k) || x.unanswered(k, 10*time.Second) {
				sendX(k)
			}
			if i.refused(k) {
				sendI(k)
			}
		}
	}

	t.Logf("XMPP→IRC: %d messages, %d sends, %d lost, %d duplicates", n, x.sends(), len(x.lost()), x.dups())
	t.Logf("IRC→XMPP: %d messages, %d sends, %d lost, %d duplicates", n, i.sends(), len(i.lost()), i.dups())
	t.Logf("IRC channel→XMPP: %d messages, %d lost %v, %d duplicates %v", n, len(ch.lost()), ch.lost(), ch.dups(), ch.duplicated())
	// The inbound journal: what the interrupted holder had read from
	// alice and not sent, handled again by the new holder (each user's
	// messages in flight at most); none may be too old to send after a
	// takeover of seconds.
	replayed := 0
	for _, in := range insts[1:] {
		for _, m := range replayRE.FindAllStringSubmatch(in.logs.String(), -1) {
			var k int
			fmt.Sscan(m[1], &k)
			replayed += k
		}
		if strings.Contains(in.logs.String(), "journaled message too old to send") {
			t.Errorf("instance %s dropped a journaled message as too old after a takeover of seconds\n%s", in.name, dump())
		}
	}
	t.Logf("XMPP→IRC: %d messages read by the interrupted holder and not sent, handled again by the new holder from the journal", replayed)
	return haResult{x: x, i: i, ch: ch, at: killAt, takeover: <-takeover, insts: insts, dump: dump}
}

// instance is one switchboard process.
type instance struct {
	name string
	cmd  *exec.Cmd
	logs testenv.LogBuffer
	done chan struct{}
	// exited is when the process ended; read it after done is closed.
	exited time.Time
}

// replayRE finds the count of the inbound journal's replay in an
// instance's log.
var replayRE = regexp.MustCompile(`msg="handling again the messages a stopped process left unsent".* messages=(\d+)`)

var httpRE = regexp.MustCompile(`msg=starting .*http=(\S+)`)

func (in *instance) start(t *testing.T, bin, cfg string) {
	t.Helper()
	in.cmd = exec.Command(bin, "run", "--config", cfg)
	in.cmd.Stdout, in.cmd.Stderr = &in.logs, &in.logs
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.done = make(chan struct{})
	go func() {
		in.cmd.Wait()
		in.exited = time.Now()
		close(in.done)
	}()
	t.Cleanup(func() {
		in.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-in.done:
		case <-time.After(10 * time.Second):
			in.cmd.Process.Kill()
			<-in.done
		}
	})
}

// kill SIGKILLs the process and waits until it is gone.
func (in *instance) kill(t *testing.T) {
	t.Helper()
	if err := in.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-in.done
}

// signal sends sig to the process.
func (in *instance) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := in.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// readyz returns the status code and body of the instance's /readyz, or
// 0 before its listener is known.
func (in *instance) readyz() (int, string) {
	m := httpRE.FindStringSubmatch(in.logs.String())
	if m == nil {
		return 0, ""
	}
	res, err := http.Get("http://" + m[1] + "/readyz")
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (in *instance) ready() bool {
	code, _ := in.readyz()
	return code == http.StatusOK
}

func (in *instance) waitReady(t *testing.T, d time.Duration, dump func() string) {
	t.Helper()
	for deadline := time.Now().Add(d); !in.ready(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("instance %s never ready\n%s", in.name, dump())
		}
	}
}

func (in *instance) waitStandby(t *testing.T, d time.Duration, dump func() string) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		if code, body := in.readyz(); code == http.StatusServiceUnavailable && body == gw+" standby\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s never a standby\n%s", in.name, dump())
		}
	}
}

// tally counts one direction's numbered messages: the sender's attempts
// and what it was told of the last one, and the arrivals.
type tally struct {
	attempts []int       // per message: sends so far
	sentAt   []time.Time // of the last send
	// state of the last attempt: 0 unanswered, 1 taken, -1 refused.
	state   []int
	arrival []int // per message: times it arrived
}

func newTally(n int) *tally {
	return &tally{attempts: make([]int, n+1), sentAt: make([]time.Time, n+1), state: make([]int, n+1), arrival: make([]int, n+1)}
}

func (t *tally) attempt(k int) {
	t.attempts[k]++
	t.sentAt[k] = time.Now()
	t.state[k] = 0
}

func (t *tally) answer(k int, taken bool) {
	if k < 1 || k >= len(t.state) {
		return
	}
	if taken {
		t.state[k] = 1
	} else {
		t.state[k] = -1
	}
}

func (t *tally) arrived(k int) {
	if k >= 1 && k < len(t.arrival) {
		t.arrival[k]++
	}
}

func (t *tally) refused(k int) bool { return t.state[k] == -1 && t.arrival[k] == 0 }

func (t *tally) unanswered(k int, d time.Duration) bool {
	return t.state[k] == 0 && t.arrival[k] == 0 && time.Since(t.sentAt[k]) > d
}

// missing counts the messages that have not arrived (yet).
func (t *tally) missing() int {
	n := 0
	for k := 1; k < len(t.arrival); k++ {
		if t.arrival[k] == 0 {
			n++
		}
	}
	return n
}

// lost lists the messages that never arrived.
func (t *tally) lost() []int {
	var out []int
	for k := 1; k < len(t.arrival); k++ {
		if t.arrival[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

func (t *tally) dups() int {
	n := 0
	for k := 1; k < len(t.arrival); k++ {
		n += max(t.arrival[k]-1, 0)
	}
	return n
}

// duplicated lists the messages that arrived more than once.
func (t *tally) duplicated() []int {
	var out []int
	for k := 1; k < len(t.arrival); k++ {
		if t.arrival[k] > 1 {
			out = append(out, k)
		}
	}
	return out
}

func (t *tally) sends() int {
	n := 0
	for _, a := range t.attempts {
		n += a
	}
	return n
}
