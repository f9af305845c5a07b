// Package irc bridges to IRC. One Network value serves every user; each
// user's Adapter holds one connection per IRC server they use (the server
// they registered with, and any server whose channels they join), shared by
// all their XMPP resources. It speaks IRCv3 where the server offers it
// (server-time, echo-message, message-tags with replies, reactions and
// typing, away-notify, account-tag, extended-join, multi-prefix, SASL) and
// never lets user text inject a command: every line is sanitised and split
// to fit the 512-byte limit.
//
// Every IRC server is untrusted input, like a stanza. Users reach only the
// servers the admin allowed (Config.AllowedServers), servers they name are
// dialled through the egress policy, and every connection takes a lease of
// the connection budget. What a server sends is read through a
// line-limited reader that cuts long lines, drops the connection on an
// endless one, and drops malformed lines (CTCP without a source, which
// crashed the process inside girc's handlers when they still ran); CTCP is answered by the gateway
// itself, paced. A panic while handling a line closes that connection
// only. What users send is bounded too: lines per message, the send
// queue, servers per user, and raw commands to the server JID (an allow
// list, registered users only). A password goes only to SASL, or to the
// NickServ of a services host the admin configured.
//
// The package knows nothing of XMPP: it implements the transports contract.
package irc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/lrstanley/girc"

	"github.com/switchboard-im/switchboard/transports"
)

// Network is the IRC network. It implements transports.Network and the
// optional AnonymousNetwork and Addresser interfaces.
type Network struct {
	cfg Config
	log *slog.Logger
	// views are the channels' member lists and topics, one per channel
	// and server, shared by every user's connection in the channel.
	views roomViews
	// parked is the poller of the idle connections (park.go).
	parked parkers
}

var (
	_ transports.Network          = (*Network)(nil)
	_ transports.AnonymousNetwork = (*Network)(nil)
	_ transports.Addresser        = (*Network)(nil)
)

// New returns the IRC network configured by cfg.
func New(cfg Config) *Network {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RealName == "" {
		cfg.RealName = "Switchboard user"
	}
	if cfg.SendRate <= 0 {
		cfg.SendRate = 2
	}
	if cfg.SendBurst <= 0 {
		cfg.SendBurst = 5
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Version == "" {
		cfg.Version = "Switchboard"
	}
	servers := make(map[string]Server, len(cfg.Servers)+1)
	for name, s := range cfg.Servers {
		s.ServicesHost = strings.ToLower(s.ServicesHost)
		servers[strings.ToLower(name)] = s
	}
	// DefaultServer may be host:port: the host names the server in
	// addresses, the port says where to reach it.
	if def := cfg.DefaultServer; def != "" {
		host, _, err := net.SplitHostPort(def)
		if err != nil {
			host = def
		}
		host = strings.ToLower(host)
		cfg.DefaultServer = host
		if s, ok := servers[host]; !ok || s.Address == "" {
			if !strings.EqualFold(host, def) {
				s.Address = def
			}
			servers[host] = s
		}
	}
	cfg.Servers = servers
	if cfg.MaxServersPerUser <= 0 {
		cfg.MaxServersPerUser = 3
	}
	if cfg.MaxLinesPerMessage <= 0 {
		cfg.MaxLinesPerMessage = 20
	}
	allowed := make([]string, 0, len(cfg.AllowedServers))
	for _, s := range cfg.AllowedServers {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			allowed = append(allowed, s)
		}
	}
	cfg.AllowedServers = allowed
	return &Network{cfg: cfg, log: cfg.Logger.With("network", "irc")}
}

// adminServer reports whether the admin configured server (the default
// server or a Servers entry): those are dialled without the egress
// policy, private addresses included.
func (n *Network) adminServer(server string) bool {
	if server == n.cfg.DefaultServer && server != "" {
		return true
	}
	_, ok := n.cfg.Servers[server]
	return ok
}

// allowed returns nil when users may reach server, and otherwise an
// error wrapping transports.ErrPolicy that names the policy. It is
// checked before any connection attempt.
func (n *Network) allowed(server string) error {
	if len(n.cfg.AllowedServers) == 0 {
		if n.adminServer(server) {
			return nil
		}
	} else if slices.Contains(n.cfg.AllowedServers, "*") || slices.Contains(n.cfg.AllowedServers, server) {
		return nil
	}
	return fmt.Errorf("%w: this gateway connects only to the IRC servers its admin allowed (allowed_servers), and %s is not one of them",
		transports.ErrPolicy, server)
}

// Name implements transports.Network.
func (n *Network) Name() string { return "irc" }

// Identity implements transports.Network.
func (n *Network) Identity() transports.Identity {
	return transports.Identity{Category: "gateway", Type: "irc", Name: "IRC gateway"}
}

// LoginFields implements transports.Network.
func (n *Network) LoginFields() []transports.Field {
	server := transports.Field{
		Name: "server", Label: "IRC server", Kind: transports.FieldText, MaxLen: 253,
		Desc: "Host name of the IRC server, e.g. irc.libera.chat",
	}
	if n.cfg.DefaultServer != "" {
		server.Default = n.cfg.DefaultServer
		server.Desc += " (empty: " + n.cfg.DefaultServer + ")"
	} else {
		server.Required = true
	}
	return []transports.Field{
		{Name: "nick", Label: "Nickname", Kind: transports.FieldText, Required: true, Legacy: "username", MaxLen: 64,
			Desc: "Your IRC nickname (and services account name)"},
		{Name: "password", Label: "Password", Kind: transports.FieldSecret, Legacy: "password", MaxLen: 300,
			Desc: "Your services (NickServ) password, used with SASL; empty for none"},
		server,
	}
}

// Kind implements transports.Addresser.
func (n *Network) Kind(id transports.ID) (transports.IDKind, error) {
	t, err := ParseID(id, n.cfg.DefaultServer)
	if err != nil {
		return 0, err
	}
	return t.Kind(), nil
}

// AnonymousAccount implements transports.AnonymousNetwork: an unregistered
// user joins with their MUC nick and no password, as with biboumi.
func (n *Network) AnonymousAccount(user string, room transports.ID, nick string) (transports.Account, error) {
	t, err := ParseID(room, n.cfg.DefaultServer)
	if err != nil {
		return transports.Account{}, err
	}
	if err := n.allowed(t.Server); err != nil {
		return transports.Account{}, err
	}
	if !validNick(nick) {
		return transports.Account{}, fmt.Errorf("%w: %q is not a valid IRC nickname", transports.ErrInvalidInput, nick)
	}
	return transports.Account{User: user, Credentials: transports.Credentials{}}, nil
}

// login is the validated form of a registration.
type login struct {
	nick, password, server string
}

func (n *Network) login(creds transports.Credentials) (login, error) {
	l := login{nick: creds["nick"], password: creds["password"], server: strings.ToLower(strings.TrimSpace(creds["server"]))}
	if l.server == "" {
		l.server = n.cfg.DefaultServer
	}
	if l.server == "" {
		return l, fmt.Errorf("%w: no IRC server given", transports.ErrInvalidInput)
	}
	if _, err := parseIDServer(l.server); err != nil {
		return l, err // the rule of server names in addresses
	}
	if err := n.allowed(l.server); err != nil {
		return l, err
	}
	if !validNick(l.nick) {
		return l, fmt.Errorf("%w: %q is not a valid IRC nickname", transports.ErrInvalidInput, l.nick)
	}
	if strings.ContainsAny(l.password, "\r\n\x00") {
		return l, fmt.Errorf("%w: the password contains a line break", transports.ErrInvalidInput)
	}
	return l, nil
}

// Validate implements transports.Network: it connects, authenticates with
// SASL when a password is given, and quits.
func (n *Network) Validate(ctx context.Context, creds transports.Credentials) error {
	l, err := n.login(creds)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	// Validate does not know the user (the component limits their
	// registrations); its connections count in the budget under one key
	// per server, so registrations cannot hammer one server either.
	a := n.newAdapter(transports.Account{User: "(registration) " + l.server}, transports.SinkFunc(func(transports.Event) {}))
	defer a.Close()
	c := a.newConn(l.server, l.nick, l.password)
	// Without SASL the connection identifies to NickServ once registered;
	// its answer says whether the password is right.
	identified := c.addAwait(c.nickServAnswer)
	if err := c.waitRegistered(ctx); err != nil {
		return err
	}
	if l.password == "" || c.authenticated() {
		return nil
	}
	if err := c.waitFor(ctx, identified, "NickServ"); err != nil {
		if errors.Is(err, transports.ErrUnavailable) {
			return fmt.Errorf("%w: %s offers no SASL and NickServ did not answer; register without a password", transports.ErrInvalidInput, l.server)
		}
		return err
	}
	return nil
}

// nickServAnswer recognises NickServ's answer to IDENTIFY (Atheme and
// Anope wordings), or the server saying there is no NickServ. Only a
// NickServ on the services host the admin configured is believed: anyone
// can hold the nick NickServ.
func (c *conn) nickServAnswer(e *girc.Event, _ bool) (bool, error) {
	switch e.Command {
	case "401":
		if len(e.Params) >= 2 {
			if nick, _, _ := strings.Cut(e.Params[1], "@"); EqualFold(nick, "NickServ") {
				return true, fmt.Errorf("%w: the server has neither SASL nor NickServ to check a password; register without one", transports.ErrInvalidInput)
			}
		}
	case "NOTICE":
		services := c.servicesHost()
		if e.Source == nil || !EqualFold(e.Source.Name, "NickServ") || services == "" || !strings.EqualFold(e.Source.Host, services) {
			return false, nil
		}
		text := StripFormatting(DecodeText(lastParam(e.Params)))
		low := strings.ToLower(text)
		switch {
		case strings.Contains(low, "invalid") || strings.Contains(low, "incorrect") || strings.Contains(low, "failed"):
			return true, fmt.Errorf("%w: NickServ: %s", transports.ErrBadCredentials, text)
		case strings.Contains(low, "identified") || strings.Contains(low, "recognized") || strings.Contains(low, "accepted"):
			return true, nil
		}
	}
	return false, nil
}

// Connect implements transports.Network. A registered user is connected to
// their server at once; an anonymous user's connections are opened when
// they join a room.
func (n *Network) Connect(ctx context.Context, acct transports.Account, sink transports.Sink) (transports.Adapter, error) {
	a := n.newAdapter(acct, sink)
	if acct.Credentials["nick"] == "" {
		return a, nil
	}
	l, err := n.login(acct.Credentials)
	if err != nil {
		a.Close()
		return nil, err
	}
	c := a.newConn(l.server, l.nick, l.password)
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	if err := c.waitRegistered(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.setMain(c)
	return a, nil
}

// address returns where to dial server and whether to use TLS.
func (n *Network) address(server string) (addr string, useTLS bool) {
	s, ok := n.cfg.Servers[server]
	port := "6697"
	if ok && s.Plaintext {
		port = "6667"
	}
	addr = net.JoinHostPort(server, port)
	if ok && s.Address != "" {
		addr = s.Address
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, port)
		}
	}
	return addr, !(ok && s.Plaintext)
}

// validNick reports whether s can be an IRC nick in a line (L10: not
// empty).
func validNick(s string) bool {
	if s == "" {
		return false
	}
	_, err := ParseID(transports.ID(s+"%irc.invalid"), "")
	return err == nil && !strings.ContainsAny(s, "#&+!")
}

// lastParam is the most useful text of an IRC line: its last parameter.
func lastParam(params []string) string {
	if len(params) == 0 {
		return ""
	}
	return params[len(params)-1]
}
