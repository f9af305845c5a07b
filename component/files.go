package component

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/transports"
)

// Files both ways, streamed.
//
// From a legacy network: an Attachment's content comes from its Open or,
// for a file the network leaves on a web server (a CDN), from its URL,
// fetched with the upload clients (egress policy, https only, no
// redirect, timeouts) and read at most [security] max_attachment_bytes;
// either way it is streamed into the user's XEP-0363 slot (upload.go).
//
// From the user: a file shared with XEP-0066, XEP-0385 (SIMS) or XEP-0447
// (SFS) reaches a network that takes files (Capabilities.SendFiles) as a
// transports.File whose Open the component provides. The URL is the
// user's to choose, so Open reaches only the web servers of the user's
// own server, a domain the admin listed: its domain, its subdomains, the
// domain of its upload service, or an address the admin listed in
// [security] allow_private; with the same clients, and the same cap. A
// file elsewhere stays a link in the text, as it does for every network
// that takes no files.

// Namespaces of shared files.
const (
	nsReference = "urn:xmpp:reference:0"
	nsSIMS      = "urn:xmpp:sims:1"
	nsJingleFT5 = "urn:xmpp:jingle:apps:file-transfer:5"
	nsJingleFT4 = "urn:xmpp:jingle:apps:file-transfer:4" // still sent by some clients
	nsSFS       = "urn:xmpp:sfs:0"
	nsFileMeta  = "urn:xmpp:file:metadata:0"
	nsURLData   = "http://jabber.org/protocol/url-data"
)

var (
	errSizeDiffers = errors.New("its size differs from what the network announced")
	errSourceRead  = errors.New("the network did not hand over the file")
	errSizeUnknown = errors.New("its size is unknown")
	errFetch       = errors.New("the file could not be fetched")
)

// sharedFile is one file a stanza shares, with what its client declared.
type sharedFile struct {
	url, name, typ string
	size           int64
}

// sharedFiles reads the files a message shares: XEP-0447 file-sharing,
// XEP-0385 media-sharing and XEP-0066 out-of-band links, one entry per
// URL (a client sending several of them for one file declares it once),
// at most max.
func sharedFiles(msg *node, max int) []sharedFile {
	var out []sharedFile
	add := func(f sharedFile) {
		f.url = strings.TrimSpace(f.url)
		if f.url == "" {
			return
		}
		for i := range out {
			if out[i].url == f.url { // keep the first metadata, fill gaps
				if out[i].name == "" {
					out[i].name = f.name
				}
				if out[i].typ == "" {
					out[i].typ = f.typ
				}
				if out[i].size == 0 {
					out[i].size = f.size
				}
				return
			}
		}
		if len(out) < max {
			out = append(out, f)
		}
	}
	for _, fs := range msg.ChildrenNamed(nsSFS, "file-sharing") {
		meta := fileMeta(fs.Child(nsFileMeta, "file"))
		if src := fs.Child(nsSFS, "sources"); src != nil {
			for _, u := range src.ChildrenNamed(nsURLData, "url-data") {
				f := meta
				f.url = u.Attr("target")
				add(f)
			}
		}
	}
	for _, ref := range msg.ChildrenNamed(nsReference, "reference") {
		ms := ref.Child(nsSIMS, "media-sharing")
		if ms == nil {
			continue
		}
		fe := ms.Child(nsJingleFT5, "file")
		if fe == nil {
			fe = ms.Child(nsJingleFT4, "file")
		}
		meta := fileMeta(fe)
		if src := ms.Child(nsSIMS, "sources"); src != nil {
			for _, r := range src.ChildrenNamed(nsReference, "reference") {
				f := meta
				f.url = r.Attr("uri")
				add(f)
			}
		}
	}
	for _, x := range msg.ChildrenNamed(nsOOB, "x") {
		add(sharedFile{url: x.ChildText(nsOOB, "url")})
	}
	for i := range out {
		if out[i].name == "" {
			out[i].name = nameFromURL(out[i].url)
		}
	}
	return out
}

// fileMeta reads an XEP-0446 (or XEP-0234) file element; its children
// share its namespace.
func fileMeta(fe *node) sharedFile {
	if fe == nil {
		return sharedFile{}
	}
	ns := fe.Name.Space
	f := sharedFile{typ: strings.TrimSpace(fe.ChildText(ns, "media-type"))}
	if name := strings.TrimSpace(fe.ChildText(ns, "name")); name != "" {
		f.name = stanza.ShortName(name, 200)
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(fe.ChildText(ns, "size")), 10, 64); err == nil && n > 0 {
		f.size = n
	}
	if len(f.typ) > 255 || strings.ContainsAny(f.typ, "\r\n") {
		f.typ = ""
	}
	return f
}

// nameFromURL is the last path segment of a URL, unescaped, or "".
func nameFromURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." {
		return ""
	}
	return stanza.ShortName(name, 200)
}

// fetchable reports whether the component may fetch raw for user: an
// http(s) address on the web servers of user's own served domain (see
// the comment at the top of this file). It may ask the user's server for
// its upload service (cached).
func (c *Component) fetchable(ctx context.Context, user jid.JID, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return false
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return c.servedDomain(user.Domainpart()) && c.listedAddr(addr)
	}
	domain := strings.ToLower(user.Domainpart())
	if !c.servedDomain(domain) {
		return false
	}
	if host == domain || strings.HasSuffix(host, "."+domain) {
		return true
	}
	svc, err := c.uploadServiceOf(ctx, domain)
	if err != nil || svc.jid == "" {
		return false
	}
	up := strings.ToLower(svc.jid)
	return host == up || strings.HasSuffix(host, "."+up)
}

// listedAddr reports whether addr is one the admin listed in [security]
// allow_private.
func (c *Component) listedAddr(addr netip.Addr) bool {
	if c.cfg.Egress == nil {
		return false
	}
	for _, p := range c.cfg.Egress.AllowPrivate {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// filesFor turns the files user shared into transports.Files for a
// network that takes files, and returns the ones it may not fetch,
// which stay links in the text.
func (c *Component) filesFor(ctx context.Context, user jid.JID, shared []sharedFile) (files []transports.File, links []sharedFile) {
	for _, f := range shared {
		if !c.fetchable(ctx, user, f.url) {
			links = append(links, f)
			continue
		}
		raw := f.url
		files = append(files, transports.File{URL: raw, Name: f.name, Type: f.typ, Size: f.size,
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				rc, _, err := c.fetch(ctx, raw, c.maxAttachmentBytes())
				return rc, err
			}})
	}
	return files, links
}

// withoutLinks removes from body the lines that are only the URL of one
// of files: the fallback text clients write for a shared file.
func withoutLinks(body string, files []transports.File) string {
	lines := strings.Split(body, "\n")
	kept := lines[:0]
	for _, l := range lines {
		drop := false
		for _, f := range files {
			drop = drop || strings.TrimSpace(l) == f.URL
		}
		if !drop {
			kept = append(kept, l)
		}
	}
	return strings.TrimSpace(strings.Join(kept, "\n"))
}

// fetch GETs raw with the upload clients and returns the body, which
// yields at most max bytes (more is an error wrapping
// transports.ErrLimit), and the length the server announced (-1 when
// it announced none). Errors wrap transports sentinels and read as fixed
// phrases.
func (c *Component) fetch(ctx context.Context, raw string, max int64) (io.ReadCloser, int64, error) {
	u, client, err := c.clientFor(raw)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w: the address is not an https address the gateway may fetch", errFetch, transports.ErrPolicy)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w: the address is not valid", errFetch, transports.ErrUnavailable)
	}
	resp, err := client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, errUploadRedirect):
			return nil, 0, fmt.Errorf("%w: %w: its server redirected the request", errFetch, transports.ErrUnavailable)
		case errors.Is(err, egress.ErrForbidden):
			return nil, 0, fmt.Errorf("%w: %w: %s", errFetch, transports.ErrPolicy, egress.Reason(err))
		}
		return nil, 0, fmt.Errorf("%w: %w: %s", errFetch, transports.ErrUnavailable, egress.Reason(err))
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		c.log.Info("file fetch refused", "status", resp.StatusCode)
		return nil, 0, fmt.Errorf("%w: %w: its server refused it", errFetch, transports.ErrUnavailable)
	}
	if resp.ContentLength > max {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("%w: larger than this gateway's limit of %s", transports.ErrLimit, byteSize(max))
	}
	return &cappedBody{rc: resp.Body, left: max}, resp.ContentLength, nil
}

// openSource opens an attachment's content and says how long it is.
// Errors are fixed phrases for the user; what the network said is logged.
func (c *Component) openSource(ctx context.Context, a transports.Attachment) (io.ReadCloser, int64, error) {
	max := c.maxAttachmentBytes()
	if a.Open != nil {
		if a.Size < 0 {
			return nil, 0, errSizeUnknown
		}
		rc, err := a.Open(ctx)
		if err != nil {
			c.log.Info("attachment not opened", "err", err)
			return nil, 0, errSourceRead
		}
		return rc, a.Size, nil
	}
	rc, n, err := c.fetch(ctx, a.URL, max)
	if err != nil {
		if errors.Is(err, transports.ErrLimit) {
			return nil, 0, fmt.Errorf("larger than this gateway's limit of %s", byteSize(max))
		}
		c.log.Info("attachment not fetched", "err", err)
		return nil, 0, errFetch
	}
	size := n
	if size < 0 {
		size = a.Size
	}
	if size <= 0 && n < 0 {
		rc.Close()
		return nil, 0, errSizeUnknown
	}
	return rc, size, nil
}

// cappedBody reads at most left bytes of rc; more is an error wrapping
// transports.ErrLimit.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadAtLeast(b.rc, one[:], 1); n > 0 {
			return 0, fmt.Errorf("%w: the file is larger than this gateway's limit", transports.ErrLimit)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// sizedBody is an upload's body: exactly left bytes of r. A source that
// ends early or goes on is a failure (err, a fixed phrase), so the slot
// never gets a file other than the one announced.
type sizedBody struct {
	r    io.Reader
	left int64
	err  error
}

func (b *sizedBody) fail(err error) (int, error) {
	if b.err == nil {
		b.err = err
	}
	return 0, b.err
}

func (b *sizedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		var one [1]byte
		n, err := io.ReadAtLeast(b.r, one[:], 1)
		switch {
		case n > 0:
			return b.fail(errSizeDiffers)
		case err != nil && err != io.EOF:
			return b.fail(readFailure(err))
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.left > 0:
		_, err := b.fail(errSizeDiffers)
		return n, err
	case err != nil && err != io.EOF:
		_, err := b.fail(readFailure(err))
		return n, err
	}
	return n, nil
}

// readFailure is the phrase for a source that failed while read.
func readFailure(err error) error {
	if errors.Is(err, transports.ErrLimit) {
		return errors.New("larger than this gateway's limit")
	}
	return errSourceRead
}

// withLinks appends to body the URLs of shared files it does not
// contain yet, so that a file is never lost on its way: the text is what
// a network without files sends.
func withLinks(body string, hasBody bool, shared []sharedFile) (string, bool) {
	for _, f := range shared {
		if strings.Contains(body, f.url) {
			continue
		}
		if body != "" {
			body += "\n"
		}
		body, hasBody = body+f.url, true
	}
	return body, hasBody
}

// sendWithFiles sends msg, whose Body already carries the shared files'
// links: through FileSender.SendFiles with the files the component may
// fetch when the network takes files (their lone links then leave the
// text, and their links wait for the message's echo: echofiles.go), else
// through Send. It is lane work: it may block, bounded by a
// minute.
func (c *Component) sendWithFiles(ctx context.Context, user jid.JID, a transports.Adapter, msg transports.Message, shared []sharedFile) (transports.RemoteID, error) {
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	fs, ok := a.(transports.FileSender)
	if len(shared) == 0 || !ok || !c.netCaps().SendFiles {
		return a.Send(sctx, msg)
	}
	files, _ := c.filesFor(sctx, user, shared)
	if len(files) == 0 {
		return a.Send(sctx, msg)
	}
	msg.Files = files
	msg.Body = withoutLinks(msg.Body, files)
	// Before the send: the echo may come before SendFiles returns.
	c.sent.put(user.String(), msg.To, msg.ID, files, time.Now())
	return fs.SendFiles(sctx, msg)
}
