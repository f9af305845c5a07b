package discord

import (
	"testing"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestConformance: the Discord adapter, logged in to a real Spacebar,
// does what the network's Capabilities claim.
func TestConformance(t *testing.T) {
	sb := spacebar(t)
	n := network(t, sb)
	sc := scene(t, sb)
	transportstest.Conformance(t, n, func(t *testing.T) transports.Adapter {
		return connect(t, n, botCreds(sc), newSink())
	})
	if _, ok := transports.Network(n).(transports.Addresser); !ok {
		t.Error("the network is no Addresser")
	}
}
