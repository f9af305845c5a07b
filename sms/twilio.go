package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/switchboard-im/switchboard/transports"
)

// Twilio's REST API, as far as this network uses it (the wire format of
// twilio/twilio-oai's api_v2010 description):
//
//	POST {api}/2010-04-01/Accounts/{Sid}/Messages.json  (basic auth Sid:AuthToken)
//	     form To, From, MessagingServiceSid (when configured), Body, MediaUrl (repeated), StatusCallback
//	     → 201 {"sid": "SM…", "status": "queued" (with a service "accepted"), …}
//	GET  {api}/2010-04-01/Accounts/{Sid}/IncomingPhoneNumbers.json?PhoneNumber=+1…
//	     → 200 {"incoming_phone_numbers": [{"phone_number": "+1…", …}], …}
//
// Errors are JSON {"code": 21211, "message": "…", "more_info": "…", "status": 400};
// a 429 may carry Retry-After (seconds).

// twilioClient is one Twilio account's REST client.
type twilioClient struct {
	api        string // base URL without a trailing "/"
	conv       string // the Conversations API's base URL, likewise
	mcs        string // the Media Content Service's base URL, likewise
	sid, token string
	// service is the Messaging Service texts are sent with ("" none).
	service string
	http    *http.Client
}

// twilioError is the error body of Twilio's API.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// Twilio error codes that say the recipient will not take texts.
var twilioRefusals = []int{
	21610, // the recipient unsubscribed (STOP)
	21612, // cannot route to this number
	21408, // no permission to send to this region
	21614, // not a mobile number
}

// sendMessage asks Twilio to send t (an MMS when it has media), with
// status reports to callback ("" none). It makes one attempt (send decides on retries) and
// returns the message SID. The error is a *sendError saying whether the
// text provably did not reach Twilio.
func (c *twilioClient) sendMessage(ctx context.Context, t text, callback string) (string, error) {
	form := url.Values{"To": {t.To}, "From": {t.From}}
	if c.service != "" {
		form.Set("MessagingServiceSid", c.service)
	}
	if t.Body != "" {
		form.Set("Body", t.Body)
	}
	for _, u := range t.Media {
		form.Add("MediaUrl", u)
	}
	if callback != "" {
		form.Set("StatusCallback", callback)
	}
	data, err := c.postForm(ctx, c.accountURL("Messages.json"), form, "the text may have been sent")
	if err != nil {
		return "", err
	}
	var m struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.SID == "" {
		return "", &sendError{err: fmt.Errorf("%w: the provider accepted the text but gave no message ID", transports.ErrUnavailable)}
	}
	return m.SID, nil
}

// postForm POSTs form to u, one attempt, and returns the provider's
// answer when it took the request (200 or 201). Its errors are
// *sendError as sendMessage's: a request not sent is notSent; an answer
// lost after sending says what may have happened (ifLost); a refusal is
// twilioFailure's.
func (c *twilioClient) postForm(ctx context.Context, u string, form url.Values, ifLost string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &sendError{err: fmt.Errorf("%w: %w", transports.ErrUnavailable, err), notSent: true}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return nil, &sendError{err: fmt.Errorf("%w: reading the provider's answer: %w (%s)", transports.ErrUnavailable, err, ifLost)}
	}
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		return nil, twilioFailure(res, data)
	}
	return data, nil
}

// checkNumber asks whether phone is a number of the account: a real API
// call that checks the credentials too.
func (c *twilioClient) checkNumber(ctx context.Context, phone string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.accountURL("IncomingPhoneNumbers.json")+"?"+url.Values{"PhoneNumber": {phone}}.Encode(), nil)
	if err != nil {
		return fmt.Errorf("%w: %w", transports.ErrUnavailable, err)
	}
	res, err := c.do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: reading the provider's answer: %w", transports.ErrUnavailable, err)
	}
	if res.StatusCode != http.StatusOK {
		return twilioFailure(res, data)
	}
	var list struct {
		Numbers []struct {
			PhoneNumber string `json:"phone_number"`
		} `json:"incoming_phone_numbers"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("%w: the provider's list of numbers is not JSON", transports.ErrUnavailable)
	}
	for _, n := range list.Numbers {
		if n.PhoneNumber == phone {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not a number of account %s", transports.ErrBadCredentials, phone, c.sid)
}

func (c *twilioClient) accountURL(resource string) string {
	return c.api + "/2010-04-01/Accounts/" + url.PathEscape(c.sid) + "/" + resource
}

// do sends req with the account's credentials. A failure to connect is
// a *sendError with notSent; any other failure may have reached Twilio.
func (c *twilioClient) do(req *http.Request) (*http.Response, error) {
	req.SetBasicAuth(c.sid, c.token)
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return nil, transportFailure(req.Context(), err)
	}
	return res, nil
}

// twilioFailure classifies an error answer of Twilio's API.
func twilioFailure(res *http.Response, data []byte) error {
	var te twilioError
	_ = json.Unmarshal(data, &te)
	text := providerText(te.Message)
	if text == "" {
		text = http.StatusText(res.StatusCode)
	}
	if te.Code != 0 {
		text = fmt.Sprintf("%s (error %d)", text, te.Code)
	}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		return &sendError{err: fmt.Errorf("%w: the provider is rate limiting: %s", transports.ErrBusy, text), notSent: true,
			retryAfter: retryAfter(res.Header.Get("Retry-After"))}
	case res.StatusCode == http.StatusServiceUnavailable:
		return &sendError{err: fmt.Errorf("%w: the provider is unavailable: %s", transports.ErrUnavailable, text), notSent: true,
			retryAfter: retryAfter(res.Header.Get("Retry-After"))}
	case res.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: the provider refused the account: %s", transports.ErrBadCredentials, text)
	case slices.Contains(twilioRefusals, te.Code):
		return fmt.Errorf("%w: the provider refused the text: %s", transports.ErrForbidden, text)
	case res.StatusCode == http.StatusNotFound && te.Code == 20404:
		return fmt.Errorf("%w: the provider does not know the account: %s", transports.ErrBadCredentials, text)
	case res.StatusCode >= 400 && res.StatusCode < 500:
		return fmt.Errorf("%w: the provider refused the text: %s", transports.ErrInvalidInput, text)
	default:
		return &sendError{err: fmt.Errorf("%w: the provider failed (%d): %s; the text may have been sent", transports.ErrUnavailable, res.StatusCode, text)}
	}
}

// SignTwilio is Twilio's X-Twilio-Signature of a form POST to rawURL (the
// full URL Twilio requested, query included) with params: the base64
// HMAC-SHA1, keyed with the auth token, of the URL followed by each
// parameter's name and value, in the order of the names (every value of
// a repeated name, in order).
func SignTwilio(authToken, rawURL string, params url.Values) string {
	m := hmac.New(sha1.New, []byte(authToken))
	io.WriteString(m, rawURL)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range params {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range params[k] {
			io.WriteString(m, k)
			io.WriteString(m, v)
		}
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verifyTwilio reports whether signature is authToken's over rawURL and
// params, in constant time.
func verifyTwilio(authToken, rawURL string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	want := SignTwilio(authToken, rawURL, params)
	return subtle.ConstantTimeCompare([]byte(want), []byte(signature)) == 1
}

// errNoAnswer is the ambiguous failure: the request may have reached
// the provider.
var errNoAnswer = errors.New("the provider did not answer; the text may or may not have been sent, and it is not sent again")
