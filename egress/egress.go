// Package egress decides where, and how often, the gateway may open a
// connection on a user's behalf.
//
// Users name legacy servers themselves (an IRC server in a room address,
// an IMAP host in a registration form, an upload slot's URL handed out by
// their XMPP server), so every outgoing connection is untrusted input. A
// Policy refuses loopback, private, link-local, CGNAT, multicast and
// unspecified addresses unless the admin configured the destination or
// listed its address. The check runs on the address actually dialled
// (net.Dialer.Control), so a name that resolves to a public address when
// checked and to a private one when dialled (DNS rebinding) is refused
// too. No packet leaves the machine for a refused address.
//
// A Budget counts the connections themselves: a process-wide cap and a
// per-user rate of new connections, so one user cannot get the gateway's
// address banned on a public network for everyone.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrForbidden is returned (wrapped) when a destination's address is not
// one the policy lets the gateway reach.
var ErrForbidden = errors.New("address not allowed by the gateway's policy")

// Resolver looks host names up; *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy says which addresses user-named destinations may have. The zero
// value (and a nil *Policy) allows public addresses only. A Policy is
// safe for concurrent use once built.
type Policy struct {
	// AllowPrivate lists non-public prefixes that may be dialled anyway
	// ([security] allow_private).
	AllowPrivate []netip.Prefix
	// Resolver looks names up; nil means net.DefaultResolver.
	Resolver Resolver
	// Timeout bounds one dial; 0 means 30 s.
	Timeout time.Duration

	// dial replaces the real dial in tests, so that they can prove that
	// no connection is attempted.
	dial func(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error)
}

// ParsePrefixes reads [security] allow_private entries: addresses
// ("10.0.0.5", "fd00::1") or prefixes ("192.168.0.0/16").
func ParsePrefixes(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or prefix", e)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or prefix", e)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// special lists the ranges that are not public destinations.
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network", unspecified
		"10.0.0.0/8",      // RFC 1918
		"100.64.0.0/10",   // CGNAT (RFC 6598)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata services
		"172.16.0.0/12",   // RFC 1918
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay anycast
		"192.168.0.0/16",  // RFC 1918
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"100::/64",        // discard
		"2001::/23",       // IETF protocol assignments (Teredo, ORCHID…)
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
		"64:ff9b:1::/48",  // local-use NAT64
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Public reports whether a is an address on the public internet: none of
// loopback, private, link-local, CGNAT, multicast, unspecified,
// documentation or reserved. IPv4 addresses embedded in IPv6 (mapped,
// NAT64, 6to4) are judged by the IPv4 address.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(a): // NAT64
			return Public(netip.AddrFrom4([4]byte(b[12:16])))
		case netip.MustParsePrefix("2002::/16").Contains(a): // 6to4
			return Public(netip.AddrFrom4([4]byte(b[2:6])))
		case netip.MustParsePrefix("::/96").Contains(a): // IPv4-compatible (deprecated)
			return false
		}
	}
	for _, p := range special {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Check returns nil when a may be dialled: a public address, or one in
// AllowPrivate.
func (p *Policy) Check(a netip.Addr) error {
	a = a.Unmap()
	if Public(a) {
		return nil
	}
	if p != nil {
		for _, pre := range p.AllowPrivate {
			if pre.Contains(a) {
				return nil
			}
		}
	}
	return ErrForbidden
}

// Control is a net.Dialer.Control function that refuses addresses Check
// refuses. It runs after the name was resolved and before the socket
// connects, on the address really dialled.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: dialling %s: %w", network, ErrForbidden)
	}
	return p.Check(ap.Addr())
}

func (p *Policy) timeout() time.Duration {
	if p == nil || p.Timeout <= 0 {
		return 30 * time.Second
	}
	return p.Timeout
}

func (p *Policy) resolver() Resolver {
	if p == nil || p.Resolver == nil {
		return net.DefaultResolver
	}
	return p.Resolver
}

// Dialer returns a net.Dialer whose Control enforces the policy, for
// libraries that take a dialer (an http.Transport). Names are resolved
// by the dialer itself; Control still sees every address dialled.
func (p *Policy) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: p.timeout(), KeepAlive: 30 * time.Second, Control: p.Control}
}

// DialContext connects to address (host:port) for a destination a user
// named. The host is resolved with the policy's Resolver; addresses the
// policy refuses are skipped, and when none is left the error wraps
// ErrForbidden without any connection attempt. Errors never carry bytes
// sent by a peer.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		rctx, cancel := context.WithTimeout(ctx, p.timeout())
		addrs, err = p.resolver().LookupNetIP(rctx, ipNetwork(network), host)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("egress: looking up %s: %w", host, err)
		}
	}
	var allowed []netip.Addr
	for _, a := range addrs {
		if p.Check(a) == nil {
			allowed = append(allowed, a.Unmap())
		}
	}
	if len(allowed) == 0 {
		return nil, fmt.Errorf("egress: %s: %w", host, ErrForbidden)
	}
	d := p.Dialer()
	dial := func(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
		return d.DialContext(ctx, network, address)
	}
	if p != nil && p.dial != nil {
		dial = p.dial
	}
	var firstErr error
	for _, a := range allowed {
		c, err := dial(ctx, d, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("egress: dialling %s: %w", host, firstErr)
}

func ipNetwork(network string) string {
	switch {
	case strings.HasSuffix(network, "4"):
		return "ip4"
	case strings.HasSuffix(network, "6"):
		return "ip6"
	}
	return "ip"
}
