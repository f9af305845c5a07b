// The spool: temporary files that hold the attachments of incoming mail
// between the fetch that decodes them and the upload that reads them.

package email

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchboard-im/switchboard/transports"
)

// spoolPrefix starts the name of every spool file.
const spoolPrefix = "switchboard-mail-"

// spool makes the temporary files of attachments in one directory.
//
// A file is unlinked as soon as it is created (where the system allows
// it, as on Linux and the BSDs): only its open descriptor holds it, so
// the kernel frees it when the descriptor is closed — by the reader's
// Close, the end of the content, Incoming.Close, a failed read, or the
// process's end, even a crash. Where a file cannot be unlinked while
// open, it keeps its name until it is released. What a crash left there
// under that name is removed by sweep, at start.
type spool struct {
	dir  string
	live atomic.Int64 // files not yet released
}

// newSpool returns the spool of dir; "" means os.TempDir(). It does no
// I/O.
func newSpool(dir string) *spool {
	if dir == "" {
		dir = os.TempDir()
	}
	return &spool{dir: dir}
}

// Live is how many spool files are not released yet.
func (s *spool) Live() int64 { return s.live.Load() }

// sweep removes the spool files a previous run left in the directory
// and returns how many. Removing one that another process is using is
// harmless: that process holds it open (and has unlinked it already
// where the system allows).
func (s *spool) sweep() (int, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), spoolPrefix) {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}

// create makes a new spool file, unlinked where the system allows.
func (s *spool) create() (*spoolFile, error) {
	f, err := os.CreateTemp(s.dir, spoolPrefix+"*")
	if err != nil {
		return nil, err
	}
	sf := &spoolFile{s: s, f: f}
	if err := os.Remove(f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		sf.name = f.Name()
	}
	s.live.Add(1)
	return sf, nil
}

// spoolFile is one attachment's content on disk.
type spoolFile struct {
	s    *spool
	f    *os.File
	name string // still to remove on release; "" when unlinked
	size int64

	once sync.Once
	gone atomic.Bool
}

// release closes the file (which frees it) and removes its name if it
// still has one. It may be called more than once, from any goroutine.
func (f *spoolFile) release() {
	f.once.Do(func() {
		f.gone.Store(true)
		f.f.Close()
		if f.name != "" {
			os.Remove(f.name)
		}
		f.s.live.Add(-1)
	})
}

// open returns a reader of the content from its start, which releases
// the file when it is closed or read to its end.
func (f *spoolFile) open() (io.ReadCloser, error) {
	if f.gone.Load() {
		return nil, fmt.Errorf("%w: the attachment was read already", transports.ErrUnavailable)
	}
	return &spoolReader{r: io.NewSectionReader(f.f, 0, f.size), f: f}, nil
}

// spoolReader reads a spool file once.
type spoolReader struct {
	r *io.SectionReader
	f *spoolFile
}

func (r *spoolReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		r.f.release()
	}
	return n, err
}

func (r *spoolReader) Close() error {
	r.f.release()
	return nil
}
