package component

import (
	"fmt"
	"log/slog"
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
