package component

import (
	"github.com/switchboard-im/switchboard/transports"
)

// What the component does for a network follows from the network's
// transports.Capabilities alone: service discovery, the MUC service, the
// network's commands, the stay-connected default and the body bound.

// netCaps returns the network's capabilities. Networks must not do I/O in
// Capabilities, so it is cheap to ask each time.
func (c *Component) netCaps() transports.Capabilities { return c.net.Capabilities() }

// maxBody is the longest body the component passes to the network: its
// own bound, or the network's if that is lower.
func (c *Component) maxBody() int {
	if m := c.netCaps().MaxBody; m > 0 && m < maxBodyBytes {
		return m
	}
	return maxBodyBytes
}
