package redis

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// URL is a parsed storage URL.
type URL struct {
	// Addrs is the server's host:port, or the sentinels'.
	Addrs []string
	// MasterName is set for a Sentinel URL.
	MasterName string
	Username   string
	Password   string
	DB         int
	// TLS is set by the rediss schemes.
	TLS bool
}

// ParseURL parses redis://, rediss://, redis-sentinel:// and
// rediss-sentinel:// URLs (see [Options.URL]). The port defaults to 6379,
// or 26379 for sentinels. Its errors never quote the URL, which may hold a
// password.
func ParseURL(raw string) (URL, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return URL{}, errors.New("storage URL: no scheme; use redis://, rediss://, redis-sentinel:// or rediss-sentinel://")
	}
	var u URL
	port := "6379"
	switch scheme {
	case "redis":
	case "rediss":
		u.TLS = true
	case "redis-sentinel":
		port = "26379"
	case "rediss-sentinel":
		u.TLS, port = true, "26379"
	default:
		return URL{}, fmt.Errorf("storage URL: unknown scheme %q; use redis://, rediss://, redis-sentinel:// or rediss-sentinel://", scheme)
	}
	// Several sentinel hosts are separated by commas, which net/url does
	// not take in a host: parse them apart, with a placeholder host.
	hosts := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		hosts = rest[:i]
	}
	userinfo := ""
	if i := strings.LastIndexByte(hosts, '@'); i >= 0 {
		userinfo, hosts = hosts[:i+1], hosts[i+1:]
	}
	pu, err := url.Parse("redis://" + userinfo + "h" + rest[len(userinfo)+len(hosts):])
	if err != nil {
		// url's error quotes the URL: say which part is wrong instead.
		return URL{}, errors.New("storage URL: malformed (check the user, password and path; escape reserved characters with %XX)")
	}
	if pu.User != nil {
		u.Username = pu.User.Username()
		u.Password, _ = pu.User.Password()
	}
	if hosts == "" {
		return URL{}, errors.New("storage URL: no host")
	}
	for h := range strings.SplitSeq(hosts, ",") {
		if h == "" {
			return URL{}, errors.New("storage URL: empty host in the list")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), port)
		}
		u.Addrs = append(u.Addrs, h)
	}
	sentinel := strings.HasSuffix(scheme, "-sentinel")
	if !sentinel && len(u.Addrs) > 1 {
		return URL{}, errors.New("storage URL: several hosts need redis-sentinel:// (or cluster_addrs for a Cluster)")
	}
	if db := strings.Trim(pu.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return URL{}, fmt.Errorf("storage URL: path %q is not a database number", db)
		}
		u.DB = n
	}
	q := pu.Query()
	for k := range q {
		if k != "master_name" || !sentinel {
			return URL{}, fmt.Errorf("storage URL: unknown parameter %q", k)
		}
	}
	u.MasterName = q.Get("master_name")
	if sentinel && u.MasterName == "" {
		return URL{}, errors.New("storage URL: a sentinel URL needs ?master_name=NAME")
	}
	return u, nil
}
