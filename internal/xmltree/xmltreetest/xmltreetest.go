// Package xmltreetest reads XML in tests the way the gateway reads
// stanzas, so that tests match elements by namespace and local name
// rather than by text.
package xmltreetest

import (
	"encoding/xml"
	"testing"

	"github.com/switchboard-im/switchboard/internal/xmltree"
)

// Parse reads the first element of s, failing the test when s is not
// XML.
func Parse(t testing.TB, s string) *xmltree.Element {
	t.Helper()
	el, err := xmltree.Parse(s)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return el
}

// Marshal writes v as XML (encoding/xml) and reads it back as a tree.
func Marshal(t testing.TB, v any) *xmltree.Element {
	t.Helper()
	b, err := xml.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return Parse(t, string(b))
}
