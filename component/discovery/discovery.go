// Package discovery is service discovery as the gateway answers it: the
// disco#info answer (XEP-0030 identities and features) with its XEP-0115
// entity-capabilities verification string, the disco#items answer with
// XEP-0059 result-set paging, what the gateway domain, a legacy room, a
// legacy server and a legacy contact say about themselves, and the reading
// of other entities' answers (items, features, XEP-0128 form values) by
// which the gateway finds its server's upload service.
//
// Identities, features and items are mellium's types (disco/info,
// disco/items). The verification string is computed here: mellium's
// leaves XEP-0128 forms unsorted.
// This package writes the answers itself (identities first, each child in
// its query's namespace rather than declaring it again as mellium's
// marshalers do) and adds what mellium leaves to the service side: which
// features follow from a network's transports.Capabilities, and paging a
// listing. Which address's discovery is asked, and the listings
// themselves, stay with the component.
//
// Everything here is pure: no I/O, no locks, safe from any goroutine.
package discovery

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"

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

// Info is a disco#info answer, with its XEP-0128 extended-information
// forms (a room's muc#roominfo), which enter its verification string.
type Info struct {
	// Node is the node asked about, "" for the entity itself.
	Node       string
	Identities []info.Identity
	Features   []info.Feature
	// Forms are written after the features, in order.
	Forms []Form
}

// MarshalXML writes the <query xmlns='…disco#info'/> answer: identities
// first, as XEP-0030 shows them (mellium writes features first), each child
// inheriting the query's namespace instead of declaring it again, then the
// extended-information forms in jabber:x:data.
func (i Info) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	start := xml.StartElement{Name: xml.Name{Space: NSInfo, Local: "query"}}
	if i.Node != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "node"}, Value: i.Node})
	}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, id := range i.Identities {
		attrs := []xml.Attr{{Name: xml.Name{Local: "category"}, Value: id.Category}, {Name: xml.Name{Local: "type"}, Value: id.Type}}
		if id.Name != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "name"}, Value: id.Name})
		}
		if id.Lang != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Space: "http://www.w3.org/XML/1998/namespace", Local: "lang"}, Value: id.Lang})
		}
		if err := emptyElement(e, "identity", attrs); err != nil {
			return err
		}
	}
	for _, f := range i.Features {
		if err := emptyElement(e, "feature", []xml.Attr{{Name: xml.Name{Local: "var"}, Value: f.Var}}); err != nil {
			return err
		}
	}
	for _, f := range i.Forms {
		if err := e.Encode(f); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// emptyElement writes <local …attrs/> in its parent's namespace.
func emptyElement(e *xml.Encoder, local string, attrs []xml.Attr) error {
	el := xml.StartElement{Name: xml.Name{Local: local}, Attr: attrs}
	if err := e.EncodeToken(el); err != nil {
		return err
	}
	return e.EncodeToken(el.End())
}

// Ver is the XEP-0115 §5.1 verification string of i: SHA-1 over S
// (identities, features and extended-information forms, each sorted as
// §5.1 says: verInput) in base64. The order of i's slices does not
// matter, and Ver does not change it.
func (i Info) Ver() string {
	sum := sha1.Sum([]byte(i.verInput()))
	return base64.StdEncoding.EncodeToString(sum[:])
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
		attrs := []xml.Attr{{Name: xml.Name{Local: "jid"}, Value: it.JID.String()}}
		if it.Node != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "node"}, Value: it.Node})
		}
		if it.Name != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "name"}, Value: it.Name})
		}
		if err := emptyElement(e, "item", attrs); err != nil {
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
