package discovery

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/internal/xmltree"
	"github.com/switchboard-im/switchboard/internal/xmltree/xmltreetest"
)

// listing is n rooms #r1…#rn on gw.example, in that order.
func listing(t *testing.T, n int) []items.Item {
	t.Helper()
	all := make([]items.Item, n)
	for i := range all {
		all[i] = items.Item{JID: jid.MustParse(fmt.Sprintf("#r%d@gw.example", i+1)), Name: fmt.Sprintf("#r%d (1)", i+1)}
	}
	return all
}

// TestPage: XEP-0059 requests on a listing of five rooms (and a query
// without a request on a listing longer than a page).
func TestPage(t *testing.T) {
	rsm := func(inner string) string { return `<set xmlns="http://jabber.org/protocol/rsm">` + inner + `</set>` }
	tests := []struct {
		name    string
		n       int    // rooms in the listing
		set     string // the request, "" for none
		unasked int
		// want is the page's rooms by number; count, first index and
		// whether a set is expected follow.
		want      []int
		wantSet   bool
		wantFirst int
		// errCond is the condition of the refusal, "" for none.
		errCond, errText string
	}{
		{name: "no request, short listing", n: 5, unasked: 10, want: []int{1, 2, 3, 4, 5}},
		{name: "no request, exactly a page", n: 5, unasked: 5, want: []int{1, 2, 3, 4, 5}},
		{name: "no request, long listing: first page and a set", n: 5, unasked: 2, want: []int{1, 2}, wantSet: true},
		{name: "no request, empty listing", n: 0, unasked: 2, want: nil},
		{name: "max", n: 5, set: rsm(`<max>2</max>`), unasked: 10, want: []int{1, 2}, wantSet: true},
		{name: "max beyond the listing", n: 5, set: rsm(`<max> 9 </max>`), unasked: 10, want: []int{1, 2, 3, 4, 5}, wantSet: true},
		{name: "max 0 asks for the count", n: 5, set: rsm(`<max>0</max>`), unasked: 10, want: nil, wantSet: true},
		{name: "empty set: a page, with a count", n: 5, set: rsm(``), unasked: 2, want: []int{1, 2}, wantSet: true},
		{name: "max beyond a page: a page (XEP-0059 §2.1)", n: 5, set: rsm(`<max>1000</max>`), unasked: 3, want: []int{1, 2, 3}, wantSet: true},
		{name: "before, no max: the page before", n: 5, set: rsm(`<before/>`), unasked: 2, want: []int{4, 5}, wantSet: true, wantFirst: 3},
		{name: "after", n: 5, set: rsm(`<max>2</max><after>#r2@gw.example</after>`), unasked: 10,
			want: []int{3, 4}, wantSet: true, wantFirst: 2},
		{name: "after, the rest", n: 5, set: rsm(`<after>#r3@gw.example</after>`), unasked: 10,
			want: []int{4, 5}, wantSet: true, wantFirst: 3},
		{name: "after the last item: an empty page", n: 5, set: rsm(`<max>2</max><after>#r5@gw.example</after>`), unasked: 10,
			want: nil, wantSet: true},
		{name: "before", n: 5, set: rsm(`<max>2</max><before>#r4@gw.example</before>`), unasked: 10,
			want: []int{2, 3}, wantSet: true, wantFirst: 1},
		{name: "before, more than there is", n: 5, set: rsm(`<max>9</max><before>#r2@gw.example</before>`), unasked: 10,
			want: []int{1}, wantSet: true},
		{name: "before, no max", n: 5, set: rsm(`<before>#r3@gw.example</before>`), unasked: 10,
			want: []int{1, 2}, wantSet: true},
		{name: "empty before: the last page", n: 5, set: rsm(`<max>2</max><before/>`), unasked: 10,
			want: []int{4, 5}, wantSet: true, wantFirst: 3},
		{name: "index", n: 5, set: rsm(`<max>1</max><index>3</index>`), unasked: 10, want: []int{4}, wantSet: true, wantFirst: 3},
		{name: "index beyond the listing", n: 5, set: rsm(`<max>1</max><index>7</index>`), unasked: 10, want: nil, wantSet: true},
		{name: "after wins over index", n: 5, set: rsm(`<max>1</max><after>#r1@gw.example</after><index>3</index>`), unasked: 10,
			want: []int{2}, wantSet: true, wantFirst: 1},
		{name: "max not a number", n: 5, set: rsm(`<max>two</max>`), unasked: 10,
			errCond: "bad-request", errText: "<max/> must be a number."},
		{name: "negative max", n: 5, set: rsm(`<max>-1</max>`), unasked: 10,
			errCond: "bad-request", errText: "<max/> must be a number."},
		{name: "index not a number", n: 5, set: rsm(`<index>x</index>`), unasked: 10,
			errCond: "bad-request", errText: "<index/> must be a number."},
		{name: "after a room that is gone", n: 5, set: rsm(`<after>#gone@gw.example</after>`), unasked: 10,
			errCond: "item-not-found", errText: `"#gone@gw.example" is not in the list (any more).`},
		{name: "before a room that is gone", n: 5, set: rsm(`<before>#gone@gw.example</before>`), unasked: 10,
			errCond: "item-not-found", errText: `"#gone@gw.example" is not in the list (any more).`},
		{name: "max in another namespace is no max", n: 5, set: rsm(`<max xmlns="urn:other">1</max>`), unasked: 10,
			want: []int{1, 2, 3, 4, 5}, wantSet: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := listing(t, tt.n)
			var set *xmltree.Element
			if tt.set != "" {
				set = xmltreetest.Parse(t, tt.set)
			}
			res, serr := Page(all, set, tt.unasked)
			if tt.errCond != "" {
				if serr == nil || serr.Condition != tt.errCond || serr.Text != tt.errText {
					t.Fatalf("Page = %v, %v; want %s %q", res, serr, tt.errCond, tt.errText)
				}
				return
			}
			if serr != nil {
				t.Fatalf("Page: %v", serr)
			}
			var got []int
			for _, it := range res.Items {
				var n int
				if _, err := fmt.Sscanf(it.JID.Localpart(), "#r%d", &n); err != nil {
					t.Fatalf("item %v: %v", it.JID, err)
				}
				got = append(got, n)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("page %v, want %v", got, tt.want)
			}
			if (res.Set != nil) != tt.wantSet {
				t.Fatalf("set %+v, want one: %v", res.Set, tt.wantSet)
			}
			if res.Set == nil {
				return
			}
			if res.Set.Count != tt.n {
				t.Errorf("count %d, want %d", res.Set.Count, tt.n)
			}
			if len(tt.want) == 0 {
				if res.Set.First != nil || res.Set.Last != "" {
					t.Errorf("empty page with first %+v, last %q", res.Set.First, res.Set.Last)
				}
				return
			}
			first := fmt.Sprintf("#r%d@gw.example", tt.want[0])
			last := fmt.Sprintf("#r%d@gw.example", tt.want[len(tt.want)-1])
			if res.Set.First == nil || res.Set.First.Key != first || res.Set.First.Index != tt.wantFirst || res.Set.Last != last {
				t.Errorf("set first %+v, last %q; want %s at %d, %s", res.Set.First, res.Set.Last, first, tt.wantFirst, last)
			}
			if !strings.HasPrefix(res.Items[0].Name, "#r") {
				t.Errorf("item name %q lost", res.Items[0].Name)
			}
		})
	}
}
