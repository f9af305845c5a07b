package email

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/switchboard-im/switchboard/transports"
)

// Files both ways, as real MIME attachments. A mail's attachments reach
// the user through the component (which uploads them to the user's
// server); nothing a mail merely links to, such as a remote image in
// HTML, is ever fetched. Files the user shares are fetched through the
// component's File.Open, never by this package, and sent as
// attachment parts of one mail, streamed into the SMTP submission.

var _ transports.FileSender = (*adapter)(nil)

// SendFiles implements transports.FileSender: one mail with msg's text
// and its files as attachment parts. Every file is opened before the
// submission server is dialled, so a file that cannot be fetched fails
// the send before anything was submitted; one that fails while it is
// read aborts the submission (the server never gets the end of the data,
// so it delivers nothing).
func (a *adapter) SendFiles(ctx context.Context, msg transports.Message) (_ transports.RemoteID, err error) {
	defer a.n.recovered(&err, "sending")
	return a.send(ctx, msg)
}

// attachment is what the component gets of a mail's attachment: a
// reader of its spool file (exact size; the component reads it once,
// before Deliver returns, and its Close releases the file), or nothing
// when parse did not keep it (too large, or beyond
// Limits.MaxAttachments), and the user is told.
func attachment(at Attachment) transports.Attachment {
	ta := transports.Attachment{Name: at.Name, Type: at.ContentType, Size: at.Size}
	if at.Kept() {
		ta.Open = func(context.Context) (io.ReadCloser, error) { return at.Open() }
	}
	return ta
}

// openedFiles are the files of a message being sent, opened.
type openedFiles struct {
	atts    []OutAttachment
	closers []io.Closer
}

func (f *openedFiles) close() {
	for _, c := range f.closers {
		c.Close()
	}
}

// openFiles opens every file; the first that fails is the error, and
// what was opened is in the result for close.
func openFiles(ctx context.Context, files []transports.File) (*openedFiles, error) {
	out := &openedFiles{}
	for _, f := range files {
		if f.Open == nil {
			return out, fmt.Errorf("%w: the file %q cannot be fetched", transports.ErrUnavailable, f.Name)
		}
		rc, err := f.Open(ctx)
		if err != nil {
			return out, fmt.Errorf("the file %q: %w", f.Name, err)
		}
		out.closers = append(out.closers, rc)
		out.atts = append(out.atts, OutAttachment{Name: f.Name, Type: f.Type, Content: rc})
	}
	return out, nil
}

// submit sends m to rcpt over c, streaming it: a goroutine writes the
// mail (reading the attachments) into a pipe that the SMTP client reads.
// The goroutine ends before submit returns. A file that failed while it
// was read is the error, rather than what the SMTP client made of the
// aborted data.
func (a *adapter) submit(ctx context.Context, c *smtpConn, rcpt string, m *Mail) error {
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if r := recover(); r != nil {
				writeErr = fmt.Errorf("%w: composing the mail failed", transports.ErrUnavailable)
				pw.CloseWithError(writeErr)
			}
		}()
		_, writeErr = m.WriteTo(pw)
		pw.CloseWithError(writeErr) // nil: EOF
	}()
	err := c.SendMail(a.login.address.Address, []string{rcpt}, pr)
	pr.CloseWithError(errAborted) // unblocks the writer if the server stopped reading
	wg.Wait()
	switch {
	case writeErr != nil && !errors.Is(writeErr, errAborted):
		if errors.Is(writeErr, transports.ErrLimit) || errors.Is(writeErr, transports.ErrUnavailable) || errors.Is(writeErr, transports.ErrPolicy) {
			return writeErr
		}
		return fmt.Errorf("%w: %w", transports.ErrUnavailable, writeErr)
	case err != nil:
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return smtpError(a.login.smtp, "sending", err)
	}
	return nil
}

// errAborted ends the writing of a mail the SMTP client no longer reads.
var errAborted = errors.New("email: submission ended")

// filesSubject is the subject of a mail that carries only files: the
// first file's name, and how many more there are.
func filesSubject(files []transports.File) string {
	name := cleanLine(files[0].Name)
	if name == "" {
		name = "A file"
	}
	if n := len(files) - 1; n > 0 {
		return fmt.Sprintf("%s and %d more %s", name, n, map[bool]string{true: "file", false: "files"}[n == 1])
	}
	return name
}
