package transportstest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
	"github.com/switchboard-im/switchboard/transports/transportstest"
)

// bare is an adapter with no optional interface.
type bare struct{ transports.Ending }

func (*bare) Send(context.Context, transports.Message) (transports.RemoteID, error) { return "", nil }
func (*bare) SetPresence(context.Context, transports.Presence) error                { return nil }
func (*bare) Close() error                                                          { return nil }

// anyCommand is an adapter whose RunCommand runs any node, even unknown ones.
type anyCommand struct{ bare }

func (*anyCommand) RunCommand(context.Context, string) (string, error) { return "done", nil }

// eager is a Queuer that queues even when its context is done.
type eager struct{ bare }

func (*eager) Queue(context.Context, transports.Message) (transports.Pending, error) {
	return transports.Done{ID: "x"}, nil
}

// addressed has rooms told apart by Kind but no anonymous accounts.
type addressed struct{ *transportstest.Network }

func (addressed) Kind(transports.ID) (transports.IDKind, error) { return transports.KindRoom, nil }

// fickle answers Capabilities differently each time.
type fickle struct {
	*transportstest.Network
	calls int
}

func (f *fickle) Capabilities() transports.Capabilities {
	f.calls++
	return transports.Capabilities{MaxBody: f.calls}
}

// connectFake connects a user of n, closed when the test ends.
func connectFake(n *transportstest.Network) func(t *testing.T) transports.Adapter {
	return func(t *testing.T) transports.Adapter {
		t.Helper()
		n.SetPassword("u", "p")
		a, err := n.Connect(context.Background(), transports.Account{User: "u@example.org",
			Credentials: transports.Credentials{"username": "u", "password": "p"}, Store: &transportstest.Store{}}, transports.SinkFunc(func(transports.Event) {}))
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
}

func TestConformanceFakes(t *testing.T) {
	t.Run("contacts", func(t *testing.T) {
		n := transportstest.New(nil)
		transportstest.Conformance(t, n, connectFake(n))
	})
	t.Run("rooms", func(t *testing.T) {
		n := transportstest.NewRooms(nil)
		transportstest.Conformance(t, n, connectFake(n.Network))
	})
}

// TestCheck: each broken promise is found, and only those.
func TestCheck(t *testing.T) {
	plain := func(edit func(*transports.Capabilities)) *transportstest.Network {
		n := transportstest.New(nil)
		edit(&n.Caps)
		return n
	}
	rooms := transportstest.NewRooms(nil)
	rooms2 := func(edit func(*transports.Capabilities)) transports.Network {
		n := transportstest.NewRooms(nil)
		edit(&n.Caps)
		return n
	}
	fake := connectFake(transportstest.New(nil))(t)

	tests := []struct {
		name string
		net  transports.Network
		a    transports.Adapter
		want []string // one substring per expected error
	}{
		{"fake contacts", transportstest.New(nil), fake, nil},
		{"fake rooms", rooms, fake, nil},
		{"commands without runner", transportstest.New(nil), &bare{}, []string{"transports.CommandRunner"}},
		{"unknown command runs", transportstest.New(nil), &anyCommand{}, []string{"want an error wrapping ErrNotFound"}},
		{"rooms without adapter support", rooms, &bare{}, []string{
			"transports.Rooms", "transports.RoomLister", "transports.Typer", "transports.Reactor", "transports.CommandRunner"}},
		{"rooms without addresser", plain(func(c *transports.Capabilities) { c.Rooms = true }), fake,
			[]string{"not a transports.Addresser"}},
		{"listing without rooms", plain(func(c *transports.Capabilities) { c.RoomListing = true }), fake,
			[]string{"RoomListing is claimed without Rooms"}},
		{"conference type without rooms", plain(func(c *transports.Capabilities) { c.ConferenceType = "irc" }), fake,
			[]string{"ConferenceType is claimed without Rooms"}},
		{"anonymous without anonymous network", addressed{plain(func(c *transports.Capabilities) {
			c.Rooms, c.AnonymousJoin = true, true
		})}, fake, []string{"not a transports.AnonymousNetwork"}},
		{"reactions without reactor", plain(func(c *transports.Capabilities) { c.Reactions = true; c.Commands = nil }), &bare{},
			[]string{"transports.Reactor"}},
		{"chat states without typer", plain(func(c *transports.Capabilities) { c.ChatStates = true; c.Commands = nil }), &bare{},
			[]string{"transports.Typer"}},
		{"corrections and retractions", plain(func(c *transports.Capabilities) { c.Corrections, c.Retractions = true, true; c.Commands = nil }), &bare{},
			[]string{"transports.Editor", "transports.Retractor"}},
		{"fake edits, retractions and moderation", rooms2(func(c *transports.Capabilities) {
			c.Corrections, c.Retractions, c.Moderation = true, true, true
		}), fake, nil},
		{"moderation without rooms or retractions", plain(func(c *transports.Capabilities) { c.Moderation = true; c.Commands = nil }), &bare{},
			[]string{"Moderation is claimed without Rooms", "Moderation is claimed without Retractions", "transports.MessageModerator"}},
		{"files without file sender", plain(func(c *transports.Capabilities) { c.SendFiles = true; c.Commands = nil }), &bare{},
			[]string{"transports.FileSender"}},
		{"files, fake sender", plain(func(c *transports.Capabilities) { c.SendFiles = true }), fake, nil},
		{"duplicate and empty commands", plain(func(c *transports.Capabilities) {
			c.Commands = append(c.Commands, transports.Command{Node: "count", Name: "Again"}, transports.Command{Node: "x"})
		}), fake, []string{"declared twice", "empty node or name"}},
		{"admin commands without commander, one clashing", plain(func(c *transports.Capabilities) {
			c.AdminCommands = []transports.AdminCommand{{Node: "assign", Name: "Assign"}, {Node: "count", Name: "Count"}, {Name: "No node"}}
		}), fake, []string{"declared twice", "empty node or name", "not a transports.AdminCommander"}},
		{"profiles and contacts without adapter support", plain(func(c *transports.Capabilities) {
			c.Profiles, c.Contacts, c.WatchPresence = true, true, true
			c.Commands = nil
		}), &bare{}, []string{"transports.Profiler", "transports.ContactLister", "transports.Watcher"}},
		{"servers and nicks without rooms or adapter support", plain(func(c *transports.Capabilities) {
			c.ServerListing, c.NickChange = true, true
			c.Commands = nil
		}), &bare{}, []string{"ServerListing is claimed without RoomListing", "NickChange is claimed without Rooms",
			"transports.ServerLister", "transports.Nicker"}},
		{"fake profiles, contacts, servers, nicks and occupant identity", rooms2(func(c *transports.Capabilities) {
			c.Profiles, c.Contacts, c.ServerListing, c.NickChange, c.WatchPresence = true, true, true, true, true
			c.OccupantIDs, c.PrivateMessages, c.MaxOccupants = true, true, 50
		}), fake, nil},
		{"occupant identity without rooms", plain(func(c *transports.Capabilities) {
			c.OccupantIDs, c.PrivateMessages, c.MaxOccupants = true, true, 50
		}), fake, []string{"OccupantIDs is claimed without Rooms", "PrivateMessages is claimed without Rooms",
			"MaxOccupants is claimed without Rooms", "not a transports.OccupantContacter"}},
		{"negative occupant bound", rooms2(func(c *transports.Capabilities) { c.MaxOccupants = -1 }), fake,
			[]string{"MaxOccupants -1 is negative"}},
		{"negative body bound", plain(func(c *transports.Capabilities) { c.MaxBody = -1 }), fake, []string{"negative"}},
		{"capabilities change", &fickle{Network: transportstest.New(nil)}, fake, []string{"changed between two calls"}},
		{"pipelining without queuer", plain(func(c *transports.Capabilities) { c.Pipelining = true; c.Commands = nil }), &bare{},
			[]string{"transports.Queuer"}},
		{"pipelining, fake queuer", plain(func(c *transports.Capabilities) { c.Pipelining = true }), fake, nil},
		{"queuer that ignores its context", plain(func(c *transports.Capabilities) { c.Pipelining = true; c.Commands = nil }), &eager{},
			[]string{"context already done"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := transportstest.Check(tt.net, tt.a)
			if len(errs) != len(tt.want) {
				t.Fatalf("Check found %d problems, want %d: %v", len(errs), len(tt.want), errs)
			}
			for _, w := range tt.want {
				found := false
				for _, err := range errs {
					found = found || strings.Contains(err.Error(), w)
				}
				if !found {
					t.Errorf("no problem mentions %q: %v", w, errs)
				}
			}
		})
	}
}
