package muc

import (
	"strings"
	"testing"
)

// TestMadeID: the stanza-ids a service makes are known again by a
// service with the same key (after a restart), and by none other; no
// legacy ID, however it looks, passes for one.
func TestMadeID(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := NewService(&fakeCore{}, IDKey(key))
	made := s.madeID()
	again := NewService(&fakeCore{}, IDKey(key)).madeID()
	part, mac, _ := strings.Cut(made, ".")
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"made here", made, true},
		{"made by another service with the key", again, true},
		{"empty", "", false},
		{"a legacy ID", "b1", false},
		{"an unsigned random ID (before IDs were signed)", newID(), false},
		{"a legacy ID of the same shape", part + ".0123456789abcdef", false},
		{"the MAC of another part", newID() + "." + mac, false},
		{"a truncated MAC", part + "." + mac[:14], false},
		{"not hex", part + "." + strings.Repeat("z", 16), false},
		{"made with another key", NewService(&fakeCore{}, IDKey([]byte("other"))).madeID(), false},
		{"made without a key (random)", NewService(&fakeCore{}).madeID(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.MadeID(tt.id); got != tt.want {
				t.Errorf("MadeID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
	if made == again {
		t.Errorf("two made IDs are the same: %q", made)
	}
}
