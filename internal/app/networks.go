package app

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/internal/config"

	"github.com/switchboard-im/switchboard/discord"
	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/irc"
	"github.com/switchboard-im/switchboard/sms"
	"github.com/switchboard-im/switchboard/transports"
)

// networks are the networks this build has, in the order their
// components are built. Adding a network is its package plus one entry
// here; nothing else in the program names a network.
var networks = []Network{
	network("irc", func(c *irc.Config, s Shared) (transports.Network, error) {
		c.RootCAs, c.Logger, c.Version = s.RootCAs, s.Logger, "Switchboard "+s.Version
		c.Egress, c.Budget = s.Egress, s.Budget
		return irc.New(*c), nil
	}),
	network("email", func(c *email.Config, s Shared) (transports.Network, error) {
		c.RootCAs, c.Logger = s.RootCAs, s.Logger
		c.Egress, c.Budget = s.Egress, s.Budget
		c.MaxAttachment, c.MaxAttachments = s.MaxAttachmentBytes, s.MaxAttachments
		return email.New(*c), nil
	}),
	network("sms", func(c *sms.Config, s Shared) (transports.Network, error) {
		c.Logger = s.Logger
		return sms.New(*c), nil
	}),
	network("discord", func(c *discord.Config, s Shared) (transports.Network, error) {
		c.Logger, c.Budget, c.MaxAttachment = s.Logger, s.Budget, s.MaxAttachmentBytes
		return discord.New(*c)
	}),
}

// Network is one network this build has: the name of its config table,
// its own config struct (which config.Parse decodes that table into) and
// how to build it from that config.
type Network struct {
	config.Network
	// New builds the network from the pointer NewConfig returned,
	// decoded and checked, and what the process shares. It must not
	// block or connect (nothing connects until the component runs); an
	// error stops start-up, and nobody retries.
	New func(cfg any, shared Shared) (transports.Network, error)
}

// network is the entry of a network whose config struct is C.
func network[C any](name string, build func(*C, Shared) (transports.Network, error)) Network {
	return Network{
		Network: config.Network{Name: name, NewConfig: func() any { return new(C) }},
		New: func(cfg any, s Shared) (transports.Network, error) {
			c, ok := cfg.(*C)
			if !ok {
				return nil, fmt.Errorf("config of [%s] is a %T, not a %T", name, cfg, c)
			}
			return build(c, s)
		},
	}
}

// Networks returns the networks this build has.
func Networks() []Network { return networks }

// Shared is what every network of one process shares.
type Shared struct {
	// Egress is the policy for addresses users name, and Budget the
	// connection budget ([limits]).
	Egress *egress.Policy
	Budget *egress.Budget
	// RootCAs verifies legacy servers' TLS: the system roots plus
	// [security] ca_file; nil means the system roots.
	RootCAs *x509.CertPool
	// Logger is the process's logger, with the network's name.
	Logger *slog.Logger
	// Version is the program's version ("v1.2.0", "devel").
	Version string
	// MaxAttachmentBytes and MaxAttachments are [security]'s limits on
	// legacy files.
	MaxAttachmentBytes int64
	MaxAttachments     int
}

// ParseConfig decodes and checks a configuration file for the networks
// of this build (see config.Parse).
func ParseConfig(name string, data []byte) (*config.Config, error) {
	return config.Parse(name, data, configTables(networks))
}

// LoadConfig reads, decodes and checks the configuration file at path for
// the networks of this build.
func LoadConfig(path string) (*config.Config, error) {
	return config.Load(path, configTables(networks))
}

func configTables(nets []Network) []config.Network {
	out := make([]config.Network, len(nets))
	for i, n := range nets {
		out[i] = n.Network
	}
	return out
}

// loadCAs returns the system roots plus the CAs of file, or nil (the
// system roots) when file is empty.
func loadCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading [security] ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("[security] ca_file %s holds no PEM certificate", file)
	}
	return pool, nil
}
