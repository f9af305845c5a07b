// Package discovery is service discovery as the gateway answers it: the
// disco#info answer (XEP-0030 identities and features) with its XEP-0115
// entity-capabilities verification string, the disco#items answer with
// XEP-0059 result-set paging, what the gateway domain, a legacy room, a
// legacy server and a legacy contact say about themselves, and the reading
// of other entities' answers (items, features, XEP-0128 form values) by
// which the gateway finds its server's upload service.
//
// The wire types of identities, features and items are mellium's
// (disco/info, disco/items), and the verification string is mellium's
// computation; this package adds what mellium leaves to the service side:
// which features follow from a network's transports.Capabilities, and
// paging a listing. Which address's discovery is asked, and the listings
// themselves, stay with the component.
//
// Everything here is pure: no I/O, no locks, safe from any goroutine.
package discovery

import (
	"crypto/sha1"
	"encoding/xml"
	"slices"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
)

// Namespaces of the two discovery queries.
const (
	NSInfo  = disco.NSInfo
	NSItems = disco.NSItems
)

// CapsNode is the XEP-0115 node that names the software: presence from the
// gateway carries it with the verification string, and disco#info on
// CapsNode+"#"+ver answers like disco#info without a node.
const CapsNode = "https://switchboard-im.github.io/caps"

// Info is a disco#info answer. It carries no XEP-0128 extended-information
// forms: the gateway publishes none, so neither the answer nor the
// verification string has any.
type Info struct {
	// Node is the node asked about, "" for the entity itself.
	Node       string
	Identities []info.Identity
	Features   []info.Feature
}

// MarshalXML writes the <query xmlns='…disco#info'/> answer.
func (i Info) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return i.mellium().MarshalXML(e, start)
}

// Ver is the XEP-0115 §5.1 verification string of i: SHA-1 over the
// identities sorted by category, type and xml:lang (each written
// category/type/lang/name), then the sorted features, in base64. The
// order of i's slices does not matter, and Ver does not change it.
func (i Info) Ver() string {
	m := i.mellium()
	// mellium sorts the slices it hashes in place: hash copies.
	m.Identity = slices.Clone(m.Identity)
	m.Features = slices.Clone(m.Features)
	return m.Hash(sha1.New())
}

func (i Info) mellium() disco.Info {
	return disco.Info{InfoQuery: disco.InfoQuery{Node: i.Node}, Identity: i.Identities, Features: i.Features}
}

// Features turns feature namespaces into disco#info features, in order.
func Features(vars ...string) []info.Feature {
	fs := make([]info.Feature, len(vars))
	for i, v := range vars {
		fs[i] = info.Feature{Var: v}
	}
	return fs
}

// Items is a disco#items answer, with an XEP-0059 result set when the
// listing is paged.
type Items struct {
	// Node is the node asked about, "" for the entity itself.
	Node  string
	Items []items.Item
	Set   *Set
}

// MarshalXML writes the <query xmlns='…disco#items'/> answer. The items
// inherit the query's namespace instead of declaring it each (as mellium's
// Item.MarshalXML does): on a page of hundreds of rooms that is kilobytes
// further from the stanza limit.
func (q Items) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	start := xml.StartElement{Name: xml.Name{Space: NSItems, Local: "query"}}
	if q.Node != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "node"}, Value: q.Node})
	}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, it := range q.Items {
		el := xml.StartElement{Name: xml.Name{Local: "item"}, Attr: []xml.Attr{{Name: xml.Name{Local: "jid"}, Value: it.JID.String()}}}
		if it.Node != "" {
			el.Attr = append(el.Attr, xml.Attr{Name: xml.Name{Local: "node"}, Value: it.Node})
		}
		if it.Name != "" {
			el.Attr = append(el.Attr, xml.Attr{Name: xml.Name{Local: "name"}, Value: it.Name})
		}
		if err := e.EncodeToken(el); err != nil {
			return err
		}
		if err := e.EncodeToken(el.End()); err != nil {
			return err
		}
	}
	if q.Set != nil {
		if err := e.Encode(q.Set); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}
