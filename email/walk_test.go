package email

import (
	"io"
	"os"
	"testing"
)

// testSpool is a spool in a directory of the test's own, which must be
// empty, with every file released, when the test ends.
func testSpool(t testing.TB) *spool {
	t.Helper()
	sp := newSpool(t.TempDir())
	t.Cleanup(func() {
		if n := sp.Live(); n != 0 {
			t.Errorf("%d spool files not released", n)
		}
		if entries, _ := os.ReadDir(sp.dir); len(entries) != 0 {
			t.Errorf("%d files left in the spool directory", len(entries))
		}
	})
	return sp
}

// content reads a's content: nil when it was not kept.
func content(t testing.TB, a *Attachment) []byte {
	t.Helper()
	if !a.Kept() {
		return nil
	}
	rc, err := a.Open()
	if err != nil {
		t.Fatalf("Open %q: %v", a.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", a.Name, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}
