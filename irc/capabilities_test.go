package irc_test

import (
	"testing"

	"github.com/switchboard-im/switchboard/internal/testenv"
	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestConformance: the IRC adapter, logged in to a real InspIRCd, does
// what the network's Capabilities claim.
func TestConformance(t *testing.T) {
	srv := testenv.StartInspIRCd(t, testenv.InspIRCdOptions{})
	n := network("irc.test", srv.Addr())
	transportstest.Conformance(t, n, func(t *testing.T) transports.Adapter {
		// A registered user: Connect returns once the login to the
		// server went through.
		a, _ := connect(t, n, transports.Credentials{"nick": "conform"})
		return a
	})
}
