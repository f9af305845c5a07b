package testenv

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// kannelConfig is a Kannel 1.4.5 configuration (recipe:
// ../shared/testpeers/kannel): bearerbox with two fake SMSCs, one that a
// long-running fakesmsc connects to and that takes every MT (sent) SMS,
// one through which short-lived fakesmsc runs inject MO (received) SMS
// (a fake SMSC serves one client at a time); smsbox with the sendsms
// interface and one sms-service calling @MOURL@ for every MO SMS.
const kannelConfig = `# Written by internal/testenv for one test run.
group = core
admin-port = @ADMIN@
admin-interface = 127.0.0.1
admin-password = adminpw
status-password = adminpw
admin-allow-ip = "127.0.0.1"
smsbox-port = @SMSBOX@
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "@DIR@/bearerbox.log"
log-level = 0
access-log = "@DIR@/bearerbox-access.log"
store-type = file
store-location = "@DIR@/store"

group = smsc
smsc = fake
smsc-id = fake1
port = @FAKE@
connect-allow-ip = "127.0.0.1"

group = smsc
smsc = fake
smsc-id = fakemo
port = @FAKEMO@
connect-allow-ip = "127.0.0.1"
allowed-smsc-id = "nothing-routes-here"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = @SMSBOX@
sendsms-port = @SENDSMS@
sendsms-interface = 127.0.0.1
log-file = "@DIR@/smsbox.log"
log-level = 0
access-log = "@DIR@/smsbox-access.log"
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = @USER@
password = @PASSWORD@
user-allow-ip = "127.0.0.1"
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = yes
get-url = "@MOURL@"
max-messages = 0
`

// KannelOptions configure a Kannel.
type KannelOptions struct {
	// MOURL is the URL smsbox calls (GET) for every SMS received, with
	// Kannel's escapes (%p sender, %P receiver, %b the raw text, %c its
	// coding, %C its charset, %I the message's ID). Required.
	MOURL string
}

// Kannel is a running Kannel: bearerbox, smsbox and a fakesmsc that
// receives every SMS sent (MT) and acknowledges it, so delivery reports
// flow (SMSC accepted, then delivered).
type Kannel struct {
	Dir string
	// SendSMSURL is smsbox's sendsms interface; Username and Password
	// are its sendsms-user (max-messages 10, concatenation on).
	SendSMSURL         string
	Username, Password string

	adminPort, moPort, mtPort int

	mu   sync.Mutex
	ds   []*daemon // bearerbox, smsbox, fakesmsc (MT)
	read int       // lines of fakesmsc.log already returned by NextMT
}

// LaunchKannel starts Kannel in a new temporary directory and waits until
// the fake SMSC is online. Close stops it and removes the directory.
func LaunchKannel(opts KannelOptions) (*Kannel, error) {
	if opts.MOURL == "" {
		return nil, errors.New("testenv: KannelOptions.MOURL is required")
	}
	if err := lookPaths("bearerbox", "smsbox", fakesmsc); err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	dir, err := makeTempDir("kannel")
	if err != nil {
		return nil, err
	}
	k := &Kannel{Dir: dir, Username: "switchboard", Password: randomToken(),
		SendSMSURL: fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", ports[3]),
		adminPort:  ports[0], mtPort: ports[2], moPort: ports[4]}
	cfg := strings.NewReplacer(
		"@DIR@", dir, "@ADMIN@", strconv.Itoa(ports[0]), "@SMSBOX@", strconv.Itoa(ports[1]),
		"@FAKE@", strconv.Itoa(ports[2]), "@SENDSMS@", strconv.Itoa(ports[3]), "@FAKEMO@", strconv.Itoa(ports[4]),
		"@USER@", k.Username, "@PASSWORD@", k.Password, "@MOURL@", opts.MOURL,
	).Replace(kannelConfig)
	if err := os.WriteFile(filepath.Join(dir, "kannel.conf"), []byte(cfg), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := k.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return k, nil
}

// randomToken is 16 random hex digits.
func randomToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fakesmsc is Kannel's fake SMS centre client (Debian kannel-extras).
const fakesmsc = "/usr/lib/kannel/test/fakesmsc"

// Start starts a stopped Kannel again (its store keeps what was queued)
// and waits until the fake SMSC is online.
func (k *Kannel) Start() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ds != nil {
		return errors.New("kannel is already running")
	}
	conf := filepath.Join(k.Dir, "kannel.conf")
	deadline := time.Now().Add(startTimeout)
	fail := func(err error) error {
		for _, d := range k.ds {
			d.stop()
		}
		k.ds = nil
		return fmt.Errorf("kannel: %w:\n%s", err, tailFiles(k.Dir, "bearerbox.log", "smsbox.log", "fakesmsc.log", "bearerbox.out", "smsbox.out"))
	}
	bb, err := startDaemon(k.Dir, "bearerbox.out", "bearerbox", conf)
	if err != nil {
		return fail(err)
	}
	k.ds = append(k.ds, bb)
	if err := waitListening(bb, "127.0.0.1:"+strconv.Itoa(k.adminPort), deadline); err != nil {
		return fail(err)
	}
	sb, err := startDaemon(k.Dir, "smsbox.out", "smsbox", conf)
	if err != nil {
		return fail(err)
	}
	k.ds = append(k.ds, sb)
	u, _ := url.Parse(k.SendSMSURL)
	if err := waitListening(sb, u.Host, deadline); err != nil {
		return fail(err)
	}
	// -m 0: sends nothing itself; logs every MT as "Got message N: <FROM TO text MSG>".
	fs, err := startDaemon(k.Dir, "fakesmsc.log", fakesmsc, "-H", "127.0.0.1", "-r", strconv.Itoa(k.mtPort), "-i", "0.1", "-m", "0", "0 0 text x")
	if err != nil {
		return fail(err)
	}
	k.ds = append(k.ds, fs)
	for !k.online("fake1") {
		if fs.hasExited() || time.Now().After(deadline) {
			return fail(errors.New("the fake SMSC did not come online"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// online reports whether bearerbox says SMSC id is online.
func (k *Kannel) online(id string) bool {
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/status.txt?password=adminpw", k.adminPort))
	if err != nil {
		return false
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, id) && strings.Contains(line, "online") {
			return true
		}
	}
	return false
}

// Stop stops fakesmsc, smsbox and bearerbox (in that order).
func (k *Kannel) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := len(k.ds) - 1; i >= 0; i-- {
		k.ds[i].stop()
	}
	k.ds = nil
}

// Close stops Kannel and removes its directory.
func (k *Kannel) Close() {
	k.Stop()
	os.RemoveAll(k.Dir)
}

// Receive makes the SMS centre deliver an SMS from → to to Kannel (MO),
// as UCS-2 when ucs2 is set, else as GSM text; smsbox then calls the MO
// URL. It returns once fakesmsc sent it.
func (k *Kannel) Receive(from, to, text string, ucs2 bool) error {
	msg := from + " " + to + " text " + text
	if ucs2 {
		var b strings.Builder
		for _, u := range utf16Units(text) {
			fmt.Fprintf(&b, "%%%02X%%%02X", u>>8, u&0xff)
		}
		msg = from + " " + to + " ucs2 " + b.String()
	}
	logName := fmt.Sprintf("fakesmsc-mo-%d.log", time.Now().UnixNano())
	d, err := startDaemon(k.Dir, logName, fakesmsc, "-H", "127.0.0.1", "-r", strconv.Itoa(k.moPort), "-i", "0.1", "-m", "1", msg)
	if err != nil {
		return err
	}
	defer d.stop()
	// fakesmsc -m 1 does not exit after its message: wait for its log.
	return waitLog(d, filepath.Join(k.Dir, logName), 0, "sent message 1", time.Now().Add(startTimeout))
}

func utf16Units(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r > 0xFFFF {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
		} else {
			out = append(out, uint16(r))
		}
	}
	return out
}

// MT is an SMS Kannel sent to the SMS centre, as fakesmsc logged it:
// Kind is "text", "ucs2", "udh" (a part of a long SMS: Text holds the
// "<udh> data <msg>" rest) or another fakesmsc type.
type MT struct {
	From, To, Kind, Text string
}

// NextMT waits until fakesmsc logged an SMS it got after those NextMT
// returned before, and returns it.
func (k *Kannel) NextMT(timeout time.Duration) (MT, error) {
	deadline := time.Now().Add(timeout)
	for {
		k.mu.Lock()
		lines := k.mtLines()
		if k.read < len(lines) {
			line := lines[k.read]
			k.read++
			k.mu.Unlock()
			return parseMT(line)
		}
		k.mu.Unlock()
		if time.Now().After(deadline) {
			return MT{}, fmt.Errorf("kannel: no SMS reached the SMS centre within %s:\n%s", timeout, tailFiles(k.Dir, "fakesmsc.log", "smsbox.log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mtLines are the "Got message" lines of fakesmsc's log.
func (k *Kannel) mtLines() []string {
	f, err := os.Open(filepath.Join(k.Dir, "fakesmsc.log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		if i := strings.Index(s.Text(), "Got message "); i >= 0 {
			out = append(out, s.Text()[i:])
		}
	}
	return out
}

// parseMT reads "Got message N: <FROM TO KIND REST>".
func parseMT(line string) (MT, error) {
	i, j := strings.IndexByte(line, '<'), strings.LastIndexByte(line, '>')
	if i < 0 || j < i {
		return MT{}, fmt.Errorf("kannel: unreadable fakesmsc line %q", line)
	}
	f := strings.SplitN(line[i+1:j], " ", 4)
	if len(f) < 3 {
		return MT{}, fmt.Errorf("kannel: unreadable fakesmsc line %q", line)
	}
	m := MT{From: f[0], To: f[1], Kind: f[2]}
	if len(f) == 4 {
		m.Text = f[3]
	}
	return m, nil
}

// Log returns the tails of Kannel's logs.
func (k *Kannel) Log() string {
	return tailFiles(k.Dir, "bearerbox.log", "smsbox.log", "smsbox-access.log", "fakesmsc.log")
}

// StartKannel starts a Kannel owned by the test: stopped and removed at
// cleanup, with its logs printed when the test failed. Kannel missing
// fails the test.
func StartKannel(t testing.TB, opts KannelOptions) *Kannel {
	t.Helper()
	Require(t, "bearerbox", "smsbox", fakesmsc)
	k, err := LaunchKannel(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			t.Logf("kannel logs:\n%s", k.Log())
		}
		k.Close()
	})
	return k
}
