package discovery

import (
	"slices"
	"strings"

	"mellium.im/xmpp/disco/info"
)

// Message Archive Management (XEP-0313) features: the archive and its
// extensions (before-id, after-id and ids fields, flipped pages, archive
// metadata).
const (
	NSMAM         = "urn:xmpp:mam:2"
	NSMAMExtended = "urn:xmpp:mam:2#extended"
)

// WithArchive returns d with the MAM features added, for a room whose
// messages the gateway archives, or for the MUC service when it archives
// its rooms. Features are sorted.
func WithArchive(d Info) Info {
	d.Features = append(slices.Clip(d.Features), info.Feature{Var: NSMAM}, info.Feature{Var: NSMAMExtended})
	slices.SortFunc(d.Features, func(a, b info.Feature) int { return strings.Compare(a.Var, b.Var) })
	return d
}
