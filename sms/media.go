package sms

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// An MMS's media arrive as URLs on the provider's API
// ({api}/2010-04-01/Accounts/{Sid}/Messages/{MM…}/Media/{ME…}), readable
// with the account's credentials (Twilio answers with the content, or
// redirects to its CDN, where the credentials are not sent). The network
// fetches only URLs under the configured api_url, so a webhook cannot
// make it fetch anything else; other URLs reach the user as links.

// media turns an inbound MMS's media into attachments, reading each
// one's size with a HEAD request (the upload slot needs it), and
// returns the URLs it left as links. sid and token are the account's.
func (n *Network) media(ctx context.Context, form url.Values, sid, token string) ([]transports.Attachment, []string) {
	k, _ := strconv.Atoi(form.Get("NumMedia"))
	var atts []transports.Attachment
	var links []string
	tw := n.twilioFor(sid, token)
	for i := range min(k, maxMedia) {
		u := form.Get("MediaUrl" + strconv.Itoa(i))
		if u == "" {
			continue
		}
		if !strings.HasPrefix(u, tw.api+"/") {
			if strings.HasPrefix(u, "https://") {
				links = append(links, u)
			}
			continue
		}
		size, err := tw.mediaSize(ctx, u)
		if err != nil {
			n.log.Info("an MMS's file could not be sized; it goes as a link", "err", err)
			links = append(links, u)
			continue
		}
		typ := form.Get("MediaContentType" + strconv.Itoa(i))
		atts = append(atts, transports.Attachment{
			Name: mediaName(u, typ), Type: typ, Size: size,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return tw.openMedia(ctx, u) },
		})
	}
	return atts, links
}

// mediaName is a file name for a media URL of type typ ("ME….jpg").
func mediaName(u, typ string) string {
	name := path.Base(u)
	if path.Ext(name) != "" {
		return name
	}
	if ext, ok := commonExt[typ]; ok {
		return name + ext
	}
	if exts, _ := mime.ExtensionsByType(typ); len(exts) > 0 {
		name += exts[0]
	}
	return name
}

// commonExt are the extensions of the usual MMS types (mime's list
// starts with rarer ones: ".jfif" for JPEG).
var commonExt = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
	"video/mp4": ".mp4", "audio/mpeg": ".mp3", "text/vcard": ".vcf",
}

// mediaSize asks the provider how large a media file is.
func (c *twilioClient) mediaSize(ctx context.Context, u string) (int64, error) {
	res, err := c.media(ctx, http.MethodHead, u)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	if res.ContentLength < 0 {
		return 0, fmt.Errorf("%w: the provider did not say the file's size", transports.ErrUnavailable)
	}
	return res.ContentLength, nil
}

// openMedia fetches a media file.
func (c *twilioClient) openMedia(ctx context.Context, u string) (io.ReadCloser, error) {
	res, err := c.media(ctx, http.MethodGet, u)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}

func (c *twilioClient) media(ctx context.Context, method, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", transports.ErrInvalidInput, err)
	}
	req.SetBasicAuth(c.sid, c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching an MMS file: %w", transports.ErrUnavailable, err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("%w: fetching an MMS file: HTTP %d", transports.ErrUnavailable, res.StatusCode)
	}
	return res, nil
}
