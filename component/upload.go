package component

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/switchboard-im/switchboard/transports"
)

// Files that come with legacy messages reach the user through their own
// server's HTTP upload service (XEP-0363): the component finds it with
// service discovery, asks it for a slot, PUTs the file and sends the link
// (XEP-0066). Without such a service, or when an upload fails, the message
// says which files did not arrive.

const nsUpload = "urn:xmpp:http:upload:0"

// iqs matches the results of IQs the component sent to their requests.
type iqs struct {
	mu      sync.Mutex
	waiting map[string]chan *node
}

// request sends an IQ get to to and waits for its result (or error).
func (c *Component) request(ctx context.Context, to string, payload any) (*node, error) {
	id := newID()
	ch := make(chan *node, 1)
	c.iq.mu.Lock()
	if c.iq.waiting == nil {
		c.iq.waiting = make(map[string]chan *node)
	}
	c.iq.waiting[id] = ch
	c.iq.mu.Unlock()
	defer func() {
		c.iq.mu.Lock()
		delete(c.iq.waiting, id)
		c.iq.mu.Unlock()
	}()
	if err := c.send(ctx, &outIQ{ID: id, Type: "get", From: c.domain.String(), To: to, Payload: payload}); err != nil {
		return nil, err
	}
	select {
	case n := <-ch:
		if n.Attr("type") == "error" {
			return nil, fmt.Errorf("%s answered with an error: %s", to, n.String())
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
}

type discoInfoQuery struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/disco#info query"`
}

type discoItemsQuery struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/disco#items query"`
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
	items, err := c.request(ctx, domain, &discoItemsQuery{})
	if err != nil {
		return svc, err
	}
	candidates := []string{domain}
	if q := items.Child(nsDiscoIt, "query"); q != nil {
		for _, it := range q.Children {
			if it.Name.Local == "item" && it.Attr("jid") != "" && it.Attr("jid") != c.domain.String() {
				candidates = append(candidates, it.Attr("jid"))
			}
		}
	}
	for _, cand := range candidates {
		info, err := c.request(ctx, cand, &discoInfoQuery{})
		if err != nil {
			continue
		}
		q := info.Child(nsDiscoInf, "query")
		if q == nil || !hasFeature(q, nsUpload) {
			continue
		}
		svc.jid = cand
		for _, x := range q.Children {
			if x.Name.Local != "x" || x.Name.Space != nsData {
				continue
			}
			for _, f := range x.Children {
				if f.Attr("var") == "max-file-size" {
					svc.maxSize, _ = strconv.ParseInt(f.ChildText(nsData, "value"), 10, 64)
				}
			}
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

func hasFeature(q *node, feature string) bool {
	for _, f := range q.Children {
		if f.Name.Local == "feature" && f.Attr("var") == feature {
			return true
		}
	}
	return false
}

type uploadRequest struct {
	XMLName     xml.Name `xml:"urn:xmpp:http:upload:0 request"`
	Filename    string   `xml:"filename,attr"`
	Size        int64    `xml:"size,attr"`
	ContentType string   `xml:"content-type,attr,omitempty"`
}

// upload stores a file on user's server and returns its download URL.
func (c *Component) upload(ctx context.Context, user jid.JID, a transports.Attachment) (string, error) {
	svc, err := c.uploadServiceOf(ctx, user.Domainpart())
	if err != nil {
		return "", err
	}
	if svc.jid == "" {
		return "", errors.New("your server has no HTTP upload service")
	}
	if svc.maxSize > 0 && int64(len(a.Data)) > svc.maxSize {
		return "", fmt.Errorf("larger than your server's upload limit (%d bytes)", svc.maxSize)
	}
	name := a.Name
	if name == "" {
		name = "attachment"
	}
	res, err := c.request(ctx, svc.jid, &uploadRequest{Filename: name, Size: int64(len(a.Data)), ContentType: a.Type})
	if err != nil {
		return "", err
	}
	slot := res.Child(nsUpload, "slot")
	if slot == nil {
		return "", errors.New("the upload service gave no slot")
	}
	put, get := slot.Child(nsUpload, "put"), slot.Child(nsUpload, "get")
	if put == nil || get == nil || put.Attr("url") == "" || get.Attr("url") == "" {
		return "", errors.New("the upload slot has no URLs")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, put.Attr("url"), bytes.NewReader(a.Data))
	if err != nil {
		return "", err
	}
	req.ContentLength = int64(len(a.Data))
	if a.Type != "" {
		req.Header.Set("Content-Type", a.Type)
	}
	for _, h := range put.Children {
		switch name := h.Attr("name"); name { // XEP-0363 §5: only these
		case "Authorization", "Cookie", "Expires":
			req.Header.Set(name, h.Text)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("the upload service answered %s", resp.Status)
	}
	return get.Attr("url"), nil
}

// oobElem is an out-of-band link (XEP-0066).
type oobElem struct {
	XMLName xml.Name `xml:"jabber:x:oob x"`
	URL     string   `xml:"url"`
	Desc    string   `xml:"desc,omitempty"`
}

// attach uploads a message's files and returns the text to append to its
// body and the OOB links; files that could not be uploaded are named in
// the text with the reason.
func (c *Component) attach(ctx context.Context, user jid.JID, atts []transports.Attachment) (string, []any) {
	if len(atts) == 0 {
		return "", nil
	}
	var text bytes.Buffer
	var oob []any
	for _, a := range atts {
		if a.Data == nil {
			fmt.Fprintf(&text, "\n[attachment not delivered: %s (%s, %d bytes): too large to fetch]", a.Name, a.Type, a.Size)
			continue
		}
		uctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		url, err := c.upload(uctx, user, a)
		cancel()
		if err != nil {
			c.log.Info("attachment not uploaded", "user", user.String(), "err", err)
			fmt.Fprintf(&text, "\n[attachment not delivered: %s (%s, %d bytes): %v]", a.Name, a.Type, a.Size, err)
			continue
		}
		fmt.Fprintf(&text, "\n%s", url)
		oob = append(oob, &oobElem{URL: url, Desc: a.Name})
	}
	return text.String(), oob
}
