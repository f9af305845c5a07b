package component

import (
	"fmt"
	"log/slog"
	"strconv"
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/netstate"
	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
	"github.com/switchboard-im/switchboard/storage/redis"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestNetStoreOnBolt runs the NetStore conformance on what networks get
// in production: netstate's shared state on bbolt, through the
// component's adapter to the transports errors.
func TestNetStoreOnBolt(t *testing.T) {
	var last *netstate.Store
	transportstest.NetStoreConformance(t,
		func(t *testing.T) transports.NetStore {
			last = netstate.New(bolttest.New(t).Store())
			return &sharedStore{s: last.Shared("sms")}
		},
		func(*testing.T) transports.NetStore { return &sharedStore{s: last.Shared("sms2")} })
}

// TestNetStoreOnRedis runs the same conformance on the Redis backend,
// whose transactions are optimistic: the compare-and-set race among
// goroutines is where a retried transaction would show.
func TestNetStoreOnRedis(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	var last *netstate.Store
	n := 0
	transportstest.NetStoreConformance(t,
		func(t *testing.T) transports.NetStore {
			n++
			st, err := redis.Open(t.Context(), redis.Options{URL: "redis://" + srv.Addr(),
				KeyPrefix: fmt.Sprintf("netstore%d:", n), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			last = netstate.New(st)
			return &sharedStore{s: last.Shared("sms")}
		},
		func(*testing.T) transports.NetStore { return &sharedStore{s: last.Shared("sms2")} })
}

// TestReceiptBook: pending receipts are taken once, a report that came
// before its message's record is matched by the record, and both tables
// stay bounded.
func TestReceiptBook(t *testing.T) {
	var b receiptBook
	const u = "alice@localhost"
	p := pendingReceipt{stanzaID: "s1", originID: "o1", from: "+1@sms", to: u + "/pc", requested: true}
	if _, ok := b.record(u, "+1", "r1", p); ok {
		t.Fatal("record found a report nobody gave")
	}
	if got, ok := b.take(u, "+1", "r1"); !ok || got != p {
		t.Fatalf("take = %+v, %v; want %+v", got, ok, p)
	}
	if _, ok := b.take(u, "+1", "r1"); ok {
		t.Fatal("a pending receipt was taken twice")
	}
	if len(b.users) != 0 {
		t.Errorf("an emptied user is still kept: %v", b.users)
	}
	// The report first, then the record.
	ev := &transports.ReceiptEvent{To: "+1", Remote: "r2", Delivered: true}
	if _, ok := b.keepEarly(u, ev); ok {
		t.Fatal("keepEarly matched nothing recorded")
	}
	if got, ok := b.record(u, "+1", "r2", p); !ok || got != ev {
		t.Fatalf("record after the report = %v, %v; want the report", got, ok)
	}
	if _, ok := b.take(u, "+1", "r2"); ok {
		t.Fatal("a receipt resolved at record time was kept too")
	}
	// The same RemoteID in another conversation is another message.
	b.record(u, "+1", "r3", p)
	if _, ok := b.take(u, "+2", "r3"); ok {
		t.Fatal("take matched another conversation's message")
	}
	// Bounds: the oldest go first.
	for i := range maxPendingReceipts + 10 {
		b.record(u, "+9", transports.RemoteID("x"+strconv.Itoa(i)), p)
	}
	if n := len(b.users[u].pending); n != maxPendingReceipts {
		t.Errorf("%d pending receipts kept, want the bound %d", n, maxPendingReceipts)
	}
	if _, ok := b.take(u, "+1", "r3"); ok {
		t.Error("the oldest pending receipt outlived the bound")
	}
	for i := range maxEarlyReceipts + 5 {
		b.keepEarly(u, &transports.ReceiptEvent{To: "+8", Remote: transports.RemoteID(strconv.Itoa(i))})
	}
	if n := len(b.users[u].early); n != maxEarlyReceipts {
		t.Errorf("%d early reports kept, want the bound %d", n, maxEarlyReceipts)
	}
}
