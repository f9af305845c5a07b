package component_test

import (
	"net/netip"

	"github.com/switchboard-im/switchboard/component"
	"github.com/switchboard-im/switchboard/egress"
)

// newComponent builds the env's component from cfg, with the egress
// policy every env needs and the test's own adjustments (envOptions.tune).
func (e *env) newComponent(cfg component.Config) (*component.Component, error) {
	// Prosody's upload service (XEP-0363) is on 127.0.0.1 over plain
	// http: an admin's own server, at an address the admin listed.
	cfg.Egress = &egress.Policy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	if e.tune != nil {
		e.tune(&cfg)
	}
	return component.New(cfg)
}
