package config

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// redisSchemes are the URL schemes of the Redis backend.
var redisSchemes = []string{"redis://", "rediss://", "redis-sentinel://", "rediss-sentinel://"}

// check reports the problems of the [storage] table through add. No
// message quotes the URL or a password.
func (s *Storage) check(add func(key, format string, args ...any), checkAddr func(key, v string, required bool)) {
	redisKeys := map[string]bool{
		"storage.url": s.URL != "", "storage.sentinel_addrs": len(s.SentinelAddrs) > 0,
		"storage.master_name": s.MasterName != "", "storage.cluster_addrs": len(s.ClusterAddrs) > 0,
		"storage.username": s.Username != "", "storage.password": s.Password != "",
		"storage.sentinel_username": s.SentinelUsername != "", "storage.sentinel_password": s.SentinelPassword != "",
		"storage.tls": s.TLS, "storage.ca_file": s.CAFile != "", "storage.key_prefix": s.KeyPrefix != "",
		"storage.min_replicas": s.MinReplicas != 0, "storage.min_replicas_timeout": s.MinReplicasTimeout != "",
	}
	switch s.Backend {
	case "bolt":
		for _, k := range sortedKeys(redisKeys) {
			if redisKeys[k] {
				add(k, "is for backend \"redis\", but the backend is \"bolt\"")
			}
		}
		return
	case "redis":
	default:
		add("storage.backend", "%q is not one of bolt, redis", s.Backend)
		return
	}
	if s.Path != "" {
		add("storage.path", "is for backend \"bolt\", but the backend is \"redis\"")
	}
	n := 0
	for _, set := range []bool{s.URL != "", len(s.SentinelAddrs) > 0, len(s.ClusterAddrs) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		add("storage.backend", "redis needs exactly one of url, sentinel_addrs, cluster_addrs")
	}
	if s.URL != "" {
		ok := false
		for _, p := range redisSchemes {
			ok = ok || strings.HasPrefix(s.URL, p)
		}
		if !ok {
			add("storage.url", "must start with redis://, rediss://, redis-sentinel:// or rediss-sentinel://")
		}
		if strings.HasPrefix(s.URL, "redis-sentinel://") || strings.HasPrefix(s.URL, "rediss-sentinel://") {
			if !strings.Contains(s.URL, "master_name=") {
				add("storage.url", "a sentinel URL needs ?master_name=NAME")
			}
		}
	}
	for _, a := range s.SentinelAddrs {
		checkAddr("storage.sentinel_addrs", a, true)
	}
	if len(s.SentinelAddrs) > 0 && s.MasterName == "" {
		add("storage.master_name", "missing; sentinel_addrs need the name the sentinels watch the master under")
	}
	if s.MasterName != "" && len(s.SentinelAddrs) == 0 {
		add("storage.master_name", "is for sentinel_addrs (a sentinel URL names the master with ?master_name=)")
	}
	for _, a := range s.ClusterAddrs {
		checkAddr("storage.cluster_addrs", a, true)
	}
	if strings.ContainsAny(s.KeyPrefix, "{}") {
		add("storage.key_prefix", "must not contain braces (Redis Cluster hash tags)")
	}
	if s.MinReplicas < 0 {
		add("storage.min_replicas", "must not be negative")
	}
	if s.MinReplicasTimeout != "" {
		if d, err := time.ParseDuration(s.MinReplicasTimeout); err != nil || d <= 0 {
			add("storage.min_replicas_timeout", "%q is not a positive duration such as \"500ms\" or \"2s\"", s.MinReplicasTimeout)
		}
	}
}

// WaitTimeout is MinReplicasTimeout as a duration: 0 when empty (the
// backend's default). The config check has validated it.
func (s *Storage) WaitTimeout() time.Duration {
	d, _ := time.ParseDuration(s.MinReplicasTimeout)
	return d
}

func sortedKeys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}
