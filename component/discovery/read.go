package discovery

import "github.com/switchboard-im/switchboard/internal/xmltree"

// Reading other entities' answers: the gateway asks its server's
// disco#items, then each item's disco#info, to find the XEP-0363 upload
// service and its size limit. Each function takes the answer's <query/>
// element (nil for none) and matches children by namespace and local name,
// so an element of another namespace is never taken for an item, a feature
// or a form.

const nsData = "jabber:x:data"

// ItemJIDs returns the jid attribute of each item of the disco#items
// answer q, in order, skipping items without one.
func ItemJIDs(q *xmltree.Element) []string {
	if !q.Is(NSItems, "query") {
		return nil
	}
	var out []string
	for _, it := range q.ChildrenNamed(NSItems, "item") {
		if j := it.Attr("jid"); j != "" {
			out = append(out, j)
		}
	}
	return out
}

// HasFeature reports whether the disco#info answer q lists feature.
func HasFeature(q *xmltree.Element, feature string) bool {
	if !q.Is(NSInfo, "query") {
		return false
	}
	for _, f := range q.ChildrenNamed(NSInfo, "feature") {
		if f.Attr("var") == feature {
			return true
		}
	}
	return false
}

// FormValue returns the first value of field in the disco#info answer q's
// XEP-0128 extended information form whose FORM_TYPE is formType, and
// whether there is one.
func FormValue(q *xmltree.Element, formType, field string) (string, bool) {
	if !q.Is(NSInfo, "query") {
		return "", false
	}
	for _, x := range q.ChildrenNamed(nsData, "x") {
		var typ string
		var value *xmltree.Element
		for _, f := range x.ChildrenNamed(nsData, "field") {
			switch f.Attr("var") {
			case "FORM_TYPE":
				typ = f.ChildText(nsData, "value")
			case field:
				if value == nil {
					value = f
				}
			}
		}
		if typ != formType || value == nil {
			continue
		}
		if v := value.Child(nsData, "value"); v != nil {
			return v.Text, true
		}
	}
	return "", false
}
