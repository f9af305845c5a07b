package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"8.8.8.8", true},
		{"2a00:1450:4001::1", true},
		{"127.0.0.1", false},
		{"127.8.9.10", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"100.128.0.1", true},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"0.0.0.0", false},
		{"::", false},
		{"fd00::1", false},
		{"fe80::1", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::a00:1", false},  // NAT64 of 10.0.0.1
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"2002:a00:1::1", false},   // 6to4 of 10.0.0.1
		{"2002:808:808::1", true},  // 6to4 of 8.8.8.8
		{"::a00:1", false},         // IPv4-compatible
	} {
		if got := Public(netip.MustParseAddr(tc.addr)); got != tc.public {
			t.Errorf("Public(%s) = %v, want %v", tc.addr, got, tc.public)
		}
	}
}

func TestAllowPrivate(t *testing.T) {
	pre, err := ParsePrefixes([]string{"10.0.0.5", "192.168.0.0/16", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{AllowPrivate: pre}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"10.0.0.5", true},
		{"::ffff:10.0.0.5", true},
		{"10.0.0.6", false},
		{"192.168.44.1", true},
		{"fd12::1", true},
		{"127.0.0.1", false},
		{"8.8.8.8", true},
	} {
		err := p.Check(netip.MustParseAddr(tc.addr))
		if (err == nil) != tc.ok {
			t.Errorf("Check(%s) = %v, want allowed=%v", tc.addr, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("Check(%s) = %v, want ErrForbidden", tc.addr, err)
		}
	}
	if _, err := ParsePrefixes([]string{"not-an-ip"}); err == nil {
		t.Error("ParsePrefixes accepted a host name")
	}
	var nilPolicy *Policy
	if nilPolicy.Check(netip.MustParseAddr("10.0.0.5")) == nil {
		t.Error("a nil policy allowed a private address")
	}
}

// stubResolver answers every name with fixed addresses.
type stubResolver []netip.Addr

func (s stubResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return s, nil
}

// TestDialRefusesWithoutConnecting checks that refused destinations never
// reach the dialler: the test's dial hook counts attempts and never
// connects anywhere, so no packet can leave the machine even when the
// test fails.
func TestDialRefusesWithoutConnecting(t *testing.T) {
	for _, tc := range []struct {
		name     string
		resolved []string
		address  string
		dialled  []string
	}{
		{"loopback literal", nil, "127.0.0.1:6697", nil},
		{"link-local metadata literal", nil, "169.254.169.254:80", nil},
		{"private name", []string{"10.0.0.5"}, "irc.internal.example:6697", nil},
		{"CGNAT name", []string{"100.64.1.1"}, "cgnat.example:993", nil},
		{"IPv6 ULA name", []string{"fd00::5"}, "ula.example:993", nil},
		{"mapped loopback literal", nil, "[::ffff:127.0.0.1]:6697", nil},
		{"mixed answer keeps the public address only", []string{"10.0.0.5", "192.0.2.1", "8.8.4.4"}, "mixed.example:6697", []string{"8.8.4.4:6697"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var addrs stubResolver
			for _, a := range tc.resolved {
				addrs = append(addrs, netip.MustParseAddr(a))
			}
			var dialled []string
			p := &Policy{Resolver: addrs, dial: func(_ context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
				// The real dialler would call Control; prove it refuses too.
				if err := d.Control(network, address, nil); err != nil {
					t.Errorf("Control refused %s, which DialContext let through: %v", address, err)
				}
				dialled = append(dialled, address)
				return nil, syscall.ECONNREFUSED
			}}
			_, err := p.DialContext(context.Background(), "tcp", tc.address)
			if len(tc.dialled) == 0 {
				if !errors.Is(err, ErrForbidden) {
					t.Errorf("err = %v, want ErrForbidden", err)
				}
			} else if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("err = %v, want the dial's error", err)
			}
			if len(dialled) != len(tc.dialled) || (len(dialled) > 0 && dialled[0] != tc.dialled[0]) {
				t.Errorf("dialled %v, want %v", dialled, tc.dialled)
			}
		})
	}
}

// TestControlRefusesRebinding checks the dial-time check on its own: a
// resolver answering differently at dial time is caught by Control, the
// last step before connect(2).
func TestControlRefusesRebinding(t *testing.T) {
	var p Policy
	for _, a := range []string{"127.0.0.1:80", "[::1]:80", "10.0.0.1:6697", "169.254.169.254:80", "[fe80::1%eth0]:80"} {
		if err := p.Control("tcp", a, nil); !errors.Is(err, ErrForbidden) {
			t.Errorf("Control(%s) = %v, want ErrForbidden", a, err)
		}
	}
	if err := p.Control("tcp", "8.8.8.8:443", nil); err != nil {
		t.Errorf("Control(8.8.8.8:443) = %v", err)
	}
}

// TestRealDialerRefusesLoopback uses the real net.Dialer with the policy's
// Control against a listener on this machine: the listener must see no
// connection.
func TestRealDialerRefusesLoopback(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	var p Policy
	// By name, resolved by the real resolver ("localhost").
	if _, err := p.DialContext(context.Background(), "tcp", net.JoinHostPort("localhost", portOf(t, l))); !errors.Is(err, ErrForbidden) {
		t.Errorf("DialContext(localhost) = %v, want ErrForbidden", err)
	}
	// Through the bare dialer, as an http.Transport uses it.
	if _, err := p.Dialer().Dial("tcp", l.Addr().String()); !errors.Is(err, ErrForbidden) {
		t.Errorf("Dialer().Dial(%s) = %v, want ErrForbidden", l.Addr(), err)
	}
	// Allowed when listed.
	p.AllowPrivate, _ = ParsePrefixes([]string{"127.0.0.1"})
	c, err := p.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("allowed loopback: %v", err)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for accepted.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("listener accepted %d connections, want 1 (the allowed one)", n)
	}
}

func portOf(t *testing.T, l net.Listener) string {
	t.Helper()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestReasonNeverQuotesThePeer(t *testing.T) {
	banner := "SSH-2.0-OpenSSH_9.2p1"
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "connection refused"},
		{context.DeadlineExceeded, "timed out"},
		{ErrForbidden, "address not allowed by this gateway's policy"},
		{&net.DNSError{Err: banner, Name: "x", IsNotFound: true}, "no such host"},
		{errors.New(banner), "connection failed"},
	} {
		got := Describe("imap.example.org:993", tc.err)
		if got != "could not reach imap.example.org:993: "+tc.want {
			t.Errorf("Describe(%v) = %q", tc.err, got)
		}
	}
}

func TestBudget(t *testing.T) {
	now := time.Unix(1000, 0)
	b := &Budget{Max: 3, PerUserPerMinute: 2, now: func() time.Time { return now }}
	r1, err := b.Open("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open("a"); !errors.Is(err, ErrRate) {
		t.Fatalf("third connection of a in a minute: %v, want ErrRate", err)
	}
	if _, err := b.Open("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open("c"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("fourth connection: %v, want ErrTooMany", err)
	}
	r1()
	r1() // a second release is harmless
	if got := b.Count(); got != 2 {
		t.Fatalf("Count = %d, want 2", got)
	}
	if _, err := b.Open("c"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	now = now.Add(61 * time.Second)
	if _, err := b.Open("a"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("a after a minute while full: %v, want ErrTooMany", err)
	}
	if len(b.users) != 0 {
		t.Errorf("budget keeps %d users' starts after a minute, want none", len(b.users))
	}
	var nilBudget *Budget
	if rel, err := nilBudget.Open("x"); err != nil {
		t.Fatal(err)
	} else {
		rel()
	}
}
