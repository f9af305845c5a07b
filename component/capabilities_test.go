package component

import (
	"context"
	"slices"
	"testing"

	"github.com/switchboard-im/switchboard/component/adhoc"
	"github.com/switchboard-im/switchboard/component/commands"
	"github.com/switchboard-im/switchboard/transports"
)

// TestMaxBody: the network's bound applies when it is below the
// component's own.
func TestMaxBody(t *testing.T) {
	tests := []struct{ network, want int }{
		{0, maxBodyBytes},
		{400, 400},
		{maxBodyBytes * 2, maxBodyBytes},
	}
	for _, tt := range tests {
		c := &Component{net: capsNetwork{transports.Capabilities{MaxBody: tt.network}}}
		if got := c.maxBody(); got != tt.want {
			t.Errorf("MaxBody %d: maxBody() = %d, want %d", tt.network, got, tt.want)
		}
	}
}

// capsNetwork is a network that only has capabilities.
type capsNetwork struct{ caps transports.Capabilities }

func (n capsNetwork) Capabilities() transports.Capabilities { return n.caps }
func (capsNetwork) Name() string                            { return "caps" }
func (capsNetwork) Identity() transports.Identity           { return transports.Identity{Type: "text"} }
func (capsNetwork) LoginFields() []transports.Field         { return nil }
func (capsNetwork) Validate(context.Context, transports.Credentials) error {
	return nil
}
func (capsNetwork) Connect(context.Context, transports.Account, transports.Sink) (transports.Adapter, error) {
	return nil, transports.ErrUnsupported
}

// TestCapabilitiesSettingsAndCommands: the stay-connected default and the
// network's commands come from Capabilities.
func TestCapabilitiesSettingsAndCommands(t *testing.T) {
	tests := []struct {
		name     string
		caps     transports.Capabilities
		stay     string
		commands []string // network command nodes after the base ones
	}{
		{"defaults", transports.Capabilities{}, "false", nil},
		{"bouncer", transports.Capabilities{StayConnected: true}, "true", nil},
		{"commands", transports.Capabilities{Commands: []transports.Command{{Node: "a", Name: "A"}, {Node: "b", Name: "B"}}},
			"false", []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Component{net: capsNetwork{tt.caps}}
			fields := c.settingsFields()
			if len(fields) != 1 || fields[0].Name != settingStay || fields[0].Default != tt.stay {
				t.Errorf("settings fields = %+v, want one %q defaulting to %q", fields, settingStay, tt.stay)
			}
			if got := c.stayConnected(nil); got != (tt.stay == "true") {
				t.Errorf("stayConnected(no settings) = %v, want %v", got, tt.stay == "true")
			}
			base := commandNodes(commands.NewService(commandsCore{chatCore{&Component{net: capsNetwork{}}}}, nil).All())
			all := commandNodes(commands.NewService(commandsCore{chatCore{c}}, nil).All())
			if want := append(slices.Clone(base), tt.commands...); !slices.Equal(all, want) {
				t.Errorf("commands = %v, want the base ones and then the network's: %v", all, want)
			}
		})
	}
}

// commandNodes are the nodes of cmds, in order.
func commandNodes(cmds []adhoc.Command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Node)
	}
	return out
}
