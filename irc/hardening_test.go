package irc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/transports"
)

// sinkChan is a sink whose events a test reads from a channel.
type sinkChan chan transports.Event

func (s sinkChan) Deliver(ev transports.Event) {
	select {
	case s <- ev:
	default: // a test that does not read does not block the adapter
	}
}

// waitMessage waits for a message event with body.
func (s sinkChan) waitMessage(t *testing.T, body string) *transports.MessageEvent {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-s:
			if m, ok := ev.(*transports.MessageEvent); ok && m.Body == body {
				return m
			}
		case <-deadline:
			t.Fatalf("no message %q", body)
			return nil
		}
	}
}

// connectScripted connects a registered user ("me", no password) to the
// scripted server, which offers caps.
func connectScripted(t *testing.T, s *scripted, n *Network, caps string) (*adapter, sinkChan) {
	t.Helper()
	sink := make(sinkChan, 1000)
	type result struct {
		a   transports.Adapter
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org",
			Credentials: transports.Credentials{"nick": "me"}}, sink)
		done <- result{a, err}
	}()
	s.register(caps)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.a.Close() })
	return r.a.(*adapter), sink
}

// fence sends a raw WHOIS and returns the lines the client sent before
// it: everything queued earlier has then reached the wire.
func (s *scripted) fence(a *adapter, nick string) []string {
	s.t.Helper()
	if _, err := a.Send(context.Background(), transports.Message{To: "irc.test", Body: "WHOIS " + nick}); err != nil {
		s.t.Fatalf("raw WHOIS: %v", err)
	}
	var before []string
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("client closed before WHOIS %s", nick)
			}
			if l == "WHOIS "+nick {
				return before
			}
			if strings.HasPrefix(l, "USER ") || strings.HasPrefix(l, "NICK ") {
				continue // the registration's
			}
			before = append(before, l)
		case <-time.After(5 * time.Second):
			s.t.Fatalf("client did not send WHOIS %s", nick)
		}
	}
}

// C1: CTCP requests without a source (which crashed the process inside
// girc's own answers) are dropped; the connection goes on, and a CTCP
// request from a user is answered by the gateway as a NOTICE.
func TestSourcelessCTCP(t *testing.T) {
	s, n := newScripted(t)
	a, sink := connectScripted(t, s, n, "")
	for _, l := range []string{
		"PRIVMSG me :\x01VERSION\x01",
		"PRIVMSG me :\x01PING 123\x01",
		"PRIVMSG me :\x01TIME\x01",
		"PRIVMSG me :\x01FINGER\x01",
		"NOTICE me :\x01VERSION x\x01",
		"PRIVMSG #c :no source",
		"AWAY :gone",
		"@account=x 001 me :tagged",
		"PRIVMSG",
		":",
		"",
	} {
		s.send(l)
	}
	s.send(":bob!b@h PRIVMSG me :\x01VERSION\x01")
	s.send(":bob!b@h PRIVMSG me :\x01PING 42\x01")
	s.send(":bob!b@h PRIVMSG me :\x01DCC SEND x 1 1 1\x01")
	s.send(":bob!b@h PRIVMSG me :still there?")
	sink.waitMessage(t, "still there?")
	sent := s.fence(a, "bob")
	want := []string{"NOTICE bob :\x01VERSION Switchboard\x01", "NOTICE bob :\x01PING 42\x01"}
	if strings.Join(sent, "\n") != strings.Join(want, "\n") {
		t.Errorf("client sent %q, want %q", sent, want)
	}
}

// The CTCP answer handler itself drops a request without a source (the
// read loop does not call it with one, since the reader drops such lines
// first).
func TestOnCTCPWithoutSource(t *testing.T) {
	n := New(Config{DefaultServer: "irc.test"})
	a := n.newAdapter(transports.Account{User: "u"}, transports.SinkFunc(func(transports.Event) {}))
	c := newConn(a, "irc.test", "me", "")
	for _, cmd := range []string{girc.CTCP_VERSION, girc.CTCP_PING, girc.CTCP_TIME} {
		c.onCTCP(girc.CTCPEvent{Command: cmd, Text: "x"})
		c.onCTCP(girc.CTCPEvent{Command: cmd, Source: &girc.Source{Name: "a b"}})
	}
	if len(c.out) != 0 {
		t.Errorf("queued %v", c.out)
	}
}

// A CTCP flood is answered a few times only: the gateway never floods.
func TestCTCPFloodIsPaced(t *testing.T) {
	s, n := newScripted(t)
	a, sink := connectScripted(t, s, n, "")
	start := time.Now()
	for range 30 {
		s.send(":bob!b@h PRIVMSG me :\x01VERSION\x01")
	}
	s.send(":bob!b@h PRIVMSG me :end")
	sink.waitMessage(t, "end")
	sent := s.fence(a, "bob")
	// Burst of 3, then one per 5 s.
	if max := 3 + int(time.Since(start)/(5*time.Second)); len(sent) > max {
		t.Errorf("answered %d CTCP requests, want at most %d: %q", len(sent), max, sent)
	}
	if len(sent) == 0 {
		t.Error("no CTCP answer at all")
	}
}

// M5: raw commands to the server JID are checked line by line before
// anything is queued; a refused message puts nothing on the wire.
func TestRawCommands(t *testing.T) {
	s, n := newScriptedWith(t, Server{Plaintext: true, ServicesHost: "services.irc.test"})
	a, _ := connectScripted(t, s, n, "")
	tests := []struct {
		body string
		want error
	}{
		{"QUIT", transports.ErrPolicy},
		{"QUIT :bye", transports.ErrPolicy},
		{"PRIVMSG b :\x01DCC SEND x 1 1 1\x01", transports.ErrPolicy},
		{"WHOIS bob\nNICK other", transports.ErrPolicy},
		{"PASS x", transports.ErrPolicy},
		{"OPER a b", transports.ErrPolicy},
		{"CAP REQ :-echo-message", transports.ErrPolicy},
		{"JOIN 0", transports.ErrPolicy},
		{":me!u@h WHOIS bob", transports.ErrPolicy},
		{"@tag=x WHOIS bob", transports.ErrPolicy},
		{"PRIVMSG #chan :spam", transports.ErrPolicy},
		{"PRIVMSG bob :hello", transports.ErrPolicy},
		{"NOTICE NickServ", transports.ErrInvalidInput},
		{strings.Repeat("WHOIS bob\n", 11), transports.ErrLimit},
	}
	for _, tt := range tests {
		_, err := a.Send(context.Background(), transports.Message{To: "irc.test", Body: tt.body})
		if !errors.Is(err, tt.want) {
			t.Errorf("raw %q = %v, want %v", tt.body, err, tt.want)
		}
	}
	if sent := s.fence(a, "bob"); len(sent) != 0 {
		t.Errorf("refused commands reached the wire: %q", sent)
	}
	// Services are reached on the services host only.
	if _, err := a.Send(context.Background(), transports.Message{To: "irc.test", Body: "PRIVMSG chanserv :INFO #c\nWHOIS carol"}); err != nil {
		t.Fatal(err)
	}
	if sent := s.fence(a, "carol"); len(sent) != 1 || sent[0] != "PRIVMSG ChanServ@services.irc.test :INFO #c" {
		t.Errorf("sent %q", sent)
	}
}

// Without a services host, raw messages to services are refused; an
// anonymous user sends no raw command at all.
func TestRawCommandsNeedServicesAndRegistration(t *testing.T) {
	s, n := newScripted(t)
	a, _ := connectScripted(t, s, n, "")
	if _, err := a.Send(context.Background(), transports.Message{To: "irc.test", Body: "PRIVMSG NickServ :INFO"}); !errors.Is(err, transports.ErrPolicy) {
		t.Errorf("PRIVMSG NickServ without a services host = %v", err)
	}

	anon := n.newAdapter(transports.Account{User: "anon@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	t.Cleanup(func() { anon.Close() })
	c := newConn(anon, "irc.test", "me", "")
	if err := c.sendRaw(context.Background(), "WHOIS bob", anon.registered()); !errors.Is(err, transports.ErrPolicy) {
		t.Errorf("anonymous raw command = %v", err)
	}
	if len(c.out) != 0 {
		t.Errorf("queued %v", c.out)
	}
}

// joinScripted joins #c with bob in it.
func joinScripted(t *testing.T, s *scripted, a *adapter) {
	t.Helper()
	joined := make(chan error, 1)
	go func() { joined <- a.JoinRoom(context.Background(), "#c", "me") }()
	s.expect("JOIN #c")
	s.send(":me!u@h JOIN #c")
	s.send(":srv 353 me = #c :@me bob")
	s.send(":srv 366 me #c :End")
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
}

// M2: a body that would become more IRC lines than the limit is refused
// before anything is queued.
func TestMessageLineLimit(t *testing.T) {
	s, n := newScripted(t)
	a, _ := connectScripted(t, s, n, "")
	joinScripted(t, s, a)
	_, err := a.Send(context.Background(), transports.Message{To: "#c", Body: strings.Repeat("a\n", 25)})
	if !errors.Is(err, transports.ErrLimit) || !strings.Contains(err.Error(), "message would be 25 IRC lines; the limit is 20") {
		t.Fatalf("Send = %v", err)
	}
	if sent := s.fence(a, "bob"); len(sent) != 0 {
		t.Errorf("sent %q", sent)
	}
}

// M2: the queue is capped (ErrBusy beyond it), and the lines of a send
// that gave up are taken back, never sent later.
func TestQueueBoundsAndCancelledSends(t *testing.T) {
	srvConn, cliConn := net.Pipe()
	t.Cleanup(func() { srvConn.Close() })
	n := New(Config{
		DefaultServer: "irc.test",
		Servers:       map[string]Server{"irc.test": {Plaintext: true}},
		Timeout:       5 * time.Second,
		SendRate:      0.001, SendBurst: 1, // nothing drains during the test
		Dial: func(context.Context, string, string) (net.Conn, error) { return cliConn, nil },
	})
	s := newScriptedOn(t, srvConn)
	a, _ := connectScripted(t, s, n, "")
	c := scriptedConn(t, a)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := a.Send(ctx, transports.Message{To: "bob", Body: "one\ntwo\nthree"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want the deadline", err)
	}
	c.mu.Lock()
	for _, l := range c.out {
		if strings.HasPrefix(l.text, "PRIVMSG bob") {
			t.Errorf("line of a cancelled send still queued: %q", l.text)
		}
	}
	c.mu.Unlock()

	sendCtx, stop := context.WithCancel(context.Background())
	defer stop()
	errs := make(chan error, 11)
	for range 11 {
		go func() {
			_, err := a.Send(sendCtx, transports.Message{To: "bob", Body: strings.Repeat("x\n", 20)})
			errs <- err
		}()
	}
	busy := 0
	deadline := time.After(5 * time.Second)
	for busy == 0 {
		select {
		case err := <-errs:
			if errors.Is(err, transports.ErrBusy) {
				busy++
			} else {
				t.Fatalf("Send = %v, want ErrBusy or still waiting", err)
			}
		case <-deadline:
			t.Fatal("no send refused with ErrBusy")
		}
	}
	c.mu.Lock()
	queued := len(c.out)
	c.mu.Unlock()
	if queued > maxQueued {
		t.Errorf("%d lines queued, more than %d", queued, maxQueued)
	}
}

// AWAY is sent only when it changes, and an away text is cut at a rune
// boundary (L10).
func TestAwayOnlyOnChange(t *testing.T) {
	s, n := newScripted(t)
	a, _ := connectScripted(t, s, n, "")
	ctx := context.Background()
	long := strings.Repeat("a", maxAwayBytes-1) + "é"
	for _, p := range []transports.Presence{
		{Show: transports.Available},
		{Show: transports.Away, Status: "brb"},
		{Show: transports.ExtendedAway, Status: "brb"},
		{Show: transports.Away, Status: long},
		{Show: transports.Available},
		{Show: transports.FreeForChat},
	} {
		if err := a.SetPresence(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// The transport writes its lines as it built them: the away text is a
	// trailing parameter.
	want := []string{"AWAY :brb", "AWAY :" + strings.Repeat("a", maxAwayBytes-1), "AWAY"}
	if sent := s.fence(a, "bob"); strings.Join(sent, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent %q, want %q", sent, want)
	}
}

// L6: moderation takes only valid nicks of known members; nothing is
// sent otherwise.
func TestModerationChecksNicks(t *testing.T) {
	s, n := newScripted(t)
	a, _ := connectScripted(t, s, n, "")
	joinScripted(t, s, a)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"role with a space", func() error { return a.SetRole(ctx, "#c", "bob +o carol", transports.RoleModerator) }, transports.ErrInvalidInput},
		{"role of a stranger", func() error { return a.SetRole(ctx, "#c", "carol", transports.RoleModerator) }, transports.ErrNotFound},
		{"affiliation empty", func() error { return a.SetAffiliation(ctx, "#c", "", transports.AffiliationAdmin) }, transports.ErrInvalidInput},
		{"kick a stranger", func() error { return a.Kick(ctx, "#c", "carol", "") }, transports.ErrNotFound},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, err, tt.want)
		}
	}
	if sent := s.fence(a, "bob"); len(sent) != 0 {
		t.Errorf("sent %q", sent)
	}
}

func TestValidNickEmpty(t *testing.T) {
	if validNick("") {
		t.Error(`validNick("") = true`)
	}
	if !validNick("bob") {
		t.Error(`validNick("bob") = false`)
	}
}

// Typing notifications are sent when the state changes, and paced.
func TestTypingPaced(t *testing.T) {
	s, n := newScripted(t)
	a, _ := connectScripted(t, s, n, "message-tags")
	ctx := context.Background()
	start := time.Now()
	for range 5 {
		if err := a.SetTyping(ctx, "bob", transports.Composing); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		st := transports.Paused
		if i%2 == 0 {
			st = transports.Composing
		}
		if err := a.SetTyping(ctx, "bob", st); err != nil {
			t.Fatal(err)
		}
	}
	sent := s.fence(a, "bob")
	if len(sent) == 0 || sent[0] != "@+typing=active TAGMSG bob" {
		t.Fatalf("sent %q", sent)
	}
	if max := 5 + int(time.Since(start)/(2*time.Second)); len(sent) > max {
		t.Errorf("%d typing notifications sent, want at most %d", len(sent), max)
	}
}

// H1: a server that is not allowed is refused before any connection
// attempt, with a text naming the policy.
func TestServerPolicy(t *testing.T) {
	var dials atomic.Int32
	n := New(Config{
		DefaultServer: "irc.test",
		Servers:       map[string]Server{"irc.test": {Plaintext: true}},
		Timeout:       5 * time.Second,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			dials.Add(1)
			return nil, errors.New("no dial expected")
		},
	})
	ctx := context.Background()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, transports.ErrPolicy) || !strings.Contains(err.Error(), "allowed_servers") {
			t.Errorf("%s = %v, want ErrPolicy naming allowed_servers", what, err)
		}
	}
	_, err := n.AnonymousAccount("u@example.org", "#x%evil.example", "me")
	check("AnonymousAccount", err)
	check("Validate", n.Validate(ctx, transports.Credentials{"nick": "me", "server": "evil.example"}))
	a := n.newAdapter(transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	t.Cleanup(func() { a.Close() })
	check("JoinRoom", a.JoinRoom(ctx, "#x%evil.example", "me"))
	check("JoinRoom private", a.JoinRoom(ctx, "#x%10.0.0.5", "me"))
	_, err = a.Send(ctx, transports.Message{To: "bob%evil.example", Body: "hi"})
	check("Send", err)
	if d := dials.Load(); d != 0 {
		t.Errorf("%d connection attempts", d)
	}
}

// With allowed_servers = ["*"], servers named by users go through the
// egress policy: loopback and unspecified addresses are refused at dial
// time, and no connection reaches them. (Private, link-local and CGNAT
// ranges are checked by egress's own tests with a stubbed dialer; here
// only addresses of this machine are named, so that even a broken policy
// could not send a packet elsewhere.)
func TestEgressPolicyForUserServers(t *testing.T) {
	// A listener on a loopback address nothing else uses, port 6697: the
	// address a join of #x%127.45.67.89 would dial.
	ln, err := net.Listen("tcp", "127.45.67.89:6697")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	n := New(Config{AllowedServers: []string{"*"}, Timeout: 5 * time.Second})
	a := n.newAdapter(transports.Account{User: "u@example.org"}, transports.SinkFunc(func(transports.Event) {}))
	t.Cleanup(func() { a.Close() })
	for _, room := range []transports.ID{"#x%127.45.67.89", "#x%0.0.0.0"} {
		err := a.JoinRoom(context.Background(), room, "me")
		if !errors.Is(err, transports.ErrPolicy) || !strings.Contains(err.Error(), egress.Reason(egress.ErrForbidden)) {
			t.Errorf("JoinRoom(%s) = %v, want the egress policy's refusal", room, err)
		}
	}
	select {
	case <-accepted:
		t.Error("a connection reached the loopback listener")
	default:
	}
}

// Limits on connections: servers per user and the connection budget.
func TestConnectionLimits(t *testing.T) {
	var dials atomic.Int32
	srvConn, cliConn := net.Pipe()
	t.Cleanup(func() { srvConn.Close() })
	budget := &egress.Budget{PerUserPerMinute: 1}
	n := New(Config{
		DefaultServer:     "irc.test",
		Servers:           map[string]Server{"irc.test": {Plaintext: true}, "two.test": {}, "three.test": {}},
		Timeout:           5 * time.Second,
		MaxServersPerUser: 2,
		Budget:            budget,
		Dial: func(_ context.Context, _, addr string) (net.Conn, error) {
			dials.Add(1)
			if strings.HasPrefix(addr, "irc.test:") {
				return cliConn, nil
			}
			return nil, errors.New("no dial expected")
		},
	})
	s := newScriptedOn(t, srvConn)
	a, _ := connectScripted(t, s, n, "")
	if got := budget.Count(); got != 1 {
		t.Errorf("budget counts %d connections, want 1", got)
	}
	err := a.JoinRoom(context.Background(), "#x%two.test", "me")
	if !errors.Is(err, transports.ErrLimit) || !strings.Contains(err.Error(), "too many new connections") {
		t.Errorf("second connection in a minute = %v", err)
	}
	// The failed connection ended; the limit of servers counts the rest.
	a.mu.Lock()
	two := newConn(a, "two.test", "me", "")
	a.conns.put(two) // held, as if connected
	a.mu.Unlock()
	err = a.JoinRoom(context.Background(), "#x%three.test", "me")
	if !errors.Is(err, transports.ErrLimit) || !strings.Contains(err.Error(), "the limit is 2") {
		t.Errorf("third server = %v", err)
	}
	a.mu.Lock()
	a.conns.drop(two)
	a.mu.Unlock()
	if d := dials.Load(); d != 1 {
		t.Errorf("%d dials, want 1", d)
	}
}

// selfSigned returns a TLS certificate for dnsName only (no IP address)
// and a pool that trusts it.
func selfSigned(t *testing.T, dnsName string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// L9: a server entry whose address is an IP address is checked against
// the server's name, so a certificate for the name is enough.
func TestTLSServerNameOfAddressEntries(t *testing.T) {
	cert, pool := selfSigned(t, "irc.l9.test")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		s := newScriptedOn(t, c)
		s.expect("CAP LS")
		s.send(":srv CAP * LS :")
		for l := range s.lines {
			if strings.HasPrefix(l, "CAP END") {
				s.send(":srv 001 me :Welcome")
				s.send(":srv 422 me :No MOTD")
			}
		}
	}()
	n := New(Config{
		DefaultServer: "irc.l9.test",
		Servers:       map[string]Server{"irc.l9.test": {Address: ln.Addr().String()}},
		RootCAs:       pool,
		Timeout:       5 * time.Second,
	})
	if err := n.Validate(context.Background(), transports.Credentials{"nick": "me"}); err != nil {
		t.Fatalf("Validate over TLS to %s: %v", ln.Addr(), err)
	}
}

// A panic while handling a server's line closes that connection only and
// tells the user; the process goes on.
func TestHandlerPanicClosesTheConnection(t *testing.T) {
	s, n := newScripted(t)
	sink := make(sinkChan, 1000)
	panicky := transports.SinkFunc(func(ev transports.Event) {
		if m, ok := ev.(*transports.MessageEvent); ok && m.Body == "boom" {
			panic("a bug")
		}
		sink.Deliver(ev)
	})
	done := make(chan error, 1)
	go func() {
		// The policy a supervisor hands Connect, reporting as it does.
		rc := transports.NewReconnect(transports.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}, nil,
			func(st transports.Status) { sink.Deliver(&transports.StateEvent{Status: st}) })
		a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org",
			Credentials: transports.Credentials{"nick": "me"}, Reconnect: rc}, panicky)
		if err == nil {
			t.Cleanup(func() { a.Close() })
		}
		done <- err
	}()
	s.register("")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.send(":bob!b@h PRIVMSG me :boom")
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sink:
			if st, ok := ev.(*transports.StateEvent); ok && st.Status.State == transports.StateTransientDisconnect &&
				strings.Contains(st.Status.Text, "internal error while handling a line from irc.test") {
				return
			}
		case <-deadline:
			t.Fatal("the user was not told")
		}
	}
}

// What a server can make a connection remember is bounded: members of a
// channel, channels (forced joins), open history batches.
func TestStateBounds(t *testing.T) {
	c := fuzzConn()
	ch := c.channels["#c"]
	ch.synced = false // a NAMES reply in progress
	v := ch.sub.v
	line := make([]string, 0, 500)
	for i := 0; i < 3*maxMembers; i += 500 {
		line = line[:0]
		for j := range 500 {
			line = append(line, "n"+strconv.Itoa(i+j))
		}
		c.handle(*girc.ParseEvent(":srv 353 me = #c :" + strings.Join(line, " ")))
	}
	for i := range 2 * maxChannelsPerConn {
		c.handle(*girc.ParseEvent(":me!u@h JOIN #forced" + strconv.Itoa(i)))
	}
	for i := range 3 * maxOpenBatches {
		c.handle(*girc.ParseEvent(":srv BATCH +b" + strconv.Itoa(i) + " chathistory #c"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	if n := len(v.members); n != maxMembers {
		t.Errorf("%d members kept, want %d", n, maxMembers)
	}
	if n := len(c.channels); n != maxChannelsPerConn {
		t.Errorf("%d channels kept, want %d", n, maxChannelsPerConn)
	}
	if n := len(c.batches); n != maxOpenBatches {
		t.Errorf("%d batches kept, want %d", n, maxOpenBatches)
	}
}

// A history batch longer than asked for is cut to what was asked.
func TestHistoryBatchCapped(t *testing.T) {
	s, n := newScripted(t)
	a, _ := connectScripted(t, s, n, "batch server-time message-tags draft/chathistory")
	joinScripted(t, s, a)
	got := make(chan []transports.MessageEvent, 1)
	go func() {
		msgs, err := a.History(context.Background(), "#c", time.Time{}, 3)
		if err != nil {
			t.Error(err)
		}
		got <- msgs
	}()
	if l := s.expect("CHATHISTORY"); l != "CHATHISTORY LATEST #c * 3" {
		t.Errorf("request = %q", l)
	}
	s.send(":srv BATCH +h1 chathistory #c")
	for i := range 50 {
		s.send("@batch=h1;msgid=m" + strconv.Itoa(i) + " :bob!b@h PRIVMSG #c :old " + strconv.Itoa(i))
	}
	s.send(":srv BATCH -h1")
	if msgs := <-got; len(msgs) != 3 || msgs[0].Body != "old 0" {
		t.Errorf("history = %+v", msgs)
	}
}

// scriptedConn is the connection connectScripted brought up on a.
func scriptedConn(t *testing.T, a *adapter) *conn {
	t.Helper()
	c, err := a.existing("irc.test")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wireNow is the connection's current line connection.
func (c *conn) wireNow() *lineConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wire
}
