// Package bolttest gives a test a bbolt store in its temporary directory
// that it can close and open again, to check what survives a restart.
package bolttest

import (
	"path/filepath"
	"testing"

	"github.com/switchboard-im/switchboard/storage/bolt"
)

// File is a bbolt file in a test's temporary directory. Its store is
// closed when the test ends.
type File struct {
	t    testing.TB
	path string
	st   *bolt.Store
}

// New opens a new bbolt file in t's temporary directory.
func New(t testing.TB) *File {
	t.Helper()
	f := &File{t: t, path: filepath.Join(t.TempDir(), "switchboard.db")}
	f.open()
	t.Cleanup(func() { f.st.Close() })
	return f
}

// Store returns the open store.
func (f *File) Store() *bolt.Store { return f.st }

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Reopen closes the store and opens the file again, as a restart does,
// and returns the new store.
func (f *File) Reopen() *bolt.Store {
	f.t.Helper()
	if err := f.st.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
	return f.st
}

func (f *File) open() {
	f.t.Helper()
	st, err := bolt.Open(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.st = st
}
