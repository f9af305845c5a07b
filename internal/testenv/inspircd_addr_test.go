package testenv

import (
	"net"
	"strings"
	"testing"
)

// A fixed client address another process already listens on is refused
// before InspIRCd starts: the caller would otherwise talk to that other
// server (two load runs at once on the load tool's default address).
func TestInspIRCdClientAddrTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s, err := LaunchInspIRCd(InspIRCdOptions{ClientAddr: l.Addr().String()})
	if err == nil {
		s.Close()
		t.Fatalf("LaunchInspIRCd at %s, which is taken: no error", l.Addr())
	}
	if !strings.Contains(err.Error(), "is taken") {
		t.Errorf("error = %q, want one saying the address is taken", err)
	}
}
