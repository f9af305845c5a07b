package app_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/internal/app"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/lease"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/redis"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// Who the fenced writes are about.
const (
	fenceUser = "alice@localhost"
	fenceNet  = "fake"
	fenceRoom = "#room"
)

// holderWrites are the writes a domain's holder makes to its state, each
// once the state written while it held the lease (prepare) is there.
var holderWrites = []struct {
	name  string
	write func(ctx context.Context, d app.DomainState) error
}{
	{"registry register", func(ctx context.Context, d app.DomainState) error {
		return d.Registry.Register(ctx, fenceUser, fenceNet, map[string]string{"nick": "late"})
	}},
	{"registry settings", func(ctx context.Context, d app.DomainState) error {
		return d.Registry.SetSettings(ctx, fenceUser, fenceNet, map[string]string{"k": "late"})
	}},
	{"registry unregister", func(ctx context.Context, d app.DomainState) error {
		return d.Registry.Unregister(ctx, fenceUser, fenceNet)
	}},
	{"msgid pair", func(ctx context.Context, d app.DomainState) error {
		return d.IDs.Pair(ctx, fenceUser, fenceNet, "bob", "L2", "X2")
	}},
	{"msgid forget", func(ctx context.Context, d app.DomainState) error {
		return d.IDs.Forget(ctx, fenceUser, fenceNet)
	}},
	{"netstate account store", func(ctx context.Context, d app.DomainState) error {
		return d.State.Put(ctx, fenceUser, fenceNet, "cursor", []byte("late"))
	}},
	{"netstate network store put", func(ctx context.Context, d app.DomainState) error {
		return d.State.Shared(fenceNet).Put(ctx, "+15550001", []byte("late"))
	}},
	{"netstate network store swap", func(ctx context.Context, d app.DomainState) error {
		_, err := d.State.Shared(fenceNet).CompareAndSwap(ctx, "+15550001", []byte(fenceUser), []byte("late"))
		return err
	}},
	{"archive", func(ctx context.Context, d app.DomainState) error {
		if err := d.Archive.Add(ctx, fenceUser, fenceNet, fenceRoom, archive.Entry{ID: "late", Body: "late"}); err != nil {
			return err
		}
		return d.Archive.Flush(ctx)
	}},
	{"journal write", func(ctx context.Context, d app.DomainState) error {
		_, err := d.Journal.Write(ctx, fenceNet, fenceUser, []byte("<message id='late'/>"))
		return err
	}},
	{"journal ack", func(ctx context.Context, d app.DomainState) error {
		entries, err := d.Journal.Pending(ctx, fenceNet)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return errors.New("no journal entry to acknowledge")
		}
		return d.Journal.Ack(ctx, fenceNet, fenceUser, entries[0].Seq)
	}},
}

// prepareHolderState writes, while d's lease is held, the state that
// holderWrites then change.
func prepareHolderState(t *testing.T, ctx context.Context, d app.DomainState) {
	t.Helper()
	steps := []func() error{
		func() error {
			return d.Registry.Register(ctx, fenceUser, fenceNet, map[string]string{"nick": "alice"})
		},
		func() error { return d.IDs.Pair(ctx, fenceUser, fenceNet, "bob", "L1", "X1") },
		func() error { return d.State.Put(ctx, fenceUser, fenceNet, "cursor", []byte("1")) },
		func() error { return d.State.Shared(fenceNet).Put(ctx, "+15550001", []byte(fenceUser)) },
		func() error {
			if err := d.Archive.Add(ctx, fenceUser, fenceNet, fenceRoom, archive.Entry{ID: "m1", Body: "hi"}); err != nil {
				return err
			}
			return d.Archive.Flush(ctx)
		},
		func() error {
			_, err := d.Journal.Write(ctx, fenceNet, fenceUser, []byte("<message id='j1'/>"))
			return err
		},
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d while holding the lease: %v", i, err)
		}
	}
}

// redisSnapshot returns every key of the given Redis servers with its
// DUMP, to tell whether anything changed.
func redisSnapshot(t *testing.T, ctx context.Context, addrs []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, addr := range addrs {
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		var keys []string
		var cursor uint64
		for {
			ks, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, ks...)
			if cursor = next; cursor == 0 {
				break
			}
		}
		for _, k := range keys {
			v, err := c.Dump(ctx, k).Result()
			if err != nil {
				t.Fatalf("DUMP %q: %v", k, err)
			}
			out[addr+" "+k] = v
		}
		c.Close()
	}
	return out
}

// TestHolderWritesAreFenced: every kind of state write of a domain's
// holder (registry, message-ID map, the adapters' account and network
// stores, room archive, inbound journal) goes through the store view
// fenced by the domain's lease. Once the lease moved to another holding
// (the old holder paused past its TTL), each such write by the old
// holder fails with storage.ErrFenced, tells the holder it lost the
// lease, and changes nothing in Redis — on a single server, and on a
// Cluster, where the users' keys are in other slots than the lease.
func TestHolderWritesAreFenced(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	for _, mode := range []struct {
		name  string
		start func() (storageTOML string, opts redis.Options, addrs []string)
	}{
		{"standalone", func() (string, redis.Options, []string) {
			return `url = "redis://` + srv.Addr() + `"`, redis.Options{URL: "redis://" + srv.Addr()}, []string{srv.Addr()}
		}},
		{"cluster", func() (string, redis.Options, []string) {
			c := testenv.StartRedisCluster(t)
			return `cluster_addrs = ["` + strings.Join(c.Addrs(), `", "`) + `"]`, redis.Options{ClusterAddrs: c.Addrs()}, c.Addrs()
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			storageTOML, opts, addrs := mode.start()
			cfg, err := app.ParseConfig("switchboard.toml", []byte(`[xmpp]
server = "127.0.0.1:5347"
[storage]
`+storageTOML+`
key_prefix = "fence-`+mode.name+`:"
[security]
key_file = "`+filepath.Join(t.TempDir(), "switchboard.key")+`"
[archive]
days = 30
[irc]
domain = "irc.localhost"
secret = "s3cret"
`))
			if err != nil {
				t.Fatal(err)
			}
			a, err := app.New(app.Options{Config: cfg, Networks: []app.Network{fakeNetwork("irc", transportstest.New(nil))}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			ctx := t.Context()
			opts.KeyPrefix = "fence-" + mode.name + ":"
			leases, err := redis.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { leases.Close() })

			old, ok, err := leases.AcquireLease(ctx, "irc.localhost", "old", time.Minute)
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			var mu sync.Mutex
			var lost []error
			d := app.HoldDomain(a, 0, old, func(err error) {
				mu.Lock()
				lost = append(lost, err)
				mu.Unlock()
			})
			prepareHolderState(t, ctx, d)

			// The old holder is paused past its TTL: the lease moves on.
			if err := leases.ReleaseLease(ctx, old); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := leases.AcquireLease(ctx, "irc.localhost", "new", time.Minute); err != nil || !ok {
				t.Fatal(ok, err)
			}
			before := redisSnapshot(t, ctx, addrs)
			for _, w := range holderWrites {
				mu.Lock()
				lost = nil
				mu.Unlock()
				err := w.write(ctx, d)
				if !errors.Is(err, storage.ErrFenced) {
					t.Errorf("%s by the old holder: err = %v, want ErrFenced", w.name, err)
				}
				mu.Lock()
				if len(lost) == 0 || !errors.Is(lost[0], storage.ErrFenced) {
					t.Errorf("%s by the old holder: the holder was told %v, want a lost lease (ErrFenced)", w.name, lost)
				}
				mu.Unlock()
				if after := redisSnapshot(t, ctx, addrs); !maps.Equal(before, after) {
					t.Errorf("%s by the old holder changed Redis: %s", w.name, diffKeys(before, after))
				}
			}
		})
	}
}

// diffKeys names the keys that differ between two snapshots.
func diffKeys(before, after map[string]string) string {
	var out []string
	for k, v := range after {
		if w, ok := before[k]; !ok {
			out = append(out, "added "+k)
		} else if w != v {
			out = append(out, "changed "+k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, "removed "+k)
		}
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

// TestFencedWriteStopsTheHolder: a holder whose lease moved to another
// instance while it was paused learns it from its next state write, not
// only from its next renewal (here minutes away): a user's message is
// not journaled (the write is fenced off, nothing is stored), and Run stops the component and returns
// an error wrapping lease.ErrLost and storage.ErrFenced.
func TestFencedWriteStopsTheHolder(t *testing.T) {
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Components: map[string]string{"irc.localhost": "s3cret"}})
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	cfg, err := app.ParseConfig("switchboard.toml", []byte(`[xmpp]
server = "`+p.ComponentAddr+`"
[storage]
url = "redis://`+srv.Addr()+`"
[ha]
instance = "old"
lease_ttl = "10m"
[security]
key_file = "`+filepath.Join(t.TempDir(), "switchboard.key")+`"
allowed_domains = ["localhost"]
[log]
level = "debug"
[irc]
domain = "irc.localhost"
secret = "s3cret"
`))
	if err != nil {
		t.Fatal(err)
	}
	net := transportstest.New(map[string]string{"alice": "pw"})
	logs := &testenv.LogBuffer{}
	a, err := app.New(app.Options{Config: cfg, Networks: []app.Network{fakeNetwork("irc", net)}, Logger: app.NewLogger(cfg.Log, logs)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	wctx, wcancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer wcancel()
	if err := a.Components()[0].WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}

	// The lease moves to another instance, as when this one was paused
	// past its TTL.
	thief, err := redis.Open(t.Context(), redis.Options{URL: "redis://" + srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { thief.Close() })
	if out, err := srv.Cli("DEL", "switchboard:{_}l:irc.localhost"); err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("DEL the lease key: %q %v", out, err)
	}
	if _, ok, err := thief.AcquireLease(t.Context(), "irc.localhost", "new", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}

	c := p.Login(t, p.CreateUser(t, "alice", "pw"), "pw", "phone", 0)
	c.Send(t, `<message xmlns='jabber:client' to='bob@irc.localhost' type='chat' id='m1'><body>hi</body></message>`)
	select {
	case err := <-done:
		done <- err // for the cleanup
		t.Logf("Run = %v", err)
		if !errors.Is(err, lease.ErrLost) || !errors.Is(err, storage.ErrFenced) {
			t.Errorf("Run = %v, want lease.ErrLost and storage.ErrFenced", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the holder did not stop after its fenced-off write")
	}
	pending, err := journal.New(thief, journal.Limits{}).Pending(t.Context(), "fake")
	if err != nil || len(pending) != 0 {
		t.Errorf("journal after the fenced-off write = %v, %v; want empty", pending, err)
	}
	if !strings.Contains(logs.String(), "a write was fenced off") {
		t.Errorf("the log does not say a write was fenced off")
	}
}
