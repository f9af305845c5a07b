package contacts

import (
	"fmt"
	"testing"

	"github.com/switchboard-im/switchboard/transports"
)

// TestBook: entries are per user and contact, Get returns a copy,
// Forget drops one user's, and the book stays within MaxProfiles.
func TestBook(t *testing.T) {
	var b Book
	if _, ok := b.Get("rosa@example.org", "carol"); ok {
		t.Fatal("an empty book has an entry")
	}
	b.Update("rosa@example.org", "carol", func(p *Profile) { p.Name = "Carol" })
	b.Update("rosa@example.org", "dave", func(p *Profile) { p.Name = "Dave" })
	b.Update("paula@example.org", "carol", func(p *Profile) { p.Name = "Carol P" })
	b.Update("rosa@example.org", "carol", func(p *Profile) { p.About = "tea" })

	p, ok := b.Get("rosa@example.org", "carol")
	if !ok || p.Name != "Carol" || p.About != "tea" {
		t.Errorf("rosa's carol = %+v, %v", p, ok)
	}
	p.Name = "changed"
	if p, _ := b.Get("rosa@example.org", "carol"); p.Name != "Carol" {
		t.Error("Get returned the entry, not a copy")
	}
	if p, _ := b.Get("paula@example.org", "carol"); p.Name != "Carol P" {
		t.Errorf("paula's carol = %+v", p)
	}

	b.Forget("rosa@example.org")
	for _, id := range []transports.ID{"carol", "dave"} {
		if _, ok := b.Get("rosa@example.org", id); ok {
			t.Errorf("rosa's %s outlived Forget", id)
		}
	}
	if _, ok := b.Get("paula@example.org", "carol"); !ok {
		t.Error("Forget dropped another user's entry")
	}

	for i := range MaxProfiles + 5 {
		b.Update("many@example.org", transports.ID(fmt.Sprint(i)), func(*Profile) {})
	}
	if n := b.Len(); n != MaxProfiles {
		t.Errorf("%d entries, want the bound %d", n, MaxProfiles)
	}
}
