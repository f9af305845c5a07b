package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// Files of a group text are in Twilio's Media Content Service: the
// onMessageAdded webhook names them in Media, a JSON list of
// {"Sid": "ME…", "ContentType", "Filename", "Size"}, and ChatServiceSid
// (IS…) is the service they are kept in. Reading one is two requests:
//
//	GET {mcs}/v1/Services/{IS…}/Media/{ME…}  (basic auth Sid:AuthToken)
//	    → 200 {"sid", "size", "content_type", "filename",
//	           "links": {"content": "/v1/Services/…/Content",
//	                     "content_direct_temporary": "https://…"}}
//	GET the content_direct_temporary URL     (no credentials: a short-lived
//	    → 200 the file                        signed URL on Twilio's CDN)
//
// The files are delivered as attachments, as an MMS's are (the
// component uploads them within the same size caps, through the same
// egress policy); the temporary URL is followed only when it is https
// or under the service's own base, and never with the credentials.
var (
	mediaSIDRe   = regexp.MustCompile(`^ME[0-9a-f]{32}$`)
	chatService  = regexp.MustCompile(`^IS[0-9a-f]{32}$`)
	maxGroupFile = int64(1 << 40) // a sanity bound only: the component caps sizes
)

// groupMedia is one entry of onMessageAdded's Media.
type groupMedia struct {
	SID         string `json:"Sid"`
	ContentType string `json:"ContentType"`
	Filename    string `json:"Filename"`
	Size        int64  `json:"Size"`
}

// groupFiles turns the Media of an onMessageAdded into attachments read
// through tw, and returns the names of the files it could not (a
// malformed entry, no ChatServiceSid), for the text to mention.
func (n *Network) groupFiles(form url.Values, tw *twilioClient) ([]transports.Attachment, []string) {
	raw := form.Get("Media")
	if raw == "" {
		return nil, nil
	}
	var media []groupMedia
	if json.Unmarshal([]byte(raw), &media) != nil {
		return nil, []string{"a file"}
	}
	service := form.Get("ChatServiceSid")
	var atts []transports.Attachment
	var left []string
	for i, m := range media {
		name := providerText(m.Filename)
		typ := providerText(m.ContentType)
		if i >= maxMedia || !mediaSIDRe.MatchString(m.SID) || !chatService.MatchString(service) || m.Size <= 0 || m.Size > maxGroupFile {
			switch {
			case name != "":
			case typ != "":
				name = typ
			default:
				name = "a file"
			}
			left = append(left, name)
			continue
		}
		if name == "" || strings.ContainsAny(name, "/\\") {
			name = mediaName(m.SID, typ)
		}
		sid := m.SID
		atts = append(atts, transports.Attachment{Name: name, Type: typ, Size: m.Size,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return tw.openGroupMedia(ctx, service, sid) }})
	}
	return atts, left
}

// openGroupMedia reads file sid of Conversations service service: its
// Media resource, then the content at its temporary URL. It does I/O
// and blocks until ctx ends; errors wrap ErrUnavailable; nobody retries.
func (c *twilioClient) openGroupMedia(ctx context.Context, service, sid string) (io.ReadCloser, error) {
	u := c.mcs + "/v1/Services/" + url.PathEscape(service) + "/Media/" + url.PathEscape(sid)
	res, err := c.media(ctx, http.MethodGet, u)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: reading a group text's file: %w", transports.ErrUnavailable, err)
	}
	var m struct {
		Links struct {
			Direct string `json:"content_direct_temporary"`
		} `json:"links"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Links.Direct == "" {
		return nil, fmt.Errorf("%w: the provider gave no URL of a group text's file", transports.ErrUnavailable)
	}
	direct := m.Links.Direct
	if !strings.HasPrefix(direct, "https://") && !strings.HasPrefix(direct, c.mcs+"/") {
		// Not quoted: the URL is the provider's bytes.
		return nil, fmt.Errorf("%w: the provider named a group text's file at an address that is neither https nor its own", transports.ErrUnavailable)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, direct, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", transports.ErrUnavailable, err)
	}
	res, err = c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching a group text's file: %w", transports.ErrUnavailable, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("%w: fetching a group text's file: HTTP %d", transports.ErrUnavailable, res.StatusCode)
	}
	return res.Body, nil
}
