package sms

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

// The webhooks, relative to /hooks/sms/ (the admin points the provider at
// them; README "SMS"):
//
//	POST twilio/inbound   a text to one of the numbers (Twilio's "A message comes in")
//	POST twilio/status    a status callback of a text sent (set per text as StatusCallback)
//	POST twilio/conversations  the Conversations service's post-event webhook (group texts, grouphooks.go)
//	GET  kannel/<token>/inbound?from=%p&to=%P&text=%b&coding=%c&charset=%C&id=%I   (sms-service get-url)
//	GET  kannel/<token>/dlr/<id>/<from>/<to>?type=%d   (the dlr-url of each text sent)
//
// A request that is not authentic (no or a wrong signature, a wrong
// token) is answered 403, a body over [http] max_body_bytes 413, a body
// that is not a form 415, a malformed one 400, a number nobody has 404 —
// all logged without the body, nothing delivered. An accepted text is
// answered 2xx only once it is delivered (in the outbox); when delivering
// fails the answer is 503, so the provider sends it again, and a text
// whose provider ID was delivered before is answered 2xx and not
// delivered again.
const (
	pathTwilioInbound = "twilio/inbound"
	pathTwilioStatus  = "twilio/status"
)

// Attach implements transports.HookNetwork: it keeps h and returns the
// handler of the configured provider's webhooks.
func (n *Network) Attach(h transports.Hooks) http.Handler {
	n.mu.Lock()
	n.hooks = h
	n.mu.Unlock()
	if h.PublicURL == "" {
		n.log.Warn("[http] public_url is not set: no text asks for delivery reports, and Twilio's signatures cannot be checked (its webhooks are refused)")
	}
	mux := http.NewServeMux()
	if n.cfg.Provider == ProviderKannel {
		mux.HandleFunc("/kannel/{token}/inbound", n.kannelInbound)
		mux.HandleFunc("GET /kannel/{token}/dlr/{id}/{from}/{to}", n.kannelDLR)
	} else {
		mux.HandleFunc("POST /"+pathTwilioInbound, n.twilioInbound)
		mux.HandleFunc("POST /"+pathTwilioStatus, n.twilioStatus)
		mux.HandleFunc("POST /"+pathTwilioConversations, n.twilioConversations)
	}
	return mux
}

// hookError is a refused webhook request: the status and what the log
// says (never the body).
type hookError struct {
	status int
	reason string
}

func (e *hookError) Error() string { return e.reason }

func refuse(status int, format string, args ...any) *hookError {
	return &hookError{status: status, reason: fmt.Sprintf(format, args...)}
}

// answer writes the answer to a webhook request that failed with err, or
// ok when err is nil, and logs refusals.
func (n *Network) answer(w http.ResponseWriter, r *http.Request, err error, ok func(http.ResponseWriter)) {
	if err == nil {
		ok(w)
		return
	}
	var he *hookError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, transports.ErrNotFound):
		he = refuse(http.StatusNotFound, "%v", err)
	case errors.Is(err, transports.ErrInvalidInput):
		he = refuse(http.StatusBadRequest, "%v", err)
	default:
		he = refuse(http.StatusServiceUnavailable, "%v", err)
	}
	n.log.Warn("webhook request refused", "path", hookPath(r), "remote", r.RemoteAddr, "status", he.status, "reason", he.reason)
	http.Error(w, http.StatusText(he.status), he.status)
}

// clip cuts what a request said to a length fit for a log line.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// hookPath is the request's path with a Kannel token blotted out, for
// logs.
func hookPath(r *http.Request) string {
	if tok := r.PathValue("token"); tok != "" {
		return strings.Replace(r.URL.Path, tok, "…", 1)
	}
	return r.URL.Path
}

// readForm reads a form-encoded body whole (the gateway caps its size).
func readForm(r *http.Request) (url.Values, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, refuse(http.StatusUnsupportedMediaType, "content type %q is not a form", clip(r.Header.Get("Content-Type")))
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, refuse(http.StatusRequestEntityTooLarge, "body larger than %d bytes", tooBig.Limit)
		}
		return nil, refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "the body is not a form")
	}
	return form, nil
}

// publicURL is the URL the provider called, as it signed it: the
// configured public URL, the path and the query.
func (n *Network) publicURL(r *http.Request) string {
	u := n.Hooks().PublicURL + strings.TrimPrefix(r.URL.Path, "/")
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// twilioForm reads and authenticates a Twilio webhook request; number
// names the field holding the gateway user's number (whose auth token
// signed it in own mode). It returns the form and the auth token that
// signed it (the account's, for fetching an MMS's media).
func (n *Network) twilioForm(r *http.Request, number string) (url.Values, string, error) {
	return n.twilioSigned(r, func(form url.Values) (string, error) { return form.Get(number), nil })
}

// twilioSigned reads and authenticates a Twilio webhook request as
// twilioForm does, with the gateway user's number found by numberOf in
// the (not yet authenticated) form.
func (n *Network) twilioSigned(r *http.Request, numberOf func(url.Values) (string, error)) (url.Values, string, error) {
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return nil, "", refuse(http.StatusForbidden, "no X-Twilio-Signature")
	}
	form, err := readForm(r)
	if err != nil {
		return nil, "", err
	}
	if n.Hooks().PublicURL == "" {
		return nil, "", refuse(http.StatusForbidden, "[http] public_url is not configured, so no signature can be checked")
	}
	number, err := numberOf(form)
	if err != nil {
		return nil, "", err
	}
	token, err := n.token(r.Context(), number)
	if err != nil {
		return nil, "", err
	}
	for _, u := range portVariants(n.publicURL(r)) {
		if verifyTwilio(token, u, form, sig) {
			return form, token, nil
		}
	}
	return nil, "", refuse(http.StatusForbidden, "X-Twilio-Signature does not match")
}

// portVariants are the forms of rawURL Twilio may have signed: as it is,
// and with the scheme's default port added or removed (Twilio's
// signatures are known to differ there; its own libraries accept
// both).
func portVariants(rawURL string) []string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return []string{rawURL}
	}
	def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	if def == "" {
		return []string{rawURL}
	}
	other := *u
	switch u.Port() {
	case "":
		other.Host = u.Host + ":" + def
	case def:
		other.Host = u.Hostname()
		if strings.Contains(other.Host, ":") { // IPv6
			other.Host = "[" + other.Host + "]"
		}
	default:
		return []string{rawURL}
	}
	return []string{rawURL, other.String()}
}

// owner is the user who has number.
func (n *Network) owner(ctx context.Context, number string) (string, error) {
	if !e164.MatchString(number) {
		return "", refuse(http.StatusBadRequest, "%q is not an E.164 number", clip(number))
	}
	user, err := n.Hooks().Store.Get(ctx, keyNumber+number)
	if errors.Is(err, transports.ErrNotFound) {
		return "", refuse(http.StatusNotFound, "no user has %s", number)
	} else if err != nil {
		return "", fmt.Errorf("%w: looking up %s: %w", transports.ErrUnavailable, number, err)
	}
	return string(user), nil
}

// inbound is a text that arrived for a user.
type inbound struct {
	id       string // the provider's ID ("" when it has none)
	from, to string
	body     string
	files    []transports.Attachment
}

// deliverText delivers in to the user who has in.to, once per provider
// ID: it returns nil for a text delivered before.
func (n *Network) deliverText(ctx context.Context, in inbound) error {
	if !IsAddress(in.from) {
		return refuse(http.StatusBadRequest, "sender %q is not a phone number", clip(in.from))
	}
	if !utf8.ValidString(in.body) {
		return refuse(http.StatusBadRequest, "the text is not UTF-8")
	}
	user, err := n.owner(ctx, in.to)
	if err != nil {
		return err
	}
	if in.id != "" {
		switch seen, err := n.seen(ctx, in.id); {
		case err != nil:
			return err
		case seen:
			n.log.Info("a provider sent a text again; not delivered twice", "id", in.id)
			return nil
		}
	}
	ev := &transports.MessageEvent{From: transports.ID(in.from), Body: in.body, RemoteID: transports.RemoteID(in.id), Attachments: in.files}
	if err := n.Hooks().Deliver.Deliver(ctx, user, ev); err != nil {
		return err
	}
	if in.id != "" {
		n.markSeen(ctx, in.id, user)
	}
	return nil
}

// emptyTwiML is the answer to Twilio's inbound webhook: no reply text.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

func (n *Network) twilioInbound(w http.ResponseWriter, r *http.Request) {
	form, token, err := n.twilioForm(r, "To")
	if err == nil {
		id := form.Get("MessageSid")
		if id == "" {
			id = form.Get("SmsSid")
		}
		in := inbound{id: id, from: form.Get("From"), to: form.Get("To"), body: form.Get("Body")}
		// MMS: files under the provider's API are uploaded to the user's
		// server; any other media URL reaches the user as a link.
		sid := n.cfg.Twilio.AccountSID
		if n.cfg.Mode == ModeOwn {
			sid = form.Get("AccountSid")
		}
		var links []string
		in.files, links = n.media(r.Context(), form, sid, token)
		in.body = strings.TrimSpace(strings.Join(append([]string{in.body}, links...), "\n"))
		err = n.deliverText(r.Context(), in)
	}
	n.answer(w, r, err, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, emptyTwiML)
	})
}

// Twilio's message statuses: delivered is final and good; failed and
// undelivered are final and bad; the others are on the way.
func (n *Network) twilioStatus(w http.ResponseWriter, r *http.Request) {
	form, _, err := n.twilioForm(r, "From")
	if err == nil {
		ev := &transports.ReceiptEvent{To: transports.ID(form.Get("To")), Remote: transports.RemoteID(form.Get("MessageSid"))}
		switch st := form.Get("MessageStatus"); st {
		case "delivered":
			ev.Delivered = true
		case "failed", "undelivered":
			ev.Error = "the text was " + st
			if c := form.Get("ErrorCode"); c != "" {
				ev.Error += " (error " + providerText(c) + ")"
			}
		default:
			ev = nil
		}
		if ev != nil {
			err = n.deliverReceipt(r.Context(), form.Get("From"), ev)
		}
	}
	n.answer(w, r, err, func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) })
}

// deliverReceipt delivers a delivery report to the user who sent the
// text (sender.go), else to the user who has from, once: a report the
// provider sends again (a retry, a replay) is answered 2xx and not
// delivered again.
func (n *Network) deliverReceipt(ctx context.Context, from string, ev *transports.ReceiptEvent) error {
	if ev.Remote == "" || !IsAddress(string(ev.To)) {
		return refuse(http.StatusBadRequest, "a delivery report without a message ID or recipient")
	}
	user, err := n.sender(ctx, ev.Remote)
	if err == nil && user == "" {
		user, err = n.owner(ctx, from)
	}
	if err != nil {
		return err
	}
	key := "report/" + string(ev.Remote)
	switch seen, err := n.seen(ctx, key); {
	case err != nil:
		return err
	case seen:
		return nil
	}
	if err := n.Hooks().Deliver.Deliver(ctx, user, ev); err != nil {
		return err
	}
	n.markSeen(ctx, key, user)
	return nil
}

// kannelToken checks that the request comes from an allowed address
// and carries the token in its path (compared in constant time).
func (n *Network) kannelToken(r *http.Request) error {
	if allow := n.kannelAllow; len(allow) > 0 {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		a, err := netip.ParseAddr(host)
		if err != nil || !slices.ContainsFunc(allow, func(p netip.Prefix) bool { return p.Contains(a.Unmap()) }) {
			return refuse(http.StatusForbidden, "%s is not in [sms.kannel] allow_from", clip(r.RemoteAddr))
		}
	}
	want := n.cfg.Kannel.Token
	if want == "" || subtle.ConstantTimeCompare([]byte(r.PathValue("token")), []byte(want)) != 1 {
		return refuse(http.StatusForbidden, "wrong token")
	}
	return nil
}

func (n *Network) kannelInbound(w http.ResponseWriter, r *http.Request) {
	err := n.kannelToken(r)
	if err == nil {
		q := r.URL.Query()
		var body string
		body, err = kannelText(q.Get("text"), q.Get("coding"), q.Get("charset"))
		if err == nil {
			id := q.Get("id")
			if id != "" {
				id = "kannel/" + id
			}
			err = n.deliverText(r.Context(), inbound{id: id, from: q.Get("from"), to: q.Get("to"), body: body})
		}
	}
	// max-messages = 0 in the sms-service: an empty answer texts nothing back.
	n.answer(w, r, err, func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
}

// kannelText decodes a Kannel %b text: UTF-16BE bytes for coding 2 (UCS-2),
// else bytes in charset (UTF-8 unless Kannel says otherwise).
func kannelText(raw, coding, charset string) (string, error) {
	switch {
	case coding == "2" || strings.EqualFold(charset, "UTF-16BE") || strings.EqualFold(charset, "UCS-2"):
		if len(raw)%2 != 0 {
			return "", refuse(http.StatusBadRequest, "a UCS-2 text of an odd length")
		}
		u := make([]uint16, len(raw)/2)
		for i := range u {
			u[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
		}
		return string(utf16.Decode(u)), nil
	case strings.EqualFold(charset, "ISO-8859-1") || strings.EqualFold(charset, "WINDOWS-1252"):
		rs := make([]rune, len(raw))
		for i := range len(raw) {
			rs[i] = rune(raw[i])
		}
		return string(rs), nil
	case charset == "" || strings.EqualFold(charset, "UTF-8"):
		if !utf8.ValidString(raw) {
			return "", refuse(http.StatusBadRequest, "the text is not UTF-8")
		}
		return raw, nil
	default:
		return "", refuse(http.StatusBadRequest, "charset %q is not one this gateway reads", clip(charset))
	}
}

// Kannel's delivery report types (dlr-mask bits).
const (
	kannelDelivered = 1
	kannelFailed    = 2
	kannelRejected  = 16
)

func (n *Network) kannelDLR(w http.ResponseWriter, r *http.Request) {
	err := n.kannelToken(r)
	if err == nil {
		ev := &transports.ReceiptEvent{To: transports.ID(r.PathValue("to")), Remote: transports.RemoteID(r.PathValue("id"))}
		switch typ, _ := strconv.Atoi(r.URL.Query().Get("type")); typ {
		case kannelDelivered:
			ev.Delivered = true
		case kannelFailed:
			ev.Error = "the text could not be delivered"
		case kannelRejected:
			ev.Error = "the SMS centre rejected the text"
		default: // accepted by the SMSC (8), buffered (4): on the way
			ev = nil
		}
		if ev != nil {
			err = n.deliverReceipt(r.Context(), r.PathValue("from"), ev)
		}
	}
	n.answer(w, r, err, func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) })
}
