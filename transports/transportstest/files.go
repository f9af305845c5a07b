package transportstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/switchboard-im/switchboard/transports"
)

// SentFiles is a message SendFiles took, with what each file's Open gave.
type SentFiles struct {
	Message transports.Message
	// Contents are the files' bytes, in order; Errs what opening or
	// reading each failed with (nil when it worked).
	Contents [][]byte
	Errs     []error
}

// SendFiles implements transports.FileSender: it reads every file through
// its Open, as a real network uploading it would, and records the message
// with the contents (Files). A file that cannot be read fails the send
// with its error, after the message was recorded. A room message is
// echoed as Send echoes it, with the network's copy of each file as an
// attachment (as a network hosting the files does), whose every Open
// EchoFileOpens counts.
func (a *Adapter) SendFiles(ctx context.Context, m transports.Message) (transports.RemoteID, error) {
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return "", transports.ErrNotConnected
	}
	rec := SentFiles{Message: m, Contents: make([][]byte, len(m.Files)), Errs: make([]error, len(m.Files))}
	var first error
	for i, f := range m.Files {
		rec.Contents[i], rec.Errs[i] = readFile(ctx, f)
		if rec.Errs[i] != nil && first == nil {
			first = fmt.Errorf("file %q: %w", f.Name, rec.Errs[i])
		}
	}
	select {
	case a.files <- rec:
	default:
	}
	if first != nil {
		return "", first
	}
	id := transports.RemoteID("f" + strconv.FormatInt(a.net.seq.Add(1), 10))
	if m.Room { // echoed like any room message, with the network's copies
		atts := make([]transports.Attachment, len(m.Files))
		for i, f := range m.Files {
			content := rec.Contents[i]
			atts[i] = transports.Attachment{Name: f.Name, Type: f.Type, Size: int64(len(content)),
				Open: func(context.Context) (io.ReadCloser, error) {
					a.net.echoOpens.Add(1)
					return io.NopCloser(bytes.NewReader(content)), nil
				}}
		}
		if err := a.sendRoom(m, id, atts...); err != nil {
			return "", err
		}
	}
	return id, nil
}

// EchoFileOpens counts the Opens of the files of SendFiles' echoes: a
// component that reuses the links the user sent opens none.
func (n *Network) EchoFileOpens() int64 { return n.echoOpens.Load() }

func readFile(ctx context.Context, f transports.File) ([]byte, error) {
	if f.Open == nil {
		return nil, fmt.Errorf("%w: no Open", transports.ErrUnavailable)
	}
	r, err := f.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Files returns what SendFiles took, in order.
func (a *Adapter) Files() <-chan SentFiles { return a.files }
