package component

import (
	"sort"

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

// conferenceType is the disco identity type of the MUC service and of
// legacy servers.
func conferenceType(caps transports.Capabilities) string {
	if caps.ConferenceType != "" {
		return caps.ConferenceType
	}
	return "text"
}

// discoFor is the gateway domain's disco#info for a network with identity
// id and capabilities caps. The base features are what the component
// implements for every network; the others follow caps. Reactions, replies
// and chat states are relayed in rooms only, so they are advertised when
// the network has rooms and claims them.
func discoFor(id transports.Identity, caps transports.Capabilities) discoInfo {
	if id.Category == "" {
		id.Category = "gateway"
	}
	d := discoInfo{
		identities: []identity{{Category: id.Category, Type: id.Type, Name: id.Name}},
		features: []string{
			nsCommands, nsDiscoInf, nsDiscoIt, nsGateway, nsRegister,
			nsVersion, nsPing, nsReceipts,
		},
	}
	if caps.Rooms {
		d.identities = append(d.identities, identity{Category: "conference", Type: conferenceType(caps), Name: id.Name})
		d.features = append(d.features, nsMUC)
		for _, f := range []struct {
			has bool
			ns  string
		}{{caps.Reactions, nsReactions}, {caps.Replies, nsReply}, {caps.ChatStates, nsChat}} {
			if f.has {
				d.features = append(d.features, f.ns)
			}
		}
	}
	sort.Strings(d.features)
	d.ver = capsVer(d.identities, d.features)
	return d
}
