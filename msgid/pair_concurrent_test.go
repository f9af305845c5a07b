package msgid

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-im/switchboard/storage/bolt/bolttest"
)

// TestPairConcurrent: Pairs of overlapping IDs from many goroutines leave
// a one-to-one map: every half's counterpart points back at it. Pair is
// one transaction; as four separate writes, interleaved Pairs left halves
// pointing at pairings another Pair had replaced.
func TestPairConcurrent(t *testing.T) {
	f := bolttest.New(t)
	ids := New(f.Store())
	ctx := t.Context()
	const user, net, conv = "alice@localhost", "irc", "#chan%irc.example.net"
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 30 {
				l, x := fmt.Sprint("L", (w+i)%4), fmt.Sprint("X", (w*7+i)%5)
				if err := ids.Pair(ctx, user, net, conv, l, x); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	halves := map[string]string{}
	err := f.Store().Scan(ctx, bucket, "", func(k string, v []byte) error {
		parts := strings.Split(k, "\x00")
		halves[parts[len(parts)-1]] = idOf(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(halves) == 0 {
		t.Fatal("no pairs stored")
	}
	for half, other := range halves {
		dir, id := half[:1], half[1:]
		back := xmppDir + other
		if dir == xmppDir {
			back = legacyDir + other
		}
		if halves[back] != id {
			t.Errorf("%s -> %s, but %s -> %q", half, other, back, halves[back])
		}
	}
}
