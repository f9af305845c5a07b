package discovery

import (
	"slices"
	"testing"
)

func TestWithArchive(t *testing.T) {
	vars := func(d Info) []string {
		var out []string
		for _, f := range d.Features {
			out = append(out, f.Var)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   Info
		want []string
	}{
		{"room", Room("#go"), []string{NSInfo, "http://jabber.org/protocol/muc", "muc_open", "muc_public", "muc_semianonymous", "muc_unmoderated", "muc_unsecured", NSMAM, NSMAMExtended}},
		{"empty", Info{}, []string{NSMAM, NSMAMExtended}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.in.Features)
			got := WithArchive(tc.in)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(vars(got), want) {
				t.Errorf("features %v, want %v", vars(got), want)
			}
			if !slices.Equal(tc.in.Features, before) {
				t.Errorf("the input was changed: %v", tc.in.Features)
			}
			if got.Ver() == tc.in.Ver() {
				t.Error("the caps verification string did not change")
			}
		})
	}
}
