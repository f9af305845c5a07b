package discovery

import (
	"slices"

	"mellium.im/xmpp/disco/info"

	"github.com/switchboard-im/switchboard/transports"
)

// Feature namespaces the gateway advertises.
const (
	nsCommands  = "http://jabber.org/protocol/commands"
	nsGateway   = "jabber:iq:gateway"
	nsRegister  = "jabber:iq:register"
	nsVersion   = "jabber:iq:version"
	nsPing      = "urn:xmpp:ping"
	nsReceipts  = "urn:xmpp:receipts"
	nsMUC       = "http://jabber.org/protocol/muc"
	nsRSM       = "http://jabber.org/protocol/rsm"
	nsReactions = "urn:xmpp:reactions:0"
	nsReply     = "urn:xmpp:reply:0"
	nsChat      = "http://jabber.org/protocol/chatstates"
	nsSIMS      = "urn:xmpp:sims:1"
	nsSFS       = "urn:xmpp:sfs:0"
)

// baseFeatures are what the component implements for every network.
var baseFeatures = []string{
	nsCommands, NSInfo, NSItems, nsGateway, nsRegister, nsVersion, nsPing, nsReceipts,
}

// Gateway is the disco#info of the gateway domain of a network with
// identity id and capabilities caps. The base features are what the
// component implements for every network; the others follow caps alone,
// which transportstest.Conformance checks against the network's adapters,
// so the domain never claims what the network cannot do. Chat states,
// reactions, replies, corrections and retractions are relayed in
// one-to-one chats and rooms alike, so they are advertised whenever the
// network claims them; XEP-0385 and XEP-0447 file sharing when the network
// takes files (SendFiles). An empty identity category is "gateway".
// Features are sorted.
func Gateway(id transports.Identity, caps transports.Capabilities) Info {
	if id.Category == "" {
		id.Category = "gateway"
	}
	d := Info{Identities: []info.Identity{{Category: id.Category, Type: id.Type, Name: id.Name}}}
	vars := slices.Concat(baseFeatures, messageFeatures(caps))
	if caps.Rooms {
		d.Identities = append(d.Identities, info.Identity{Category: "conference", Type: conferenceType(caps), Name: id.Name})
		vars = append(vars, nsMUC)
	}
	if caps.SendFiles { // shared files reach the network as files
		vars = append(vars, nsSIMS, nsSFS)
	}
	slices.Sort(vars)
	d.Features = Features(vars...)
	return d
}

// conferenceType is the identity type of the MUC service and of legacy
// servers: the network's, or "text".
func conferenceType(caps transports.Capabilities) string {
	if caps.ConferenceType != "" {
		return caps.ConferenceType
	}
	return "text"
}

// roomFeatures are a legacy room's features: a public, open,
// semi-anonymous room (IRC shows hostnames, not XMPP addresses) that is
// not persistent on the XMPP side.
var roomFeatures = []string{
	NSInfo, nsMUC, "muc_open", "muc_public", "muc_semianonymous", "muc_unmoderated", "muc_unsecured",
}

// Room is the disco#info of a legacy room named name: a text conference
// (XEP-0045 §6.4).
func Room(name string) Info {
	return Info{
		Identities: []info.Identity{{Category: "conference", Type: "text", Name: name}},
		Features:   Features(roomFeatures...),
	}
}

// Server is the disco#info of a legacy server named name on a network with
// capabilities caps: a conference service whose rooms disco#items lists,
// paged with XEP-0059.
func Server(name string, caps transports.Capabilities) Info {
	return Info{
		Identities: []info.Identity{{Category: "conference", Type: conferenceType(caps), Name: name}},
		Features:   Features(NSInfo, NSItems, nsMUC, nsRSM),
	}
}

// Contact is the disco#info of a legacy contact or room occupant named
// name: a client that answers discovery and nothing more.
func Contact(name string) Info {
	return Info{
		Identities: []info.Identity{{Category: "client", Type: "pc", Name: name}},
		Features:   Features(NSInfo),
	}
}
