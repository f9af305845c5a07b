package component

import (
	"context"
	"time"

	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"

	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/muc"
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
		if cmd, ok := c.commands.Lookup(nodeName, s.From); ok {
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
		if c.netCaps().ServerListing && c.allowedUser(s.From) {
			c.serverList(s, q)
			return
		}
		c.result(s, &discovery.Items{})
	case nsCommands:
		res := &discovery.Items{Node: nsCommands}
		for _, cmd := range c.commands.List(s.From) {
			res.Items = append(res.Items, items.Item{JID: c.domain, Node: cmd.Node, Name: cmd.Name})
		}
		c.result(s, res)
	default:
		c.replyError(s.Element, stanzaerr.New("cancel", "item-not-found", "No such node."))
	}
}

// serversTimeout bounds the network's answer with a user's servers.
const serversTimeout = time.Minute

// serverList answers disco#items on the gateway domain for a network
// whose users are on several servers (Capabilities.ServerListing): the
// user's servers (guilds), by name, paged with XEP-0059; none while the
// user has no session. Lane work: it waits for the network.
func (c *Component) serverList(s *stanza.In, q *node) {
	user := s.From.Bare().String()
	c.admit(s, func() {
		lister, _ := c.sup.Adapter(user).(transports.ServerLister)
		if lister == nil {
			c.result(s, &discovery.Items{})
			return
		}
		ctx, cancel := context.WithTimeout(c.ctx(), serversTimeout)
		servers, err := lister.Servers(ctx)
		cancel()
		if err != nil {
			c.replyError(s.Element, stanzaerr.From(err))
			return
		}
		all := make([]items.Item, 0, len(servers))
		for _, sv := range servers {
			j, err := c.legacyJID(sv.ID)
			if err != nil {
				continue
			}
			name := sv.Name
			if len(name) > muc.MaxItemName {
				name = stanza.CutUTF8(name, muc.MaxItemName-len("…")) + "…"
			}
			all = append(all, items.Item{JID: j, Name: name})
		}
		res, serr := discovery.Page(all, q.Child(nsRSM, "set"), muc.ListPage)
		if serr != nil {
			c.replyError(s.Element, serr)
			return
		}
		c.result(s, res)
	})
}
