package registry_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/switchboard-im/switchboard/msgid"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/outbox"
	"github.com/switchboard-im/switchboard/registry"
	"github.com/switchboard-im/switchboard/storage"
	"github.com/switchboard-im/switchboard/storage/bolt"
)

// TestOldLayout writes a database as the registry package laid it out
// when it kept registrations, settings, the message-ID map, network state,
// the outbox and dead letters alone, with raw storage calls, and reads it
// through the packages that own those jobs now.
func TestOldLayout(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "switchboard.db")
	key := bytes.Repeat([]byte{0x42}, registry.KeySize)
	const user, net, conv = "alice@localhost", "irc", "#go%irc.example.net"
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := strconv.FormatInt(time.Now().Unix(), 36)

	st, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	uk := net + "\x00" + user
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{7}, aead.NonceSize())
	sealed := aead.Seal(bytes.Clone(nonce), nonce, []byte(`{"nick":"alice","password":"pw"}`), []byte(user+"\x00"+net))
	record, err := json.Marshal(map[string]any{"v": 1, "credentials": sealed, "created": created})
	if err != nil {
		t.Fatal(err)
	}
	deadLetter := `{"at":"2026-01-02T03:04:05Z","reason":"too large","size":9,"stanza":"PGJpZy8+"}`
	err = st.Update(ctx, func(tx storage.Tx) error {
		for _, w := range []struct{ bucket, key, value string }{
			{"registrations", uk, string(record)},
			{"settings", uk, `{"stay_connected":"true"}`},
			{"msgids", uk + "\x00" + conv + "\x00lL1", "X1\x00" + now},
			{"msgids", uk + "\x00" + conv + "\x00xX1", "L1\x00" + now},
			{"msgids", uk + "\x00" + conv + "\x00lL0", "X0"}, // before pairs had a time
			{"msgids", uk + "\x00" + conv + "\x00xX0", "L0"},
			{"state", uk + "\x00INBOX", "7:42"},
		} {
			if err := tx.Put(w.bucket, w.key, []byte(w.value)); err != nil {
				return err
			}
		}
		for _, a := range []struct{ queue, value string }{
			{"outbox:" + net, "<message id='1'/>"},
			{"outbox:" + net, "<message id='2'/>"},
			{"deadletter:" + net, deadLetter},
		} {
			if _, err := tx.Append(a.queue, []byte(a.value)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if sealed, err := registry.Sealed(ctx, st); err != nil || !sealed {
		t.Fatalf("Sealed = %v, %v; want true for a database with a registration", sealed, err)
	}
	ids, state, ob := msgid.New(st), netstate.New(st), outbox.New(st)
	reg, err := registry.New(st, key, ids, state)
	if err != nil {
		t.Fatalf("registry.New on the old database: %v", err)
	}

	r, err := reg.Lookup(ctx, user, net)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if r.Credentials["nick"] != "alice" || r.Credentials["password"] != "pw" || len(r.Credentials) != 2 || !r.Created.Equal(created) {
		t.Errorf("Lookup = %d credentials (nick %q), created %v", len(r.Credentials), r.Credentials["nick"], r.Created)
	}
	if s, err := reg.Settings(ctx, user, net); err != nil || len(s) != 1 || s["stay_connected"] != "true" {
		t.Errorf("Settings = %v, %v", s, err)
	}
	for _, p := range []struct{ legacy, xmpp string }{{"L1", "X1"}, {"L0", "X0"}} {
		if id, err := ids.XMPPID(ctx, user, net, conv, p.legacy); err != nil || id != p.xmpp {
			t.Errorf("XMPPID(%s) = %q, %v; want %s", p.legacy, id, err, p.xmpp)
		}
		if id, err := ids.LegacyID(ctx, user, net, conv, p.xmpp); err != nil || id != p.legacy {
			t.Errorf("LegacyID(%s) = %q, %v; want %s", p.xmpp, id, err, p.legacy)
		}
	}
	if v, err := state.Get(ctx, user, net, "INBOX"); err != nil || string(v) != "7:42" {
		t.Errorf("network state = %q, %v", v, err)
	}
	items, err := ob.Pending(ctx, net, 10)
	if err != nil || len(items) != 2 || string(items[0].Stanza) != "<message id='1'/>" || string(items[1].Stanza) != "<message id='2'/>" {
		t.Fatalf("Pending = %+v, %v; want the two stanzas in order", items, err)
	}
	if err := ob.Ack(ctx, net, items[0].User, items[0].Seq); err != nil {
		t.Fatal(err)
	}
	// What is queued now (in the user's queue) goes after what the old
	// network-wide queue still holds.
	if _, err := ob.Enqueue(ctx, user, net, []byte("<message id='3'/>")); err != nil {
		t.Fatal(err)
	}
	items, err = ob.Pending(ctx, net, 10)
	if err != nil || len(items) != 2 || string(items[0].Stanza) != "<message id='2'/>" || string(items[1].Stanza) != "<message id='3'/>" {
		t.Errorf("Pending after an Enqueue = %+v, %v; want the old queue's stanza, then the new one", items, err)
	}
	dl, err := ob.DeadLetters(ctx, net, 10)
	if err != nil || len(dl) != 1 || dl[0].Reason != "too large" || dl[0].Size != 9 || string(dl[0].Stanza) != "<big/>" {
		t.Errorf("DeadLetters = %+v, %v", dl, err)
	}
	// The legacy message already delivered is not delivered again.
	if ok, err := ob.EnqueueOnce(ctx, user, net, conv, "L1", "X9", []byte("<message/>")); err != nil || ok {
		t.Errorf("EnqueueOnce of a paired legacy ID = %v, %v; want not enqueued", ok, err)
	}
	// Pruning counts the halves without a time as old, and only those.
	if n, err := ids.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || n != 2 {
		t.Errorf("Prune = %d, %v; want the 2 halves without a time", n, err)
	}

	// Unregistering removes what the old Unregister removed.
	if err := reg.Unregister(ctx, user, net); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	for _, bucket := range []string{"registrations", "settings", "msgids", "state"} {
		n := 0
		if err := st.Scan(ctx, bucket, "", func(string, []byte) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("bucket %s holds %d entries after Unregister (%v)", bucket, n, err)
		}
	}
	if _, err := reg.Lookup(ctx, user, net); !errors.Is(err, registry.ErrNotRegistered) {
		t.Errorf("Lookup after Unregister: err = %v", err)
	}
}
