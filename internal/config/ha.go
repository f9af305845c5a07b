package config

import (
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"
)

// HA is the [ha] table: how instances sharing one Redis elect, per
// component domain, the one that holds the domain's stream (the others
// wait as standbys and take over when it dies).
type HA struct {
	// Instance names this instance in the leases and in `switchboard
	// status`. Empty means the host name and the process ID.
	Instance string `toml:"instance"`
	// LeaseTTL is how long a domain's lease lasts without renewal: a
	// standby takes over about this long after the holder died ("3s"
	// when empty). The holder renews every third of it, so Redis must
	// answer well within that.
	LeaseTTL string `toml:"lease_ttl"`
}

// minLeaseTTL keeps renewals (every third of the TTL) above the noise of
// a busy machine.
const minLeaseTTL = time.Second

// check reports the problems of the [ha] table through add.
func (h *HA) check(backend string, add func(key, format string, args ...any)) {
	if h.LeaseTTL != "" {
		if backend != "redis" {
			add("ha.lease_ttl", "is for backend \"redis\" (with bolt one process holds every domain)")
		} else if d, err := time.ParseDuration(h.LeaseTTL); err != nil || d < minLeaseTTL {
			add("ha.lease_ttl", "%q is not a duration of at least %s, such as \"3s\"", h.LeaseTTL, minLeaseTTL)
		}
	}
	if len(h.Instance) > 100 {
		add("ha.instance", "longer than 100 bytes")
	}
	if strings.IndexFunc(h.Instance, unicode.IsControl) >= 0 {
		add("ha.instance", "contains control characters")
	}
}

// TTL is LeaseTTL as a duration: 0 when empty (the default applies).
func (h *HA) TTL() time.Duration {
	d, _ := time.ParseDuration(h.LeaseTTL)
	return d
}

// InstanceName is Instance, or the host name and process ID when it is
// empty.
func (h *HA) InstanceName() string {
	if h.Instance != "" {
		return h.Instance
	}
	host, err := os.Hostname()
	if err != nil {
		host = "switchboard"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
