package discovery

import (
	"slices"
	"testing"

	"mellium.im/xmpp/disco/info"

	"github.com/switchboard-im/switchboard/transports"
)

func vars(fs []info.Feature) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Var
	}
	return out
}

// TestGateway: the gateway domain's identities and features come from the
// network's Capabilities alone.
func TestGateway(t *testing.T) {
	base := []string{
		"http://jabber.org/protocol/commands", "http://jabber.org/protocol/disco#info",
		"http://jabber.org/protocol/disco#items", "jabber:iq:gateway", "jabber:iq:register",
		"jabber:iq:version", "urn:xmpp:ping", "urn:xmpp:receipts",
	}
	const (
		muc       = "http://jabber.org/protocol/muc"
		reactions = "urn:xmpp:reactions:0"
		reply     = "urn:xmpp:reply:0"
		chat      = "http://jabber.org/protocol/chatstates"
		correct   = "urn:xmpp:message-correct:0"
		retract   = "urn:xmpp:message-retract:1"
	)
	id := transports.Identity{Type: "irc", Name: "IRC gateway"}
	gateway := info.Identity{Category: "gateway", Type: "irc", Name: "IRC gateway"}
	conference := func(typ string) info.Identity {
		return info.Identity{Category: "conference", Type: typ, Name: "IRC gateway"}
	}
	tests := []struct {
		name       string
		id         transports.Identity
		caps       transports.Capabilities
		identities []info.Identity
		extra      []string // features beyond base
	}{
		{"no rooms", id, transports.Capabilities{}, []info.Identity{gateway}, nil},
		{"no rooms, nothing else claimed", id,
			transports.Capabilities{StayConnected: true, Attachments: true,
				Commands: []transports.Command{{Node: "check-mail", Name: "Check mail now"}}},
			[]info.Identity{gateway}, nil},
		{"no rooms, one-to-one message features", id,
			transports.Capabilities{Reactions: true, Replies: true, ChatStates: true, Corrections: true, Retractions: true},
			[]info.Identity{gateway}, []string{reactions, reply, chat, correct, retract}},
		{"no rooms, corrections only", id, transports.Capabilities{Corrections: true},
			[]info.Identity{gateway}, []string{correct}},
		{"files", id, transports.Capabilities{SendFiles: true}, []info.Identity{gateway}, []string{"urn:xmpp:sfs:0", "urn:xmpp:sims:1"}},
		{"the network's own category", transports.Identity{Category: "service", Type: "x"}, transports.Capabilities{},
			[]info.Identity{{Category: "service", Type: "x"}}, nil},
		{"rooms, text conference", id, transports.Capabilities{Rooms: true},
			[]info.Identity{gateway, conference("text")}, []string{muc}},
		{"rooms, irc conference", id, transports.Capabilities{Rooms: true, ConferenceType: "irc"},
			[]info.Identity{gateway, conference("irc")}, []string{muc}},
		{"rooms with reactions", id, transports.Capabilities{Rooms: true, Reactions: true},
			[]info.Identity{gateway, conference("text")}, []string{muc, reactions}},
		{"rooms with replies and chat states", id, transports.Capabilities{Rooms: true, Replies: true, ChatStates: true},
			[]info.Identity{gateway, conference("text")}, []string{muc, reply, chat}},
		{"rooms with everything", id, transports.Capabilities{Rooms: true, RoomListing: true, AnonymousJoin: true,
			Reactions: true, Replies: true, ChatStates: true, Corrections: true, Retractions: true, Moderation: true, ConferenceType: "irc"},
			[]info.Identity{gateway, conference("irc")}, []string{muc, reactions, reply, chat, correct, retract}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Gateway(tt.id, tt.caps)
			if d.Node != "" {
				t.Errorf("node %q, want none", d.Node)
			}
			if !slices.Equal(d.Identities, tt.identities) {
				t.Errorf("identities = %v, want %v", d.Identities, tt.identities)
			}
			want := slices.Concat(base, tt.extra)
			slices.Sort(want)
			if got := vars(d.Features); !slices.Equal(got, want) {
				t.Errorf("features = %v, want %v", got, want)
			}
		})
	}
}

// TestLegacyInfo: what a legacy room, server and contact say about
// themselves.
func TestLegacyInfo(t *testing.T) {
	tests := []struct {
		name     string
		info     Info
		identity info.Identity
		features []string
	}{
		{"room", Room("#go%irc.example"),
			info.Identity{Category: "conference", Type: "text", Name: "#go%irc.example"},
			[]string{NSInfo, "http://jabber.org/protocol/muc", "muc_open", "muc_public", "muc_semianonymous",
				"muc_unmoderated", "muc_unsecured"}},
		{"server, network's conference type", Server("irc.example", transports.Capabilities{Rooms: true, ConferenceType: "irc"}),
			info.Identity{Category: "conference", Type: "irc", Name: "irc.example"},
			[]string{NSInfo, NSItems, "http://jabber.org/protocol/muc", "http://jabber.org/protocol/rsm"}},
		{"server, text conference", Server("irc.example", transports.Capabilities{Rooms: true}),
			info.Identity{Category: "conference", Type: "text", Name: "irc.example"},
			[]string{NSInfo, NSItems, "http://jabber.org/protocol/muc", "http://jabber.org/protocol/rsm"}},
		{"room of a network without message features", RoomOf("#go%irc.example", transports.Capabilities{Rooms: true, Moderation: true}),
			info.Identity{Category: "conference", Type: "text", Name: "#go%irc.example"},
			[]string{NSInfo, "http://jabber.org/protocol/muc", "muc_open", "muc_public", "muc_semianonymous",
				"muc_unmoderated", "muc_unsecured"}},
		{"room with corrections, retractions and moderation", RoomOf("#go%irc.example",
			transports.Capabilities{Rooms: true, Corrections: true, Retractions: true, Moderation: true, Reactions: true}),
			info.Identity{Category: "conference", Type: "text", Name: "#go%irc.example"},
			[]string{NSInfo, "http://jabber.org/protocol/muc", "muc_open", "muc_public", "muc_semianonymous",
				"muc_unmoderated", "muc_unsecured",
				"urn:xmpp:message-correct:0", "urn:xmpp:message-moderate:1", "urn:xmpp:message-retract:1", "urn:xmpp:reactions:0"}},
		{"contact", Contact("alice"), info.Identity{Category: "client", Type: "pc", Name: "alice"}, []string{NSInfo}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Equal(tt.info.Identities, []info.Identity{tt.identity}) {
				t.Errorf("identities = %v, want [%v]", tt.info.Identities, tt.identity)
			}
			if got := vars(tt.info.Features); !slices.Equal(got, tt.features) {
				t.Errorf("features = %v, want %v", got, tt.features)
			}
		})
	}
}
