package irc

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/switchboard-im/switchboard/egress"
)

// Server is how to reach one IRC server named in IDs. It is also an
// [irc.servers."name"] table of the configuration file.
type Server struct {
	// Address is host:port; empty means the server name on port 6697
	// (6667 with Plaintext).
	Address string `toml:"address"`
	// Plaintext turns TLS off. Only a server entry can do that: a server
	// named by a user is always reached over TLS.
	Plaintext bool `toml:"plaintext"`
	// ServicesHost is the host of the server's services. Only when it is
	// set is a password sent with NickServ IDENTIFY (where the server has
	// no SASL), and only to NickServ@ServicesHost; raw PRIVMSG to
	// NickServ/ChanServ from the server JID is allowed only then too.
	ServicesHost string `toml:"services_host"`
}

// Config configures the IRC network. The fields with a toml tag are the
// keys of the configuration file's [irc] table, which is decoded into
// this struct strictly (a key not here is an error); the others are set
// by the program (the process's shared egress policy, CA roots, logger).
type Config struct {
	// DefaultServer is the server of short IDs ("#chan", "nick"); empty
	// means IDs must name their server ("#chan%irc.example.net"). It may
	// be host:port: New takes the host as the server's name and, unless
	// Servers has an address for it, the port to reach it.
	DefaultServer string `toml:"default_server"`
	// Servers maps server names (as in IDs, any case) to how to reach
	// them. Servers not listed are reached over TLS on port 6697.
	Servers map[string]Server `toml:"servers"`
	// RootCAs verifies TLS servers; nil means the system roots.
	RootCAs *x509.CertPool `toml:"-"`
	// RealName is sent as the IRC real name ("gecos").
	RealName string `toml:"-"`
	// SendRate and SendBurst bound the lines sent per second on each
	// connection, so servers never disconnect a user for flooding. Lines
	// beyond the rate wait in order; none is dropped.
	SendRate  float64 `toml:"send_rate"`
	SendBurst int     `toml:"send_burst"`
	// Timeout bounds connecting and registering (and each wait for a
	// server's answer).
	Timeout time.Duration `toml:"-"`
	// Version answers CTCP VERSION.
	Version string `toml:"-"`
	// Dial opens connections to servers; nil means a net.Dialer. A proxy
	// (SOCKS) plugs in here.
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error) `toml:"-"`
	Logger *slog.Logger                                                      `toml:"-"`

	// AllowedServers lists the server names users may reach; empty means
	// DefaultServer plus the Servers entries, and "*" any server whose
	// address Egress allows. A refused server is refused before any
	// connection attempt.
	AllowedServers []string `toml:"allowed_servers"`
	// Egress checks the addresses of servers named by users (not those
	// in Servers or DefaultServer, which the admin configured); nil
	// allows public addresses only.
	Egress *egress.Policy `toml:"-"`
	// Budget counts connections: process-wide and per user per minute.
	// nil means no limit.
	Budget *egress.Budget `toml:"-"`
	// MaxServersPerUser caps the servers one user is connected to at
	// once; 0 means 3.
	MaxServersPerUser int `toml:"max_servers_per_user"`
	// MaxLinesPerMessage is the most IRC lines one message may become;
	// 0 means 20.
	MaxLinesPerMessage int `toml:"max_lines_per_message"`
}

var hostRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

func isHost(s string) bool { return hostRE.MatchString(strings.ToLower(s)) }

// Check reports each problem of the keys read from the file: problem is
// called with the key, relative to the [irc] table
// ("servers.irc.example.net.address"), and what is wrong. It does no I/O
// and looks at no other table.
func (c *Config) Check(problem func(key, msg string)) {
	addr := func(key, v string) {
		if _, port, err := net.SplitHostPort(v); v != "" && (err != nil || port == "") {
			problem(key, fmt.Sprintf("%q is not host:port", v))
		}
	}
	if c.DefaultServer != "" && !strings.Contains(c.DefaultServer, ":") {
		if !isHost(c.DefaultServer) {
			problem("default_server", fmt.Sprintf("%q is not a host name", c.DefaultServer))
		}
	} else {
		addr("default_server", c.DefaultServer)
	}
	for host, s := range c.Servers {
		if !isHost(host) {
			problem("servers", fmt.Sprintf("%q is not a host name", host))
		}
		addr("servers."+host+".address", s.Address)
		if s.ServicesHost != "" && !isHost(s.ServicesHost) {
			problem("servers."+host+".services_host", fmt.Sprintf("%q is not a host name", s.ServicesHost))
		}
	}
	if c.SendRate < 0 || c.SendBurst < 0 {
		problem("send_rate", "must not be negative")
	}
	if c.MaxServersPerUser < 0 {
		problem("max_servers_per_user", "must not be negative")
	}
	if c.MaxLinesPerMessage < 0 {
		problem("max_lines_per_message", "must not be negative")
	}
	for i, s := range c.AllowedServers {
		if s != "*" && !isHost(s) {
			problem("allowed_servers", fmt.Sprintf("entry %d (%q) is not a host name or \"*\"", i+1, s))
		}
	}
}
