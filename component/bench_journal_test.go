package component_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/journal"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/storage/redis"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// BenchmarkJournalPath measures the stanza path of BenchmarkStanzaPath
// with the inbound journal on, over bbolt and over a real redis-server,
// in two patterns: burst=1 sends one message and waits for its answer
// (the latency of one message alone); burst=32 sends 32 messages of 8
// users back to back and waits for the 32 answers (a busy stream, where
// the journal writes of stanzas read back to back can share a
// transaction). The time is per message.
func BenchmarkJournalPath(b *testing.B) {
	for _, st := range []string{"bolt", "redis"} {
		for _, burst := range []int{1, 32} {
			b.Run(fmt.Sprintf("store=%s/burst=%d", st, burst), func(b *testing.B) { benchJournalPath(b, st, burst) })
		}
	}
}

func benchStore(b *testing.B, kind string) storage.Store {
	b.Helper()
	if kind == "bolt" {
		st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	srv := testenv.StartRedis(b, testenv.RedisOptions{})
	st, err := redis.Open(context.Background(), redis.Options{URL: "redis://" + srv.Addr(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

func benchJournalPath(b *testing.B, kind string, burst int) {
	const users = 8
	srv := newStreamServer(b)
	store := benchStore(b, kind)
	key := make([]byte, 32)
	rand.Read(key)
	ids, state := msgid.New(store), netstate.New(store)
	reg, err := registry.New(store, key, ids, state)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	for u := range users {
		if err := reg.Register(ctx, fmt.Sprintf("u%d@localhost", u), "fake", map[string]string{"username": legacyUsr, "password": legacyPW}); err != nil {
			b.Fatal(err)
		}
	}
	net := transportstest.New(map[string]string{legacyUsr: legacyPW})
	jstore := &countingStore{Store: store}
	comp, err := component.New(component.Config{
		Domain: gw, Server: srv.ln.Addr().String(), Secret: secret, Network: net, Registry: reg,
		Outbox: outbox.New(store), MessageIDs: ids, NetState: state,
		SendRate: 1e9, SendBurst: 1 << 30,
		IncomingPerMinute: 1 << 30,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Journal:           journal.New(jstore, journal.Limits{}),
	})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); comp.Run(ctx); store.Close() }()
	b.Cleanup(func() { cancel(); <-done })

	srv.accept(b, secret)
	for probes := 0; probes < users; {
		if name, a := srv.next(b); name == "presence" && a["type"] == "probe" {
			probes++
			srv.send(b, `<presence from="`+a["to"]+`/r" to="`+gw+`"/>`)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	for u := range users {
		if _, err := net.WaitAdapter(wctx, fmt.Sprintf("u%d@localhost", u)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += burst {
		n := min(burst, b.N-i)
		for k := range n {
			id := strconv.Itoa(i + k)
			srv.w.WriteString(`<message from="u` + strconv.Itoa((i+k)%users) + `@localhost/r" to="echo@` + gw +
				`" type="chat" id="` + id + `"><body>hello ` + id + `</body></message>`)
		}
		if err := srv.w.Flush(); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < n; {
			if name, a := srv.next(b); name == "message" && a["from"] == "echo@"+gw {
				got++
			}
		}
	}
	b.StopTimer()
	if n := jstore.updates.Load(); n > 0 {
		// The journal's transactions (WriteBatch): how many stanzas
		// shared one.
		b.ReportMetric(float64(b.N)/float64(n), "stanzas/tx")
	}
}

// countingStore counts the Update calls of the journal it is given.
type countingStore struct {
	storage.Store
	updates atomic.Int64
}

func (s *countingStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	s.updates.Add(1)
	return s.Store.Update(ctx, fn)
}
