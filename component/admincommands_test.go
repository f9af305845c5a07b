package component

import (
	"context"
	"errors"
	"slices"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/commands"
	"github.com/switchboard-im/switchboard/transports"
)

// adminNetwork is a network with one admin command, which records what
// it ran.
type adminNetwork struct {
	capsNetwork
	ran *[]string
}

func (n adminNetwork) RunAdminCommand(_ context.Context, node string, values map[string]string) (string, error) {
	*n.ran = append(*n.ran, node+" "+values["user"])
	return "done", nil
}

// TestNetworkAdminCommands: a network's admin commands follow the
// gateway's own, for administrators only, and run on the network; a
// network that claims none runs none.
func TestNetworkAdminCommands(t *testing.T) {
	var ran []string
	caps := transports.Capabilities{AdminCommands: []transports.AdminCommand{{Node: "assign", Name: "Assign",
		Fields: []transports.Field{{Name: "user", Label: "User", Required: true}}}}}
	c := &Component{net: adminNetwork{capsNetwork{caps}, &ran}, admins: map[string]bool{"root@example.org": true},
		allowed: map[string]bool{"example.org": true}}
	svc := commands.NewService(commandsCore{chatCore{c}}, nil)
	base := commandNodes(commands.NewService(commandsCore{chatCore{&Component{net: capsNetwork{}}}}, nil).All())
	if got, want := commandNodes(svc.All()), append(slices.Clone(base), "assign"); !slices.Equal(got, want) {
		t.Fatalf("commands = %v, want %v", got, want)
	}
	if _, ok := svc.Lookup("assign", jid.MustParse("gina@example.org/pc")); ok {
		t.Error("a user may run the network's admin command")
	}
	cmd, ok := svc.Lookup("assign", jid.MustParse("root@example.org/pc"))
	if !ok || !cmd.Admin {
		t.Fatalf("the administrator's lookup: %+v, %v", cmd, ok)
	}
	text, err := commandsCore{chatCore{c}}.RunAdminCommand(context.Background(), "assign", map[string]string{"user": "gina@example.org"})
	if err != nil || text != "done" || !slices.Equal(ran, []string{"assign gina@example.org"}) {
		t.Fatalf("RunAdminCommand: %q, %v; ran %v", text, err, ran)
	}
	plain := &Component{net: capsNetwork{caps}}
	if _, err := (commandsCore{chatCore{plain}}).RunAdminCommand(context.Background(), "assign", nil); !errors.Is(err, transports.ErrNotFound) {
		t.Fatalf("a network without an AdminCommander: %v, want ErrNotFound", err)
	}
}
