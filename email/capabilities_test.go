package email_test

import (
	"testing"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// TestConformance: the email adapter, logged in to a real Dovecot, does
// what the network's Capabilities claim.
func TestConformance(t *testing.T) {
	f := setup(t)
	transportstest.Conformance(t, f.net, func(t *testing.T) transports.Adapter {
		a, _ := f.connect(t, &transportstest.Store{})
		return a
	})
}
