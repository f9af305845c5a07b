package discord

import (
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/switchboard-im/switchboard/egress"
)

// Config configures the Discord network. The fields with a toml tag are
// the keys of the configuration file's [discord] table, decoded into this
// struct strictly (a key not here is an error); the others are set by the
// program.
type Config struct {
	// ServerURL is the root of the Discord-compatible server to use
	// ("https://spacebar.example.org/"), for a self-hosted Spacebar
	// instance; empty means Discord itself. Its REST API is under
	// api/v9/ and it names its gateway and CDN itself. The admin chose
	// it, so the egress policy does not apply to it.
	ServerURL string `toml:"server_url"`
	// MaxMembers caps the occupants a joined guild channel shows (online
	// members first, then recent authors, then as the server lists them:
	// a big guild's full list would cost every user's session memory and
	// the join a long listing); 0 means 250.
	MaxMembers int `toml:"max_members"`
	// Timeout bounds a login (REST check and gateway READY) and each REST
	// call; 0 means 30 s.
	Timeout time.Duration `toml:"-"`
	// Budget counts gateway connections: process-wide and per user per
	// minute. nil means no limit.
	Budget *egress.Budget `toml:"-"`
	// MaxAttachment is the largest file fetched from Discord for the
	// user ([security] max_attachment_bytes); 0 means no cap here (the
	// component applies its own).
	MaxAttachment int64 `toml:"-"`
	// Logger receives the network's logs; nil means slog.Default().
	// Tokens and message texts never reach it.
	Logger *slog.Logger `toml:"-"`
}

// Check reports each problem of the keys read from the file: problem is
// called with the key, relative to the [discord] table, and what is
// wrong. It does no I/O.
func (c *Config) Check(problem func(key, msg string)) {
	if c.ServerURL != "" {
		if _, err := parseServerURL(c.ServerURL); err != nil {
			problem("server_url", err.Error())
		}
	}
	if c.MaxMembers < 0 {
		problem("max_members", "must not be negative")
	}
}

// parseServerURL checks a server_url: http or https, a host, no query,
// fragment or user info. The path ends with "/".
func parseServerURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", cut(s, 200))
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not an http(s) URL of a server root (https://host[:port]/[path/])", cut(s, 200))
	}
	if u.Path == "" || u.Path[len(u.Path)-1] != '/' {
		u.Path += "/"
	}
	return u, nil
}

func (c Config) withDefaults() Config {
	if c.MaxMembers == 0 {
		c.MaxMembers = 250
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
