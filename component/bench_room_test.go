package component_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/archive"
	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage/bolt"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// BenchmarkRoomStanzaPath measures one legacy room message through the
// user's owner goroutine to the stream, for a user with one resource in
// the room: the IRC→XMPP hot path. With the archive, each message is also
// archived for the user (queued, written in batches).
func BenchmarkRoomStanzaPath(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run("archive="+strconv.FormatBool(on), func(b *testing.B) { benchRoomPath(b, on) })
	}
}

func benchRoomPath(b *testing.B, withArchive bool) {
	srv := newStreamServer(b)
	store, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	ids, state := msgid.New(store), netstate.New(store)
	reg, err := registry.New(store, key, ids, state)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := reg.Register(ctx, "u@localhost", "fake", map[string]string{"username": legacyUsr, "password": legacyPW}); err != nil {
		b.Fatal(err)
	}
	rn := transportstest.NewRooms(map[string]string{legacyUsr: legacyPW})
	var arch *archive.Archive
	if withArchive {
		arch = archive.New(store, archive.Bounds{})
	}
	comp, err := component.New(component.Config{
		Domain: gw, Server: srv.ln.Addr().String(), Secret: secret, Network: rn, Registry: reg,
		Outbox: outbox.New(store), MessageIDs: ids, NetState: state,
		IncomingPerMinute: 1 << 30,
		Archive:           arch,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); comp.Run(ctx); store.Close() }()
	b.Cleanup(func() { cancel(); <-done })

	srv.accept(b, secret)
	if name, a := srv.next(b); name != "presence" || a["type"] != "probe" {
		b.Fatalf("first stanza %s %v, want a probe", name, a)
	}
	srv.send(b, `<presence from="u@localhost/r" to="`+gw+`"/>`)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	a, err := rn.WaitAdapter(wctx, "u@localhost")
	if err != nil {
		b.Fatal(err)
	}
	srv.send(b, `<presence from="u@localhost/r" to="`+testRoom+`/u"><x xmlns="`+nsMUC+`"/></presence>`)
	// The join ends with the subject, the first message: the fake room
	// has no history.
	for {
		if name, _ := srv.next(b); name == "message" {
			break
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := strconv.Itoa(i)
		a.Emit(&transports.MessageEvent{From: "#test", Room: true, Nick: "bob", Body: "hello " + id, RemoteID: transports.RemoteID("r" + id)})
		for {
			if name, at := srv.next(b); name == "message" && at["id"] == "r"+id {
				break
			}
		}
	}
	b.StopTimer()
}
