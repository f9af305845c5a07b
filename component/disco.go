package component

import (
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"

	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/transports"
)

// discoInfo is the answer to disco#info on the gateway domain, with its
// XEP-0115 verification string, computed once.
type discoInfo struct {
	answer discovery.Info
	ver    string
}

// buildDiscoInfo lists what this component really implements for its
// network: discovery.Gateway derives it from the network's Capabilities.
func (c *Component) buildDiscoInfo() discoInfo {
	d := discovery.Gateway(c.net.Identity(), c.netCaps())
	if c.cfg.Archive != nil && c.netCaps().Rooms {
		d = discovery.WithArchive(d) // the MUC service archives its rooms
	}
	return discoInfo{answer: d, ver: d.Ver()}
}

func (c *Component) caps() *stanza.Caps {
	return &stanza.Caps{Hash: "sha-1", Node: discovery.CapsNode, Ver: c.info.ver}
}

func (c *Component) discoInfo(s *stanza.In, q *node) {
	nodeName := q.Attr("node")
	if s.To.Localpart() != "" {
		// A legacy contact, room or server.
		id, err := legacyID(s.To)
		if err != nil || nodeName != "" {
			c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "No such node."))
			return
		}
		c.legacyDiscoInfo(s, id)
		return
	}
	switch nodeName {
	case "", discovery.CapsNode + "#" + c.info.ver:
		res := c.info.answer
		res.Node = nodeName
		c.result(s, &res)
	case nsCommands:
		c.result(s, &discovery.Info{
			Node:       nodeName,
			Identities: []info.Identity{{Category: "automation", Type: "command-list", Name: "Commands"}},
			Features:   discovery.Features(nsDiscoInf, nsDiscoIt),
		})
	default:
		if cmd, ok := c.command(nodeName, s.From); ok {
			c.result(s, &discovery.Info{
				Node:       nodeName,
				Identities: []info.Identity{{Category: "automation", Type: "command-node", Name: cmd.Name}},
				Features:   discovery.Features(nsCommands, nsData),
			})
			return
		}
		c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "No such node."))
	}
}

func (c *Component) discoItems(s *stanza.In, q *node) {
	nodeName := q.Attr("node")
	if s.To.Localpart() != "" {
		if nodeName != "" {
			c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "No such node."))
			return
		}
		if id, err := legacyID(s.To); err == nil && s.To.Resourcepart() == "" {
			if k, err := c.kindOf(id); err == nil && k == transports.KindServer {
				c.serverItems(s, q, id)
				return
			}
		}
		c.result(s, &discovery.Items{})
		return
	}
	switch nodeName {
	case "":
		c.result(s, &discovery.Items{})
	case nsCommands:
		res := &discovery.Items{Node: nsCommands}
		for _, cmd := range c.commandsFor(s.From) {
			res.Items = append(res.Items, items.Item{JID: c.domain, Node: cmd.Node, Name: cmd.Name})
		}
		c.result(s, res)
	default:
		c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "No such node."))
	}
}
