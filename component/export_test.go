package component

import (
	"time"

	"github.com/switchboard-im/switchboard/component/muc"
)

// SetIncomingWindow shortens the incoming-rate window, so that a test
// sees the end of one without waiting a minute.
func SetIncomingWindow(c *Component, d time.Duration) {
	c.lim.inMu.Lock()
	defer c.lim.inMu.Unlock()
	c.lim.window = d
}

// Bounds of the away backlog and the default history of a join.
const (
	AwayMessages   = muc.AwayMessages
	DefaultHistory = muc.DefaultHistory
)
