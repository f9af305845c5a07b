package component

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/component/discovery"
	"github.com/switchboard-im/switchboard/component/stanza"
	"github.com/switchboard-im/switchboard/egress"
	"github.com/switchboard-im/switchboard/transports"
)

// Files that come with legacy messages reach the user through their own
// server's HTTP upload service (XEP-0363): the component finds it with
// service discovery, asks it for a slot, PUTs the file and sends the link
// (XEP-0066). Without such a service, or when an upload fails, the message
// says which files did not arrive.
//
// The slot's URL is untrusted input: whoever runs the user's server, or
// sits between it and the gateway, names the host the gateway then
// connects to with a body a legacy sender chose. So:
//   - uploads go only to the servers of domains listed in allowed_domains
//     (never to a domain served only through "*");
//   - the client is a dedicated one: timeouts on every phase, no proxy
//     from the environment, no redirect followed (a 3xx is a failure);
//   - https only, dialled through the egress policy, so loopback, private
//     and link-local addresses are refused at dial time (an address in
//     [security] allow_private is dialled);
//   - plain http only to an address the admin listed in [security]
//     allow_private: their own server on their own network, such as a
//     Prosody whose http_external_url has no TLS. Nothing else, public
//     addresses included, is reached without TLS;
//   - only the slot headers XEP-0363 allows (Authorization, Cookie,
//     Expires) are sent;
//   - what went wrong reaches the user as a fixed phrase, never the
//     server's status line or body.

const nsUpload = "urn:xmpp:http:upload:0"

// iqs matches the results of IQs the component sent to their requests.
type iqs struct {
	mu      sync.Mutex
	waiting map[string]chan *node
}

// expect registers a wait for the answer to the IQ with id; release
// forgets it, whether it came or not.
func (q *iqs) expect(id string) (answer <-chan *node, release func()) {
	ch := make(chan *node, 1)
	q.mu.Lock()
	if q.waiting == nil {
		q.waiting = make(map[string]chan *node)
	}
	q.waiting[id] = ch
	q.mu.Unlock()
	return ch, func() {
		q.mu.Lock()
		delete(q.waiting, id)
		q.mu.Unlock()
	}
}

// request sends an IQ get to to and waits for its result (or error).
func (c *Component) request(ctx context.Context, to string, payload any) (*node, error) {
	return c.iqRequest(ctx, "get", to, payload)
}

// iqRequest sends an IQ of type typ (get or set) to to and waits for its
// result (or error).
func (c *Component) iqRequest(ctx context.Context, typ, to string, payload any) (*node, error) {
	id := newID()
	ch, release := c.iq.expect(id)
	defer release()
	if err := c.send(ctx, &stanza.IQ{ID: id, Type: typ, From: c.domain.String(), To: to, Payload: payload}); err != nil {
		return nil, err
	}
	select {
	case n := <-ch:
		if n.Attr("type") == "error" {
			// The error's text stays out: it goes into messages to users.
			return nil, fmt.Errorf("%s answered with an error", to)
		}
		return n, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s did not answer: %w", to, ctx.Err())
	}
}

// iqResult hands an IQ result or error to the request waiting for it; it
// reports whether one was.
func (c *Component) iqResult(n *node) bool {
	c.iq.mu.Lock()
	ch := c.iq.waiting[n.Attr("id")]
	c.iq.mu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case ch <- n:
	default:
	}
	return true
}

// uploadService is a server's XEP-0363 service.
type uploadService struct {
	jid     string // "" when the server has none
	maxSize int64  // 0: no limit announced
	checked time.Time
}

type uploadServices struct {
	mu sync.Mutex
	m  map[string]uploadService // by server domain

	clientsOnce   sync.Once
	secure, plain *http.Client // see uploadClients
	// rootCAs replaces the system roots for the https client (tests).
	rootCAs *x509.CertPool
}

// uploadServiceOf finds the upload service of domain, remembering the
// answer for ten minutes.
func (c *Component) uploadServiceOf(ctx context.Context, domain string) (uploadService, error) {
	c.uploads.mu.Lock()
	svc, ok := c.uploads.m[domain]
	c.uploads.mu.Unlock()
	if ok && time.Since(svc.checked) < 10*time.Minute {
		return svc, nil
	}
	svc = uploadService{checked: time.Now()}
	items, err := c.request(ctx, domain, &disco.ItemsQuery{})
	if err != nil {
		return svc, err
	}
	candidates := []string{domain}
	for _, j := range discovery.ItemJIDs(items.Child(nsDiscoIt, "query")) {
		if j != c.domain.String() {
			candidates = append(candidates, j)
		}
	}
	for _, cand := range candidates {
		info, err := c.request(ctx, cand, &disco.InfoQuery{})
		if err != nil {
			continue
		}
		q := info.Child(nsDiscoInf, "query")
		if !discovery.HasFeature(q, nsUpload) {
			continue
		}
		svc.jid = cand
		if v, ok := discovery.FormValue(q, nsUpload, "max-file-size"); ok {
			svc.maxSize, _ = strconv.ParseInt(v, 10, 64)
		}
		break
	}
	c.uploads.mu.Lock()
	if c.uploads.m == nil {
		c.uploads.m = make(map[string]uploadService)
	}
	c.uploads.m[domain] = svc
	c.uploads.mu.Unlock()
	return svc, nil
}

// Timeouts of the upload client.
const (
	uploadDialTimeout   = 10 * time.Second
	uploadTLSTimeout    = 10 * time.Second
	uploadHeaderTimeout = 30 * time.Second
	// uploadFileTimeout bounds one file: slot request and PUT.
	uploadFileTimeout = 2 * time.Minute
	// uploadBudget bounds all the uploads of one message; files not
	// done by then are named as not delivered.
	uploadBudget = 3 * time.Minute
	// uploadParallel is how many files of one message are uploaded at
	// once.
	uploadParallel = 3
)

var (
	errUploadScheme   = errors.New("the upload slot is not an https address")
	errUploadRedirect = errors.New("the upload service redirected the upload")
	errUploadRefused  = errors.New("the upload service refused the file")
	errNotServed      = errors.New("uploads go only to the servers this gateway serves")
)

// uploadClients returns the client for https slots and the one for plain
// http slots (admin-listed addresses only); see the comment at the top
// of this file.
func (c *Component) uploadClients() (secure, plain *http.Client) {
	c.uploads.clientsOnce.Do(func() {
		c.uploads.secure = newUploadClient(c.cfg.Egress.Control, c.uploads.rootCAs)
		c.uploads.plain = newUploadClient(listedOnly(c.cfg.Egress), nil)
	})
	return c.uploads.secure, c.uploads.plain
}

// newUploadClient builds an HTTP client whose every connection is checked
// by control on the address really dialled.
func newUploadClient(control func(network, address string, _ syscall.RawConn) error, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: uploadDialTimeout, Control: control}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil, // never from the environment
			DialContext:            d.DialContext,
			TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    uploadTLSTimeout,
			ResponseHeaderTimeout:  uploadHeaderTimeout,
			ExpectContinueTimeout:  time.Second,
			MaxIdleConns:           4,
			IdleConnTimeout:        30 * time.Second,
			MaxResponseHeaderBytes: 16 << 10,
			ForceAttemptHTTP2:      true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errUploadRedirect },
		Timeout:       uploadFileTimeout,
	}
}

// listedOnly is a dial check that lets through only addresses the admin
// listed in the policy's AllowPrivate, public ones included: the plain
// http client reaches nothing else.
func listedOnly(p *egress.Policy) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err == nil && p != nil {
			for _, pre := range p.AllowPrivate {
				if pre.Contains(ap.Addr().Unmap()) {
					return nil
				}
			}
		}
		return fmt.Errorf("plain http to %s: %w", network, egress.ErrForbidden)
	}
}

// servedDomain reports whether domain is one the admin listed in
// allowed_domains (or the default one), as opposed to one let in by "*".
func (c *Component) servedDomain(domain string) bool {
	return c.allowed[strings.ToLower(domain)]
}

type uploadRequest struct {
	XMLName     xml.Name `xml:"urn:xmpp:http:upload:0 request"`
	Filename    string   `xml:"filename,attr"`
	Size        int64    `xml:"size,attr"`
	ContentType string   `xml:"content-type,attr,omitempty"`
}

// uploadSlot is an XEP-0363 slot: where to PUT, with which headers, and
// where the file is then found.
type uploadSlot struct {
	put, get string
	headers  map[string]string
}

// parseSlot reads an XEP-0363 slot, keeping only the headers §5 allows.
func parseSlot(res *node) (uploadSlot, error) {
	slot := res.Child(nsUpload, "slot")
	if slot == nil {
		return uploadSlot{}, errors.New("the upload service gave no slot")
	}
	put, get := slot.Child(nsUpload, "put"), slot.Child(nsUpload, "get")
	if put == nil || get == nil || put.Attr("url") == "" || get.Attr("url") == "" {
		return uploadSlot{}, errors.New("the upload slot has no URLs")
	}
	s := uploadSlot{put: put.Attr("url"), get: get.Attr("url"), headers: make(map[string]string)}
	for _, h := range put.Children {
		if h.Name.Space != nsUpload || h.Name.Local != "header" {
			continue
		}
		switch name := h.Attr("name"); name { // XEP-0363 §5: only these
		case "Authorization", "Cookie", "Expires":
			s.headers[name] = strings.TrimSpace(h.Text)
		}
	}
	if u, err := url.Parse(s.get); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return uploadSlot{}, errors.New("the upload slot's download address is not a web address")
	}
	return s, nil
}

// upload streams a file to user's server and returns its download URL.
// The content comes from the attachment's Open or URL (see openSource)
// and never sits in memory whole.
func (c *Component) upload(ctx context.Context, user jid.JID, a transports.Attachment) (string, error) {
	if !c.servedDomain(user.Domainpart()) {
		return "", errNotServed
	}
	svc, err := c.uploadServiceOf(ctx, user.Domainpart())
	if err != nil {
		return "", errors.New("your server's upload service could not be found")
	}
	if svc.jid == "" {
		return "", errors.New("your server has no HTTP upload service")
	}
	if svc.maxSize > 0 && a.Size > svc.maxSize {
		return "", fmt.Errorf("larger than your server's upload limit (%d bytes)", svc.maxSize)
	}
	src, size, err := c.openSource(ctx, a)
	if err != nil {
		return "", err
	}
	defer src.Close()
	if svc.maxSize > 0 && size > svc.maxSize {
		return "", fmt.Errorf("larger than your server's upload limit (%d bytes)", svc.maxSize)
	}
	name := a.Name
	if name == "" {
		name = "attachment"
	}
	res, err := c.request(ctx, svc.jid, &uploadRequest{Filename: name, Size: size, ContentType: a.Type})
	if err != nil {
		return "", errors.New("your server's upload service gave no slot")
	}
	slot, err := parseSlot(res)
	if err != nil {
		return "", err
	}
	if err := c.put(ctx, slot, a.Type, src, size); err != nil {
		return "", err
	}
	return slot.get, nil
}

// put streams size bytes of body to the slot with the upload client its
// scheme allows. Its errors are fit for the user: fixed phrases only.
func (c *Component) put(ctx context.Context, slot uploadSlot, typ string, body io.Reader, size int64) error {
	u, client, err := c.clientFor(slot.put)
	if err != nil {
		return err
	}
	sb := &sizedBody{r: body, left: size}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), sb)
	if err != nil {
		return errors.New("the upload slot's address is not valid")
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	if typ != "" {
		req.Header.Set("Content-Type", typ)
	}
	for k, v := range slot.headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		switch {
		case sb.err != nil:
			return sb.err
		case errors.Is(err, errUploadRedirect):
			return errUploadRedirect
		case errors.Is(err, egress.ErrForbidden) && u.Scheme == "http":
			return errors.New("the upload slot is not an https address, and plain http goes only to addresses the admin allowed")
		}
		return errors.New("upload failed: " + egress.Reason(err))
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 3 {
		// A streamed body cannot be sent again, so the client hands
		// back a 307 or 308 rather than asking CheckRedirect.
		return errUploadRedirect
	}
	if resp.StatusCode/100 != 2 {
		c.log.Info("upload refused", "status", resp.StatusCode)
		return errUploadRefused
	}
	return nil
}

// clientFor parses an upload or download address and picks the client
// its scheme allows (see uploadClients). Its errors are fixed phrases.
func (c *Component) clientFor(raw string) (*url.URL, *http.Client, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, nil, errors.New("the upload slot's address is not valid")
	}
	secure, plain := c.uploadClients()
	switch u.Scheme {
	case "https":
		return u, secure, nil
	case "http":
		return u, plain, nil
	}
	return nil, nil, errUploadScheme
}

// maxAttachments and maxAttachmentBytes are the configured limits or
// their defaults.
func (c *Component) maxAttachments() int {
	if c.cfg.MaxAttachments > 0 {
		return c.cfg.MaxAttachments
	}
	return 10
}

func (c *Component) maxAttachmentBytes() int64 {
	if c.cfg.MaxAttachmentBytes > 0 {
		return c.cfg.MaxAttachmentBytes
	}
	return 25 << 20
}

// attach uploads a message's files and returns the text to append to its
// body and the uploaded files, each with its download URL. At most maxAttachments files are handled, up to
// uploadParallel at once and all within uploadBudget; each of them is
// either linked or named with the reason it did not arrive, and the files
// beyond are named in one short line. Nothing is left out silently.
func (c *Component) attach(ctx context.Context, user jid.JID, atts []transports.Attachment) (string, []transports.Attachment) {
	if len(atts) == 0 {
		return "", nil
	}
	handled, rest := atts, []transports.Attachment(nil)
	if max := c.maxAttachments(); len(atts) > max {
		handled, rest = atts[:max], atts[max:]
	}
	type result struct {
		url string
		err error
	}
	results := make([]result, len(handled))
	bctx, cancel := context.WithTimeout(ctx, uploadBudget)
	defer cancel()
	sem := make(chan struct{}, uploadParallel)
	var wg sync.WaitGroup
	for i, a := range handled {
		switch {
		case a.Open == nil && a.URL == "":
			results[i].err = errors.New("too large to fetch")
			continue
		case a.Size > c.maxAttachmentBytes():
			results[i].err = fmt.Errorf("larger than this gateway's limit of %s", byteSize(c.maxAttachmentBytes()))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					c.log.Error("panic uploading an attachment", "panic", r, "stack", string(debug.Stack()))
					results[i].err = errors.New("internal error")
				}
			}()
			select {
			case sem <- struct{}{}:
			case <-bctx.Done():
				results[i].err = errors.New("no time left to upload it")
				return
			}
			defer func() { <-sem }()
			fctx, cancel := context.WithTimeout(bctx, uploadFileTimeout)
			defer cancel()
			url, err := c.upload(fctx, user, a)
			if err != nil && bctx.Err() != nil {
				err = errors.New("no time left to upload it")
			}
			results[i] = result{url: url, err: err}
		}()
	}
	wg.Wait()
	var text bytes.Buffer
	var links []transports.Attachment
	for i, a := range handled {
		r := results[i]
		if r.err != nil {
			c.log.Info("attachment not uploaded", "user", user.String(), "err", r.err)
			fmt.Fprintf(&text, "\n[attachment not delivered: %s (%d bytes): %v]", stanza.ShortName(a.Name, 80), a.Size, r.err)
			continue
		}
		fmt.Fprintf(&text, "\n%s", r.url)
		links = append(links, transports.Attachment{Name: a.Name, Type: a.Type, Size: a.Size, URL: r.url})
	}
	if len(rest) > 0 {
		text.WriteString("\n" + restLine(rest, len(handled)))
	}
	return text.String(), links
}

// restLine names the files beyond the limit in one line of bounded
// length: "3 more files not uploaded (at most 10 per message): a.pdf, …".
func restLine(rest []transports.Attachment, max int) string {
	const maxLine = 400
	var b strings.Builder
	fmt.Fprintf(&b, "[%d more %s not uploaded (at most %d per message): ", len(rest), plural(len(rest), "file", "files"), max)
	for i, a := range rest {
		name := stanza.ShortName(a.Name, 40)
		if i > 0 {
			if b.Len()+len(name)+2 > maxLine {
				b.WriteString(", …")
				break
			}
			b.WriteString(", ")
		}
		b.WriteString(name)
	}
	b.WriteString("]")
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// byteSize writes n bytes for people: "25 MiB", "512 KiB", "100 bytes".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
