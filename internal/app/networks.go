package app

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/switchboard-im/switchboard/egress"

	"github.com/switchboard-im/switchboard/email"
	"github.com/switchboard-im/switchboard/irc"
	"github.com/switchboard-im/switchboard/transports"
)

// Networks returns the transports this build has, by config table name.
func Networks(version string) map[string]NetworkFactory {
	return map[string]NetworkFactory{
		"irc": func(n Table, log *slog.Logger) (transports.Network, error) {
			return newIRC(n, log, version)
		},
		"email": newEmail,
	}
}

// Egress is the outgoing-connection policy and budget every network of
// one process shares.
type Egress struct {
	Policy *egress.Policy
	Budget *egress.Budget
}

// newIRC builds the IRC network from its [irc] table.
func newIRC(n Table, log *slog.Logger, version string) (transports.Network, error) {
	roots, err := loadCAs(n.CAFile)
	if err != nil {
		return nil, err
	}
	cfg := irc.Config{
		Servers:            make(map[string]irc.Server),
		RootCAs:            roots,
		SendRate:           n.SendRate,
		SendBurst:          n.SendBurst,
		Version:            "Switchboard " + version,
		Logger:             log,
		AllowedServers:     n.AllowedServers,
		Egress:             n.Egress.Policy,
		Budget:             n.Egress.Budget,
		MaxServersPerUser:  n.MaxServersPerUser,
		MaxLinesPerMessage: n.MaxLinesPerMessage,
	}
	for host, s := range n.Servers {
		cfg.Servers[strings.ToLower(host)] = irc.Server{Address: s.Address, Plaintext: s.Plaintext, ServicesHost: strings.ToLower(s.ServicesHost)}
	}
	// default_server may be host:port: the host names the server in
	// addresses, the port says where to reach it.
	if n.DefaultServer != "" {
		host, _, err := net.SplitHostPort(n.DefaultServer)
		if err != nil {
			host = n.DefaultServer
		}
		host = strings.ToLower(host)
		cfg.DefaultServer = host
		if s, ok := cfg.Servers[host]; !ok || s.Address == "" {
			if host != n.DefaultServer {
				s.Address = n.DefaultServer
			}
			cfg.Servers[host] = s
		}
	}
	return irc.New(cfg), nil
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

// newEmail builds the email network from its [email] table.
func newEmail(n Table, log *slog.Logger) (transports.Network, error) {
	roots, err := loadCAs(n.CAFile)
	if err != nil {
		return nil, err
	}
	return email.New(email.Config{
		DefaultIMAP:    n.DefaultIMAPServer,
		DefaultSMTP:    n.DefaultSMTPServer,
		AllowPlaintext: n.AllowPlaintext,
		Limits: email.Limits{
			MaxBody:        n.MaxBodyBytes,
			MaxAttachment:  n.Security.MaxAttachmentBytes,
			MaxAttachments: n.Security.MaxAttachments,
		},
		RootCAs: roots,
		Logger:  log,
		Egress:  n.Egress.Policy,
		Budget:  n.Egress.Budget,
	}), nil
}
