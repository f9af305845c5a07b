package transportstest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-im/switchboard/transports"
)

// Conformance checks that net keeps the promises of its Capabilities, the
// way storage/storagetest checks a storage backend: every network's tests
// run it. connect returns an adapter of net, connected for a registered
// user (against a real server where the network needs one) and closed by a
// t.Cleanup of its own; Conformance calls it once. Each broken promise is
// one test error (see Check).
func Conformance(t *testing.T, net transports.Network, connect func(t *testing.T) transports.Adapter) {
	t.Helper()
	if connect == nil {
		t.Fatal("Conformance needs a connect function: the adapter's side of the claims is checked too")
	}
	a := connect(t)
	if a == nil {
		t.Fatal("connect returned no adapter")
	}
	for _, err := range Check(net, a) {
		t.Errorf("%s: %v", net.Name(), err)
	}
}

// Check returns every way net and its adapter a disagree with
// net.Capabilities(), or nil when they agree:
//
//   - Capabilities returns the same value on every call;
//   - RoomListing, AnonymousJoin, ConferenceType, Moderation,
//     NickChange, OccupantIDs, PrivateMessages and MaxOccupants need
//     Rooms; Moderation needs Retractions; ServerListing needs
//     RoomListing; MaxOccupants is not negative;
//   - PrivateMessages needs net to be a transports.OccupantContacter;
//   - Rooms needs net to be a transports.Addresser and a to implement
//     transports.Rooms;
//   - AnonymousJoin needs net to be a transports.AnonymousNetwork;
//   - RoomListing needs a RoomLister, ChatStates a Typer, Reactions a
//     Reactor, Corrections an Editor, Retractions a Retractor,
//     Moderation a MessageModerator, SendFiles a FileSender, Profiles
//     a Profiler, Contacts a ContactLister, WatchPresence a Watcher,
//     ServerListing a ServerLister, NickChange a Nicker, Pipelining a
//     Queuer;
//   - a Queuer's Queue with a context already done queues nothing and
//     returns the context's error;
//   - Commands have unique, non-empty nodes and names, and need a
//     CommandRunner that refuses an unknown node with ErrNotFound;
//     AdminCommands likewise, run by net as a transports.AdminCommander;
//   - MaxBody is not negative; Name and Identity.Type are not empty;
//   - Webhooks needs net to be a transports.HookNetwork (whose handler
//     is checked by the network's own tests: Attach is the component's
//     to call).
//
// Check calls nothing on a or net that does I/O, except RunCommand and
// RunAdminCommand with a node no network has (Queue is called with a
// context already done).
func Check(net transports.Network, a transports.Adapter) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	caps := net.Capabilities()
	if again := net.Capabilities(); !reflect.DeepEqual(caps, again) {
		fail("Capabilities changed between two calls: %+v, then %+v", caps, again)
	}
	if net.Name() == "" {
		fail("Name is empty")
	}
	if net.Identity().Type == "" {
		fail("Identity has no type")
	}
	if caps.MaxBody < 0 {
		fail("MaxBody %d is negative", caps.MaxBody)
	}

	needsRooms := []struct {
		claimed bool
		name    string
	}{
		{caps.RoomListing, "RoomListing"},
		{caps.AnonymousJoin, "AnonymousJoin"},
		{caps.ConferenceType != "", "ConferenceType"},
		{caps.Moderation, "Moderation"},
		{caps.NickChange, "NickChange"},
		{caps.OccupantIDs, "OccupantIDs"},
		{caps.PrivateMessages, "PrivateMessages"},
		{caps.MaxOccupants > 0, "MaxOccupants"},
	}
	for _, c := range needsRooms {
		if c.claimed && !caps.Rooms {
			fail("%s is claimed without Rooms", c.name)
		}
	}
	if caps.MaxOccupants < 0 {
		fail("MaxOccupants %d is negative", caps.MaxOccupants)
	}
	if caps.ServerListing && !caps.RoomListing {
		fail("ServerListing is claimed without RoomListing: a listed server's rooms could not be browsed")
	}
	if caps.PrivateMessages {
		if _, ok := net.(transports.OccupantContacter); !ok {
			fail("PrivateMessages is claimed, but the network is not a transports.OccupantContacter")
		}
	}
	if caps.Moderation && !caps.Retractions {
		fail("Moderation is claimed without Retractions: moderated retractions are shown as retractions")
	}
	if caps.Rooms {
		if _, ok := net.(transports.Addresser); !ok {
			fail("Rooms is claimed, but the network is not a transports.Addresser: rooms cannot be told from contacts")
		}
	}
	if caps.Webhooks {
		if _, ok := net.(transports.HookNetwork); !ok {
			fail("Webhooks is claimed, but the network is not a transports.HookNetwork")
		}
	}
	if caps.AnonymousJoin {
		if _, ok := net.(transports.AnonymousNetwork); !ok {
			fail("AnonymousJoin is claimed, but the network is not a transports.AnonymousNetwork")
		}
	}

	adapterClaims := []struct {
		claimed bool
		name    string
		ok      bool
	}{
		{caps.Rooms, "Rooms", implements[transports.Rooms](a)},
		{caps.RoomListing, "RoomLister", implements[transports.RoomLister](a)},
		{caps.ChatStates, "Typer", implements[transports.Typer](a)},
		{caps.Reactions, "Reactor", implements[transports.Reactor](a)},
		{caps.Corrections, "Editor", implements[transports.Editor](a)},
		{caps.Retractions, "Retractor", implements[transports.Retractor](a)},
		{caps.Moderation, "MessageModerator", implements[transports.MessageModerator](a)},
		{caps.SendFiles, "FileSender", implements[transports.FileSender](a)},
		{len(caps.Commands) > 0, "CommandRunner", implements[transports.CommandRunner](a)},
		{caps.Profiles, "Profiler", implements[transports.Profiler](a)},
		{caps.Contacts, "ContactLister", implements[transports.ContactLister](a)},
		{caps.WatchPresence, "Watcher", implements[transports.Watcher](a)},
		{caps.ServerListing, "ServerLister", implements[transports.ServerLister](a)},
		{caps.NickChange, "Nicker", implements[transports.Nicker](a)},
		{caps.Pipelining, "Queuer", implements[transports.Queuer](a)},
	}
	for _, c := range adapterClaims {
		if c.claimed && !c.ok {
			fail("the capabilities claim it, but the adapter (%T) is not a transports.%s", a, c.name)
		}
	}

	if q, ok := a.(transports.Queuer); ok && caps.Pipelining {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		msg := transports.Message{To: "transportstest-nobody", Body: "transportstest: never sent"}
		if p, err := q.Queue(ctx, msg); !errors.Is(err, context.Canceled) || p != nil {
			fail("Queue with a context already done = %v, %v; want no Pending and context.Canceled", p, err)
		}
	}

	seen := make(map[string]bool)
	for _, cmd := range caps.Commands {
		if cmd.Node == "" || cmd.Name == "" {
			fail("command %+v has an empty node or name", cmd)
		}
		if seen[cmd.Node] {
			fail("command node %q is declared twice", cmd.Node)
		}
		seen[cmd.Node] = true
	}
	if r, ok := a.(transports.CommandRunner); ok && len(caps.Commands) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		const unknown = "transportstest-no-such-command"
		if _, err := r.RunCommand(ctx, unknown); !errors.Is(err, transports.ErrNotFound) {
			fail("RunCommand(%q) = %v, want an error wrapping ErrNotFound", unknown, err)
		}
	}
	errs = append(errs, checkAdminCommands(net, caps, seen)...)
	return errs
}

// checkAdminCommands checks caps.AdminCommands: unique, non-empty nodes
// (also among the users' commands, seen) and names, run by an
// AdminCommander that refuses an unknown node with ErrNotFound.
func checkAdminCommands(net transports.Network, caps transports.Capabilities, seen map[string]bool) []error {
	if len(caps.AdminCommands) == 0 {
		return nil
	}
	var errs []error
	for _, cmd := range caps.AdminCommands {
		if cmd.Node == "" || cmd.Name == "" {
			errs = append(errs, fmt.Errorf("admin command %+v has an empty node or name", cmd))
		}
		if seen[cmd.Node] {
			errs = append(errs, fmt.Errorf("command node %q is declared twice", cmd.Node))
		}
		seen[cmd.Node] = true
	}
	r, ok := net.(transports.AdminCommander)
	if !ok {
		return append(errs, fmt.Errorf("AdminCommands are claimed, but the network (%T) is not a transports.AdminCommander", net))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const unknown = "transportstest-no-such-command"
	if _, err := r.RunAdminCommand(ctx, unknown, nil); !errors.Is(err, transports.ErrNotFound) {
		errs = append(errs, fmt.Errorf("RunAdminCommand(%q) = %v, want an error wrapping ErrNotFound", unknown, err))
	}
	return errs
}

func implements[I any](a transports.Adapter) bool {
	_, ok := a.(I)
	return ok
}
