package direct

import (
	"strconv"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// TestReceiptBook: pending receipts are taken once, a report that came
// before its message's record is matched by the record, and both tables
// stay bounded.
func TestReceiptBook(t *testing.T) {
	var b receiptBook
	const u = "alice@localhost"
	p := PendingReceipt{StanzaID: "s1", OriginID: "o1", From: "+1@sms", To: u + "/pc", Requested: true}
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
	if n := b.users[u].pending.Len(); n != maxPendingReceipts {
		t.Errorf("%d pending receipts kept, want the bound %d", n, maxPendingReceipts)
	}
	if _, ok := b.take(u, "+1", "r3"); ok {
		t.Error("the oldest pending receipt outlived the bound")
	}
	for i := range maxEarlyReceipts + 5 {
		b.keepEarly(u, &transports.ReceiptEvent{To: "+8", Remote: transports.RemoteID(strconv.Itoa(i))})
	}
	if n := b.users[u].early.Len(); n != maxEarlyReceipts {
		t.Errorf("%d early reports kept, want the bound %d", n, maxEarlyReceipts)
	}
}
