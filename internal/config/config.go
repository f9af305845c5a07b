// Package config reads and checks switchboard.toml. Every problem is
// reported with the file name and line, the way compilers do, so that
// check-config points the admin at the line to fix.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/egress"
)

// Config is the whole configuration file.
type Config struct {
	XMPP     XMPP     `toml:"xmpp"`
	Storage  Storage  `toml:"storage"`
	Security Security `toml:"security"`
	HTTP     HTTP     `toml:"http"`
	Log      Log      `toml:"log"`
	Limits   Limits   `toml:"limits"`
	Archive  Archive  `toml:"archive"`
	HA       HA       `toml:"ha"`

	// networks are the enabled networks' tables, one per network whose
	// [table] the file has, in the order Parse was given the networks.
	networks []NetworkEntry
}

// XMPP is how to reach the XMPP server.
type XMPP struct {
	// Server is the host:port of the server's component listener.
	Server string `toml:"server"`
	// MaxStanzaBytes is the largest stanza read from or written to the
	// component stream; keep it below the server's own limit for
	// components (Prosody: 512 KiB). 0 means 256 KiB.
	MaxStanzaBytes int `toml:"max_stanza_bytes"`
}

// Storage selects the storage backend: the embedded bbolt file (the
// default), or Redis, standalone, behind Sentinel or a Cluster.
type Storage struct {
	// Backend is "bolt" or "redis". Empty means redis when url,
	// sentinel_addrs or cluster_addrs is set, else bolt.
	Backend string `toml:"backend"`
	// Path is the embedded bbolt database file.
	Path string `toml:"path"`

	// URL names a Redis: redis://[user:password@]host:port[/db],
	// rediss://… for TLS, or
	// redis-sentinel://host:port[,host:port…][/db]?master_name=NAME
	// (rediss-sentinel://… for TLS).
	URL string `toml:"url"`
	// SentinelAddrs and MasterName name a Sentinel-watched master
	// instead of a URL; ClusterAddrs some nodes of a Redis Cluster.
	SentinelAddrs []string `toml:"sentinel_addrs"`
	MasterName    string   `toml:"master_name"`
	ClusterAddrs  []string `toml:"cluster_addrs"`
	// Username and Password authenticate to Redis (AUTH or an ACL
	// user); they win over the URL's. SentinelUsername and
	// SentinelPassword authenticate to the sentinels.
	Username         string `toml:"username"`
	Password         string `toml:"password"`
	SentinelUsername string `toml:"sentinel_username"`
	SentinelPassword string `toml:"sentinel_password"`
	// TLS connects with TLS (as rediss:// does); CAFile adds PEM CAs to
	// trust for the Redis servers' certificates.
	TLS    bool   `toml:"tls"`
	CAFile string `toml:"ca_file"`
	// KeyPrefix starts every Redis key ("switchboard:" when empty), so
	// that deployments can share a Redis.
	KeyPrefix string `toml:"key_prefix"`
	// MinReplicas is how many replicas must acknowledge each write
	// (Redis WAIT) before it counts as done; 0 does not wait.
	// MinReplicasTimeout bounds that wait ("1s" when empty).
	MinReplicas        int    `toml:"min_replicas"`
	MinReplicasTimeout string `toml:"min_replicas_timeout"`
	// MessageIDDays is how long the map between legacy and XMPP message
	// IDs (for replies, reactions, corrections) keeps a pair. 0 means 90.
	MessageIDDays int `toml:"message_id_days"`
}

// Security holds the credentials key and access policy.
type Security struct {
	KeyFile        string   `toml:"key_file"`
	AllowedDomains []string `toml:"allowed_domains"`
	Admins         []string `toml:"admins"`
	// CAFile adds PEM CAs to trust for legacy servers' TLS.
	CAFile string `toml:"ca_file"`
	// AllowPrivate lists addresses or prefixes ("10.0.0.5",
	// "192.168.0.0/16") that user-named destinations may resolve to
	// although they are not public. Destinations the admin configured
	// (a network's own server entries and default servers) need no
	// entry.
	AllowPrivate []string `toml:"allow_private"`
	// MaxAttachmentBytes is the largest legacy file uploaded to the
	// user's server (XEP-0363); larger files are named, not sent. 0 means
	// 25 MiB.
	MaxAttachmentBytes int64 `toml:"max_attachment_bytes"`
	// MaxAttachments is the most files uploaded for one legacy message;
	// the rest are named. 0 means 10.
	MaxAttachments int `toml:"max_attachments"`
}

// Limits bound what one user, or all of them, can make the gateway do.
// Every excess is refused with an error the user sees; nothing waits
// forever. Zero values take the defaults in brackets.
type Limits struct {
	// MaxConnections caps open legacy connections in the process [2000].
	MaxConnections int `toml:"max_connections"`
	// ConnectionsPerMinute caps new legacy connections per user [10].
	ConnectionsPerMinute int `toml:"connections_per_minute"`
	// CommandsPerMinute caps reconnect and register requests per user [5].
	CommandsPerMinute int `toml:"commands_per_minute"`
	// IncomingPerMinute caps legacy messages delivered to one user per
	// minute; the excess is summarised in one notice [120].
	IncomingPerMinute int `toml:"incoming_per_minute"`
	// RoomsPerUser caps the rooms one user is in on a network [50].
	RoomsPerUser int `toml:"rooms_per_user"`
}

// Archive is the room archive (XEP-0313): the messages each user's legacy
// session receives in rooms, kept per user, so that clients catch up with
// a MAM query after being away and joins get history where the network
// has none. Zero values take the defaults in brackets.
type Archive struct {
	// Enabled turns the archive on [true]. Off, nothing more is archived
	// and MAM is not advertised; what was kept is still pruned.
	Enabled *bool `toml:"enabled"`
	// Days is how long a message is kept [30].
	Days int `toml:"days"`
	// MaxMessagesPerRoom is how many messages of a room one user's
	// archive keeps; the oldest go first [1000].
	MaxMessagesPerRoom int `toml:"max_messages_per_room"`
}

// On reports whether the archive is enabled.
func (a Archive) On() bool { return a.Enabled == nil || *a.Enabled }

// Archive defaults.
const (
	DefaultArchiveDays    = 30
	DefaultArchivePerRoom = 1000
)

// Limit defaults.
const (
	DefaultMaxStanzaBytes       = 256 << 10
	DefaultMaxAttachmentBytes   = 25 << 20
	DefaultMaxAttachments       = 10
	DefaultMaxConnections       = 2000
	DefaultConnectionsPerMinute = 10
	DefaultCommandsPerMinute    = 5
	DefaultIncomingPerMinute    = 120
	DefaultRoomsPerUser         = 50
)

// HTTP is the listener for /healthz, /metrics and webhooks: networks
// that receive pushes (transports.HookNetwork) are served at
// /hooks/<network>/.
type HTTP struct {
	Listen string `toml:"listen"`
	// PublicURL is the absolute http(s) URL at which the listener is
	// reached from outside, behind a reverse proxy
	// ("https://gw.example.org/switchboard"): networks build their
	// webhook URLs from it and check their providers' signatures
	// against it. Empty means unknown (networks that need it say so).
	PublicURL string `toml:"public_url"`
	// MaxBodyBytes caps the body of a webhook request; a larger one is
	// refused. 0 means 1 MiB.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
}

// DefaultMaxBodyBytes is the default of [http] max_body_bytes.
const DefaultMaxBodyBytes = 1 << 20

// Log configures logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text, json
}

// Problem is one error in the file, at a line (0 when not tied to one).
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Error lists every problem found in a file.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads, decodes and checks the file at path; nets are the
// networks this build has (see Parse).
func Load(path string, nets []Network) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, nets)
}

// Parse decodes and checks data; name is used in error messages. Defaults
// are filled in. Unknown keys are errors (a typo must not be ignored):
// each network's table is decoded strictly into that network's own config
// (nets), so a key of another network is an unknown key too.
func Parse(name string, data []byte, nets []Network) (*Config, error) {
	var c Config
	probs, err := c.decode(name, data, nets)
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		return nil, &Error{Problems: probs}
	}
	c.defaults()
	if probs := c.check(name, keyLines(data), nets); len(probs) > 0 {
		return nil, &Error{Problems: probs}
	}
	return &c, nil
}

func decodeError(name string, err error) error {
	var sme *toml.StrictMissingError
	if errors.As(err, &sme) {
		e := &Error{}
		for _, de := range sme.Errors {
			row, _ := de.Position()
			e.Problems = append(e.Problems, Problem{File: name, Line: row,
				Msg: fmt.Sprintf("unknown key %q", strings.Join(de.Key(), "."))})
		}
		return e
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		return &Error{Problems: []Problem{{File: name, Line: row, Msg: strings.TrimPrefix(de.Error(), "toml: ")}}}
	}
	return &Error{Problems: []Problem{{File: name, Msg: err.Error()}}}
}

func (c *Config) defaults() {
	if c.Storage.Backend == "" {
		c.Storage.Backend = "bolt"
		if c.Storage.URL != "" || len(c.Storage.SentinelAddrs) > 0 || len(c.Storage.ClusterAddrs) > 0 {
			c.Storage.Backend = "redis"
		}
	}
	if c.Storage.Backend == "bolt" && c.Storage.Path == "" {
		c.Storage.Path = "switchboard.db"
	}
	if c.Security.KeyFile == "" {
		c.Security.KeyFile = "switchboard.key"
	}
	if c.HTTP.MaxBodyBytes == 0 {
		c.HTTP.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.XMPP.MaxStanzaBytes, DefaultMaxStanzaBytes)
	if c.Security.MaxAttachmentBytes == 0 {
		c.Security.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	def(&c.Security.MaxAttachments, DefaultMaxAttachments)
	def(&c.Limits.MaxConnections, DefaultMaxConnections)
	def(&c.Limits.ConnectionsPerMinute, DefaultConnectionsPerMinute)
	def(&c.Limits.CommandsPerMinute, DefaultCommandsPerMinute)
	def(&c.Limits.IncomingPerMinute, DefaultIncomingPerMinute)
	def(&c.Limits.RoomsPerUser, DefaultRoomsPerUser)
	def(&c.Archive.Days, DefaultArchiveDays)
	def(&c.Archive.MaxMessagesPerRoom, DefaultArchivePerRoom)
}

var domainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

func (c *Config) check(name string, lines map[string]int, known []Network) []Problem {
	var probs []Problem
	add := func(key, format string, args ...any) {
		line, ok := lines[key]
		// A missing key is reported at the header of the innermost
		// table the file has ([irc.servers."x"], else [irc]).
		for k := key; !ok && strings.Contains(k, "."); {
			k = k[:strings.LastIndex(k, ".")]
			line, ok = lines[k]
		}
		probs = append(probs, Problem{File: name, Line: line, Msg: key + ": " + fmt.Sprintf(format, args...)})
	}
	checkAddr := func(key, v string, required bool) {
		if v == "" {
			if required {
				add(key, "missing; give host:port")
			}
			return
		}
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			add(key, "%q is not host:port", v)
		}
	}
	checkAddr("xmpp.server", c.XMPP.Server, false)
	checkAddr("http.listen", c.HTTP.Listen, false)
	if msg := checkPublicURL(c.HTTP.PublicURL); msg != "" {
		add("http.public_url", "%s", msg)
	}
	if c.HTTP.MaxBodyBytes < 0 {
		add("http.max_body_bytes", "must not be negative")
	}
	c.Storage.check(add, checkAddr)
	c.HA.check(c.Storage.Backend, add)
	for i, d := range c.Security.AllowedDomains {
		if d != "*" && !domainRE.MatchString(strings.ToLower(d)) {
			add("security.allowed_domains", "entry %d (%q) is not a domain name or \"*\"", i+1, d)
		}
	}
	for i, a := range c.Security.Admins {
		if j, err := jid.Parse(a); err != nil || j.Localpart() == "" {
			add("security.admins", "entry %d (%q) is not a user JID", i+1, a)
		}
	}
	if c.XMPP.MaxStanzaBytes < 4096 {
		add("xmpp.max_stanza_bytes", "must be at least 4096")
	}
	if _, err := egress.ParsePrefixes(c.Security.AllowPrivate); err != nil {
		add("security.allow_private", "%v", err)
	}
	if c.Security.MaxAttachmentBytes < 0 {
		add("security.max_attachment_bytes", "must not be negative")
	}
	if c.Security.MaxAttachments < 0 {
		add("security.max_attachments", "must not be negative")
	}
	for key, v := range map[string]int{
		"limits.max_connections":        c.Limits.MaxConnections,
		"limits.connections_per_minute": c.Limits.ConnectionsPerMinute,
		"limits.commands_per_minute":    c.Limits.CommandsPerMinute,
		"limits.incoming_per_minute":    c.Limits.IncomingPerMinute,
		"limits.rooms_per_user":         c.Limits.RoomsPerUser,
		"archive.days":                  c.Archive.Days,
		"archive.max_messages_per_room": c.Archive.MaxMessagesPerRoom,
	} {
		if v < 0 {
			add(key, "must not be negative")
		}
	}
	if c.Storage.MessageIDDays < 0 {
		add("storage.message_id_days", "must not be negative")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "%q is not one of text, json", c.Log.Format)
	}
	nets := c.Networks()
	if len(nets) == 0 {
		tables := make([]string, len(known))
		for i, n := range known {
			tables[i] = "[" + n.Name + "]"
		}
		probs = append(probs, Problem{File: name, Msg: "no network is enabled; add one of the tables " + strings.Join(tables, ", ")})
	}
	seen := map[string]string{}
	for _, n := range nets {
		if n.Domain == "" {
			add(n.Name+".domain", "missing; the component's JID, e.g. %s.example.org", n.Name)
		} else if !domainRE.MatchString(n.Domain) {
			add(n.Name+".domain", "%q is not a lower-case domain name", n.Domain)
		} else if other, dup := seen[n.Domain]; dup {
			add(n.Name+".domain", "%q is also the domain of [%s]", n.Domain, other)
		} else {
			seen[n.Domain] = n.Name
		}
		if n.Secret == "" {
			add(n.Name+".secret", "missing; the component secret configured on the XMPP server")
		}
		checkAddr(n.Name+".server", n.Server, false)
		if n.MessageRate < 0 {
			add(n.Name+".message_rate", "must not be negative")
		}
		if n.MessageBurst < 0 {
			add(n.Name+".message_burst", "must not be negative")
		}
		if n.Server == "" && c.XMPP.Server == "" {
			add(n.Name+".server", "no XMPP server: set [xmpp] server or %s.server", n.Name)
		}
		if ch, ok := n.Config.(Checker); ok {
			ch.Check(func(key, msg string) { add(n.Name+"."+key, "%s", msg) })
		}
	}
	return probs
}

// keyLines maps "table.key" to the line it is set on, for error messages.
// It understands the plain key = value and [table] lines a config file
// has; keys it cannot place get line 0.
func keyLines(data []byte) map[string]int {
	lines := make(map[string]int)
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "["):
			table = strings.Trim(strings.TrimSpace(strings.SplitN(l, "#", 2)[0]), "[]")
			// [irc.servers."irc.test"] names the table irc.servers.irc.test.
			table = strings.NewReplacer(`"`, "", "'", "", " ", "").Replace(table)
			if _, ok := lines[table]; !ok {
				lines[table] = n
			}
		case strings.Contains(l, "="):
			key := strings.Trim(strings.TrimSpace(strings.SplitN(l, "=", 2)[0]), `"'`)
			full := key
			if table != "" {
				full = table + "." + key
			}
			if _, ok := lines[full]; !ok {
				lines[full] = n
			}
		}
	}
	return lines
}
