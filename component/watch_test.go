package component_test

import (
	"slices"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// TestWatchRoster: on a network that can watch presence, the people the
// user adds to their roster through the gateway are named to the network
// (the whole set at each addition, and again at each session start), and
// their presence shows.
func TestWatchRoster(t *testing.T) {
	e := newEnv(t, envOptions{caps: func(c *transports.Capabilities) { c.WatchPresence = true }})
	user := e.user(t, "quinn", "pc", 0)
	e.register(t, user)
	a := e.adapter(t, "quinn@localhost")

	for _, who := range []string{"bob", "gone"} {
		j := who + "@" + gw
		user.Send(t, `<presence to="`+j+`" type="subscribe"/>`)
		user.Expect(t, who+"'s subscription request", isPresence(j, "subscribe"))
		user.Send(t, `<presence to="`+j+`" type="subscribed"/>`)
	}
	want := [][]transports.ID{{"bob"}, {"bob", "gone"}}
	waitFor(t, "two Watch calls", func() bool { return len(a.Watched()) == 2 })
	if got := a.Watched(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Watch calls %v, want %v", got, want)
	}
	user.Expect(t, "bob's presence", isPresence("bob@"+gw, ""))

	// A new session names the roster again.
	user.Send(t, `<presence type="unavailable"/>`)
	waitFor(t, "the session stopped", a.Closed)
	user.Send(t, `<presence/>`)
	b := e.adapter(t, "quinn@localhost")
	waitFor(t, "Watch at the new session", func() bool { return len(b.Watched()) == 1 })
	if got := b.Watched()[0]; !slices.Equal(got, []transports.ID{"bob", "gone"}) {
		t.Errorf("Watch at session start %v, want [bob gone]", got)
	}
}
