package transports

import (
	"context"
	"io"
)

// File is a file the XMPP user shares with a legacy contact or room: an
// XEP-0066 out-of-band link, an XEP-0385 (SIMS) or XEP-0447 (stateless
// file sharing) element, usually pointing at the user's own server's
// HTTP upload service (XEP-0363).
//
// The adapter never fetches URL itself: the address is the user's to
// choose, and the gateway reaches only its own users' upload services.
// The component hands it Open, backed by its own restricted HTTP client.
type File struct {
	// URL is where the user's server serves the file. Networks that take
	// a file as a link may send it as it is.
	URL string
	// Name is the file name the client declared (else the URL's last
	// path segment); Type its MIME type, "" when not declared.
	Name string
	Type string
	// Size is the size the client declared, 0 when unknown. It is a hint
	// only: Open's reader is what counts.
	Size int64
	// Open fetches the content. The reader yields at most the gateway's
	// [security] max_attachment_bytes: reading past them fails with an
	// error wrapping ErrLimit, and a file that announces more is refused
	// by Open itself. Open does network I/O and blocks until the server
	// answered or ctx ended; the reader is bound to ctx too. Errors wrap
	// ErrUnavailable (the server could not be reached or refused),
	// ErrLimit or ErrPolicy, and fail the Send they happened in: the
	// user is told, nobody retries. Each call fetches anew; the caller
	// must Close the reader.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// FileSender is implemented by adapters of networks that take files
// (Capabilities.SendFiles). SendFiles delivers msg, whose Files are not
// empty, as one message of the network where the network has such a
// thing (email: one mail with the files as MIME attachments), reading
// each file through its Open. Body may be empty: a file sent alone.
// Results, blocking and errors are as for Adapter.Send; an error from
// a file's Open is returned (wrapped), and the component reports it to
// the user, who may send again. The component calls SendFiles instead of
// Send for a message with files, only when the network claims
// SendFiles; otherwise the files' URLs travel in Body.
type FileSender interface {
	SendFiles(ctx context.Context, msg Message) (RemoteID, error)
}
