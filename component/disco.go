package component

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"sort"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

const capsNode = "https://switchboard-im.github.io/caps"

// discoInfo is the answer to disco#info on the gateway domain, with its
// XEP-0115 verification string.
type discoInfo struct {
	identities []identity
	features   []string
	ver        string
}

type identity struct {
	XMLName  xml.Name `xml:"identity"`
	Category string   `xml:"category,attr"`
	Type     string   `xml:"type,attr"`
	Name     string   `xml:"name,attr,omitempty"`
}

type feature struct {
	XMLName xml.Name `xml:"feature"`
	Var     string   `xml:"var,attr"`
}

type infoQuery struct {
	XMLName    xml.Name `xml:"http://jabber.org/protocol/disco#info query"`
	Node       string   `xml:"node,attr,omitempty"`
	Identities []identity
	Features   []feature
}

type item struct {
	XMLName xml.Name `xml:"item"`
	JID     string   `xml:"jid,attr"`
	Node    string   `xml:"node,attr,omitempty"`
	Name    string   `xml:"name,attr,omitempty"`
}

type itemsQuery struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/disco#items query"`
	Node    string   `xml:"node,attr,omitempty"`
	Items   []item
	Set     *rsmSet `xml:",omitempty"`
}

// buildDiscoInfo lists what this component really implements for its
// network: the features of optional capabilities follow the network's
// Capabilities (see discoFor), which transportstest.Conformance checks
// against its adapters, so a network never claims what it cannot do.
func (c *Component) buildDiscoInfo() discoInfo {
	return discoFor(c.net.Identity(), c.netCaps())
}

// capsVer computes the XEP-0115 §5.1 verification string.
func capsVer(ids []identity, features []string) string {
	idStrs := make([]string, len(ids))
	for i, id := range ids {
		idStrs[i] = id.Category + "/" + id.Type + "//" + id.Name
	}
	sort.Strings(idStrs)
	var b strings.Builder
	for _, s := range idStrs {
		b.WriteString(s)
		b.WriteByte('<')
	}
	fs := append([]string(nil), features...)
	sort.Strings(fs)
	for _, f := range fs {
		b.WriteString(f)
		b.WriteByte('<')
	}
	sum := sha1.Sum([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (c *Component) caps() *capsElem {
	return &capsElem{Hash: "sha-1", Node: capsNode, Ver: c.info.ver}
}

func features(vars ...string) []feature {
	fs := make([]feature, len(vars))
	for i, v := range vars {
		fs[i] = feature{Var: v}
	}
	return fs
}

func (c *Component) discoInfo(s *stanza, q *node) {
	nodeName := q.Attr("node")
	if s.to.Localpart() != "" {
		// A legacy contact, room or server.
		id, err := legacyID(s.to)
		if err != nil || nodeName != "" {
			c.replyError(s.node, errorf("cancel", "item-not-found", "No such node."))
			return
		}
		c.legacyDiscoInfo(s, id)
		return
	}
	switch nodeName {
	case "", capsNode + "#" + c.info.ver:
		c.result(s, &infoQuery{Node: nodeName, Identities: c.info.identities, Features: features(c.info.features...)})
	case nsCommands:
		c.result(s, &infoQuery{
			Node:       nodeName,
			Identities: []identity{{Category: "automation", Type: "command-list", Name: "Commands"}},
			Features:   features(nsDiscoInf, nsDiscoIt),
		})
	default:
		if cmd := c.command(nodeName, s.from); cmd != nil {
			c.result(s, &infoQuery{
				Node:       nodeName,
				Identities: []identity{{Category: "automation", Type: "command-node", Name: cmd.name}},
				Features:   features(nsCommands, nsData),
			})
			return
		}
		c.replyError(s.node, errorf("cancel", "item-not-found", "No such node."))
	}
}

func (c *Component) discoItems(s *stanza, q *node) {
	nodeName := q.Attr("node")
	if s.to.Localpart() != "" {
		if nodeName != "" {
			c.replyError(s.node, errorf("cancel", "item-not-found", "No such node."))
			return
		}
		if id, err := legacyID(s.to); err == nil && s.to.Resourcepart() == "" {
			if k, err := c.kindOf(id); err == nil && k == transports.KindServer {
				c.serverItems(s, q, id)
				return
			}
		}
		c.result(s, &itemsQuery{})
		return
	}
	switch nodeName {
	case "":
		c.result(s, &itemsQuery{})
	case nsCommands:
		res := &itemsQuery{Node: nsCommands}
		for _, cmd := range c.commandsFor(s.from) {
			res.Items = append(res.Items, item{JID: c.domain.String(), Node: cmd.node, Name: cmd.name})
		}
		c.result(s, res)
	default:
		c.replyError(s.node, errorf("cancel", "item-not-found", "No such node."))
	}
}
