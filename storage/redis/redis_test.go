package redis_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
	"github.com/switchboard-im/switchboard/storage/storagetest"
)

// prefixes gives each store of a test its own key prefix on a shared
// server.
var prefixes atomic.Int64

// backend opens stores with base's connection settings, each under a new
// key prefix, and reopens them with a new client on the same prefix.
func backend(base redis.Options) storagetest.Backend {
	var opened sync.Map // storage.Store -> redis.Options
	open := func(t *testing.T, o redis.Options) storage.Store {
		t.Helper()
		o.Logger = slog.New(slog.DiscardHandler)
		s, err := redis.Open(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		opened.Store(storage.Store(s), o)
		return s
	}
	return storagetest.Backend{
		Open: func(t *testing.T) storage.Store {
			o := base
			o.KeyPrefix = fmt.Sprintf("t%d:", prefixes.Add(1))
			return open(t, o)
		},
		Reopen: func(t *testing.T, s storage.Store) storage.Store {
			o, ok := opened.Load(s)
			if !ok {
				t.Fatal("Reopen of a store Open did not return")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, o.(redis.Options))
		},
		Optimistic: true,
	}
}

func TestConformance(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	storagetest.Run(t, backend(redis.Options{URL: "redis://" + srv.Addr()}))
}

func TestConformanceCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t)
	storagetest.Run(t, backend(redis.Options{ClusterAddrs: c.Addrs()}))
}

// TestConformanceACL runs the suite as an ACL user with a password, the
// user and password given in the URL.
func TestConformanceACL(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{User: "gateway", Password: "s3cret-acl"})
	storagetest.Run(t, backend(redis.Options{URL: "redis://gateway:s3cret-acl@" + srv.Addr() + "/2"}))
}

// TestClusterKeepsUsersTogether: a transaction over one user's keys in
// several buckets and to the user's queue commits on a Cluster; one over
// two users' keys, or a user's key and another's queue, is refused, not
// half-applied.
func TestClusterKeepsUsersTogether(t *testing.T) {
	c := testenv.StartRedisCluster(t)
	s, err := redis.Open(t.Context(), redis.Options{ClusterAddrs: c.Addrs(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	err = s.Update(ctx, func(tx storage.Tx) error {
		for _, b := range []string{"registrations", "settings", "msgids"} {
			if err := tx.Put(b, "irc\x00alice@example.org\x00k", []byte(b)); err != nil {
				return err
			}
		}
		if err := tx.Put("registrations", "irc\x00alice@example.org", []byte("reg")); err != nil {
			return err
		}
		_, err := tx.Append("irc\x00alice@example.org\x00outbox", []byte("<m/>"))
		return err
	})
	if err != nil {
		t.Fatalf("one user's keys in three buckets and the user's queue: %v", err)
	}
	err = s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Put("msgids", "irc\x00alice@example.org\x00y", []byte("a")); err != nil {
			return err
		}
		_, err := tx.Append("irc\x00bob@example.org\x00outbox", []byte("<m/>"))
		return err
	})
	if !errors.Is(err, redis.ErrCrossSlot) {
		t.Fatalf("a user's key and another user's queue: err = %v, want ErrCrossSlot", err)
	}
	if items, err := s.Range(ctx, "irc\x00bob@example.org\x00outbox", 0, 10); err != nil || len(items) != 0 {
		t.Errorf("the refused transaction appended to bob's queue: %v, %v", items, err)
	}
	err = s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Put("msgids", "irc\x00alice@example.org\x00x", []byte("a")); err != nil {
			return err
		}
		return tx.Put("msgids", "irc\x00bob@example.org\x00x", []byte("b"))
	})
	if !errors.Is(err, redis.ErrCrossSlot) {
		t.Fatalf("two users' keys: err = %v, want ErrCrossSlot", err)
	}
	if _, err := s.Get(ctx, "msgids", "irc\x00alice@example.org\x00x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the refused transaction wrote alice's key: %v", err)
	}
}

// TestPasswordNeverLogged: opening with a password, right or wrong, in
// the URL or in Options, logs where and as whom but never the password,
// and the error of a failed open does not quote it.
func TestPasswordNeverLogged(t *testing.T) {
	const secret = "pw-9f3b2c71-never-shown"
	srv := testenv.StartRedis(t, testenv.RedisOptions{User: "gateway", Password: secret})
	tests := []struct {
		name    string
		opts    redis.Options
		wantErr bool
	}{
		{"url", redis.Options{URL: "redis://gateway:" + secret + "@" + srv.Addr()}, false},
		{"options", redis.Options{URL: "redis://" + srv.Addr(), Username: "gateway", Password: secret}, false},
		{"wrong user", redis.Options{URL: "redis://nobody:" + secret + "@" + srv.Addr()}, true},
		{"wrong password", redis.Options{URL: "redis://gateway:" + secret + "x@" + srv.Addr()}, true},
		{"malformed url", redis.Options{URL: "redis://gateway:" + secret + "@" + srv.Addr() + "/not a db"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testenv.LogBuffer
			tt.opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s, err := redis.Open(t.Context(), tt.opts)
			if err == nil {
				defer s.Close()
				if err := s.Put(t.Context(), "b", "k", []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Open: err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("Open's error quotes the password: %v", err)
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log has the password:\n%s", logs.String())
			}
			if tt.opts.URL != "" && !strings.Contains(tt.opts.URL, "not a db") && !strings.Contains(logs.String(), srv.Addr()) {
				t.Errorf("the log does not say where the store is:\n%s", logs.String())
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    redis.URL
		wantErr string
	}{
		{in: "redis://localhost", want: redis.URL{Addrs: []string{"localhost:6379"}}},
		{in: "redis://10.0.0.1:7000/3", want: redis.URL{Addrs: []string{"10.0.0.1:7000"}, DB: 3}},
		{in: "rediss://u:p%40ss@h:1/", want: redis.URL{Addrs: []string{"h:1"}, Username: "u", Password: "p@ss", TLS: true}},
		{in: "redis://:only-pass@h", want: redis.URL{Addrs: []string{"h:6379"}, Password: "only-pass"}},
		{in: "redis://[::1]:6380", want: redis.URL{Addrs: []string{"[::1]:6380"}}},
		{in: "redis-sentinel://s1,s2:26380,s3/1?master_name=main", want: redis.URL{
			Addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, MasterName: "main", DB: 1}},
		{in: "rediss-sentinel://u:p@s1?master_name=m", want: redis.URL{
			Addrs: []string{"s1:26379"}, MasterName: "m", Username: "u", Password: "p", TLS: true}},
		{in: "localhost:6379", wantErr: "no scheme"},
		{in: "http://h", wantErr: "unknown scheme"},
		{in: "redis://", wantErr: "no host"},
		{in: "redis://a,b", wantErr: "several hosts"},
		{in: "redis-sentinel://s1", wantErr: "master_name"},
		{in: "redis://h/x", wantErr: "not a database number"},
		{in: "redis://h?master_name=m", wantErr: "unknown parameter"},
		{in: "redis-sentinel://s1,,s2?master_name=m", wantErr: "empty host"},
	}
	for _, tt := range tests {
		got, err := redis.ParseURL(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseURL(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// TestConformanceTLS runs the suite over TLS (rediss://), trusting the
// server's CA; a client that does not trust it cannot open the store.
func TestConformanceTLS(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{TLS: true, Password: "tls-pw"})
	if _, err := redis.Open(t.Context(), redis.Options{URL: "rediss://:tls-pw@" + srv.Addr(), Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Fatal("Open trusted a certificate of an unknown CA")
	}
	if _, err := redis.Open(t.Context(), redis.Options{URL: "redis://:tls-pw@" + srv.Addr(), Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Fatal("Open without TLS succeeded against a TLS-only server")
	}
	storagetest.Run(t, backend(redis.Options{URL: "rediss://:tls-pw@" + srv.Addr(), TLS: srv.TLSConfig()}))
}

// TestConformanceSentinel runs the suite through Sentinel, named by a
// redis-sentinel:// URL, with every write waiting for the replica.
func TestConformanceSentinel(t *testing.T) {
	rs := testenv.StartRedisSentinel(t, testenv.RedisOptions{User: "gateway", Password: "sentinel-pw"}, 1)
	storagetest.Run(t, backend(redis.Options{
		URL:         "redis-sentinel://gateway:sentinel-pw@" + strings.Join(rs.SentinelAddrs(), ",") + "/0?master_name=" + rs.MasterName,
		MinReplicas: 1,
	}))
}

// TestNotReplicated: with min_replicas = 1 and no replica, every kind of
// write fails with ErrNotReplicated after the timeout, although the master
// applied it (what the README says a failed WAIT means).
func TestNotReplicated(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	s, err := redis.Open(t.Context(), redis.Options{URL: "redis://" + srv.Addr(), MinReplicas: 1,
		MinReplicasTimeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	writes := []struct {
		name string
		call func() error
	}{
		{"Put", func() error { return s.Put(ctx, "b", "k", []byte("v")) }},
		{"Delete", func() error { return s.Delete(ctx, "b", "gone") }},
		{"Append", func() error { _, err := s.Append(ctx, "q", []byte("v")); return err }},
		{"Remove", func() error { return s.Remove(ctx, "q", 99) }},
		{"Update", func() error {
			return s.Update(ctx, func(tx storage.Tx) error { return tx.Put("b", "k2", []byte("v2")) })
		}},
	}
	for _, w := range writes {
		start := time.Now()
		err := w.call()
		if !errors.Is(err, redis.ErrNotReplicated) {
			t.Errorf("%s without a replica: err = %v, want ErrNotReplicated", w.name, err)
		}
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("%s failed after %s, before the timeout", w.name, d)
		}
	}
	for _, k := range []string{"k", "k2"} {
		if _, err := s.Get(ctx, "b", k); err != nil {
			t.Errorf("the master did not apply the write of %s: %v", k, err)
		}
	}
	if items, err := s.Range(ctx, "q", 0, 10); err != nil || len(items) != 1 {
		t.Errorf("queue = %v, %v; want the appended item", items, err)
	}
}
