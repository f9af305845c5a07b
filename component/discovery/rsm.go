package discovery

import (
	"encoding/xml"
	"strconv"
	"strings"

	"mellium.im/xmpp/disco/items"

	"github.com/switchboard-im/switchboard/component/stanzaerr"
	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// Set is an XEP-0059 result set: where a page sits in the whole listing.
// Written by hand because mellium's paging.Set always writes <first/> and
// <last/>, which an empty page must leave out.
type Set struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/rsm set"`
	// First is nil for an empty page.
	First *First `xml:",omitempty"`
	// Last is the key of the page's last item, "" for an empty page.
	Last  string `xml:"last,omitempty"`
	Count int    `xml:"count"`
}

// First is the key of a page's first item and its index in the listing.
type First struct {
	XMLName xml.Name `xml:"first"`
	Index   int      `xml:"index,attr"`
	Key     string   `xml:",chardata"`
}

// Page answers a disco#items query on a listing with XEP-0059. all is the
// whole listing, in the order it is shown; an item's key is its JID. set is
// the query's <set xmlns='…rsm'/>, nil when the query has none: the answer
// is then all of it, or its first unasked items when it is longer (with a
// result set, so a client that pages can go on). A request may ask for <max/>
// items <after/> or <before/> a key, the last page (<before/> empty), or from
// an <index/>. A bad number is bad-request and a key no longer in the listing
// is item-not-found; the texts quote only what the requester sent.
func Page(all []items.Item, set *xmltree.Element, unasked int) (*Items, *stanzaerr.Error) {
	index := func(key string) int {
		for i, it := range all {
			if it.JID.String() == key {
				return i
			}
		}
		return -1
	}
	start, end := 0, len(all)
	limit := -1
	if set != nil {
		if m := set.Child("", "max"); m != nil {
			n, err := strconv.Atoi(strings.TrimSpace(m.Text))
			if err != nil || n < 0 {
				return nil, stanzaerr.New("modify", "bad-request", "<max/> must be a number.")
			}
			limit = n
		}
		if limit < 0 || limit > unasked {
			// XEP-0059 §2.1: the responder may return fewer items than
			// asked; a page stays within the stanza limit.
			limit = unasked
		}
		after, before := set.Child("", "after"), set.Child("", "before")
		switch {
		case after != nil:
			i := index(strings.TrimSpace(after.Text))
			if i < 0 {
				return nil, stanzaerr.New("cancel", "item-not-found", "%q is not in the list (any more).", after.Text)
			}
			start = i + 1
		case before != nil && strings.TrimSpace(before.Text) != "":
			i := index(strings.TrimSpace(before.Text))
			if i < 0 {
				return nil, stanzaerr.New("cancel", "item-not-found", "%q is not in the list (any more).", before.Text)
			}
			end = i
			if limit >= 0 {
				start = max(0, end-limit)
			}
		case before != nil: // <before/>: the last page
			if limit >= 0 {
				start = max(0, end-limit)
			}
		case set.Child("", "index") != nil:
			n, err := strconv.Atoi(strings.TrimSpace(set.ChildText("", "index")))
			if err != nil || n < 0 {
				return nil, stanzaerr.New("modify", "bad-request", "<index/> must be a number.")
			}
			start = min(n, len(all))
		}
	} else if len(all) > unasked {
		limit = unasked
	}
	if limit >= 0 && end-start > limit {
		end = start + limit
	}
	res := &Items{Items: all[start:end]}
	if set != nil || len(all) > unasked {
		res.Set = &Set{Count: len(all)}
		if end > start {
			res.Set.First = &First{Index: start, Key: all[start].JID.String()}
			res.Set.Last = all[end-1].JID.String()
		}
	}
	return res, nil
}
