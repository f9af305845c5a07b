package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// Kannel's smsbox, as far as this network uses it (Kannel 1.4 user
// guide, "Sending SMS messages"):
//
//	GET {sendsms_url}?username&password&from&to&text&charset=UTF-8&coding=0|2
//	    &dlr-mask=19&dlr-url=<public>/kannel/<token>/dlr/<id>/<from>/<to>?type=%d
//	    → 202 "0: Accepted for delivery" (or "3: Queued for later delivery")
//
// dlr-mask 19 = delivered (1) + failed (2) + rejected by the SMSC (16);
// Kannel calls the dlr-url with %d replaced by the report's type. It
// returns no message ID, so the network makes one and puts it in the
// dlr-url's path, with both numbers (so the report names the user and
// the contact without any state here).

// kannelDLRMask is the delivery reports asked for.
const kannelDLRMask = "19"

// kannelClient is a sendsms user of one smsbox.
type kannelClient struct {
	url, user, pass string
	http            *http.Client
}

// kannelSend sends t through smsbox's sendsms interface.
func (n *Network) kannelSend(ctx context.Context, t text) (transports.RemoteID, error) {
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	q := url.Values{
		"username": {n.kannel.user}, "password": {n.kannel.pass},
		"from": {t.From}, "to": {t.To}, "text": {t.Body}, "charset": {"UTF-8"},
	}
	if t.Coding == UCS2 {
		q.Set("coding", "2")
	} else {
		q.Set("coding", "0")
	}
	if pub := n.Hooks().PublicURL; pub != "" && !t.NoReport {
		q.Set("dlr-mask", kannelDLRMask)
		q.Set("dlr-url", pub+"kannel/"+n.cfg.Kannel.Token+"/dlr/"+id+"/"+t.From+"/"+t.To+"?type=%d")
	}
	_, err := retrying(ctx, n.cfg.RetryWait, func(ctx context.Context) (string, error) {
		return "", n.kannel.sendsms(ctx, q)
	})
	if err != nil {
		return "", err
	}
	return transports.RemoteID(id), nil
}

// sendsms makes one sendsms request.
func (c *kannelClient) sendsms(ctx context.Context, q url.Values) error {
	u := c.url
	if strings.Contains(u, "?") {
		u += "&" + q.Encode()
	} else {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return &sendError{err: fmt.Errorf("%w: %w", transports.ErrUnavailable, err), notSent: true}
	}
	res, err := c.http.Do(req)
	if err != nil {
		// The error quotes the URL, which holds the password: classify
		// without it.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return transportFailure(ctx, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	text := providerText(string(data))
	switch {
	case res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusOK:
		return nil
	case res.StatusCode == http.StatusServiceUnavailable:
		return &sendError{err: fmt.Errorf("%w: the SMS gateway is unavailable: %s", transports.ErrUnavailable, text), notSent: true,
			retryAfter: retryAfter(res.Header.Get("Retry-After"))}
	case res.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: the SMS gateway refused this gateway's login (check [sms.kannel]): %s", transports.ErrUnavailable, text)
	case res.StatusCode >= 400 && res.StatusCode < 500:
		return fmt.Errorf("%w: the SMS gateway refused the text: %s", transports.ErrInvalidInput, text)
	default:
		return &sendError{err: fmt.Errorf("%w: the SMS gateway failed (%d): %s; the text may have been sent", transports.ErrUnavailable, res.StatusCode, text)}
	}
}
