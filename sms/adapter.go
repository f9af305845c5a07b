package sms

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/switchboard-im/switchboard/transports"
)

var _ transports.FileSender = (*adapter)(nil)

// text is one SMS (or concatenated SMS) to hand to the provider.
type text struct {
	From, To, Body string
	Coding         Coding
	// Media are the URLs of an MMS's files (Twilio's MediaUrl), which
	// the provider fetches itself.
	Media []string
	// NoReport asks for no delivery report (a fan-out room's texts: no
	// receipts in rooms).
	NoReport bool
}

// maxMedia is the most files one MMS carries (Twilio's limit).
const maxMedia = 10

// sendFunc hands a text to the provider, retrying only what provably did
// not reach it, and returns the ID its delivery report will name.
type sendFunc func(ctx context.Context, t text) (transports.RemoteID, error)

// adapter is one user's session: their number and the provider to send
// through. Texts to the user arrive through the webhooks, not here.
type adapter struct {
	transports.Ending
	net  *Network
	user string
	from string
	sink transports.Sink
	send sendFunc
	// tw is the Twilio account the session uses (group texts); nil with
	// Kannel.
	tw *twilioClient
	// store is the user's own store (what they were told).
	store transports.Store

	mu    sync.Mutex
	rooms map[transports.ID]string // joined rooms → the user's nick
	told  map[transports.ID]bool   // fan-out rooms that said what they do
}

// Send implements transports.Adapter: the text goes out from the user's
// number. It returns once the provider took it (its delivery report
// comes later, as a ReceiptEvent); a text of more than max_segments SMS
// is refused with ErrLimit, and a provider's refusal comes back with its
// words.
func (a *adapter) Send(ctx context.Context, m transports.Message) (transports.RemoteID, error) {
	if m.Room {
		return a.sendRoom(ctx, m, nil)
	}
	t, err := a.text(m, false)
	if err != nil {
		return "", err
	}
	return a.sendTold(ctx, t)
}

// sendTold sends t from the user's current number (assign.go) and tells
// the user when it went as more SMS than warn_segments.
func (a *adapter) sendTold(ctx context.Context, t text) (transports.RemoteID, error) {
	from, err := a.net.currentNumber(ctx, a.user, a.from)
	if err != nil {
		return "", err
	}
	t.From = from
	id, err := a.send(ctx, t)
	if err != nil {
		return "", err
	}
	if !t.NoReport {
		a.net.noteSender(ctx, id, a.user)
	}
	if _, parts := Segments(t.Body); parts > a.net.cfg.WarnSegments {
		a.sink.Deliver(&transports.NoticeEvent{About: transports.ID(t.To),
			Text: fmt.Sprintf("That text went as %d SMS (%s); each costs as one.", parts, t.Coding)})
	}
	return id, nil
}

// SendFiles implements transports.FileSender (Capabilities.SendFiles,
// Twilio): the files' URLs — the user's upload service, which the
// provider fetches itself — go as the MMS's media, with the text, if
// any. A provider without MMS gets the links in the text.
func (a *adapter) SendFiles(ctx context.Context, m transports.Message) (transports.RemoteID, error) {
	if len(m.Files) > maxMedia {
		return "", fmt.Errorf("%w: %d files; an MMS carries at most %d", transports.ErrLimit, len(m.Files), maxMedia)
	}
	var urls []string
	for _, f := range m.Files {
		if !strings.HasPrefix(f.URL, "https://") && !strings.HasPrefix(f.URL, "http://") {
			return "", fmt.Errorf("%w: %q is not a web address the provider can fetch", transports.ErrInvalidInput, f.URL)
		}
		urls = append(urls, f.URL)
	}
	if !a.net.Capabilities().SendFiles {
		m.Body = strings.TrimSpace(strings.Join(append([]string{m.Body}, urls...), "\n"))
		return a.Send(ctx, m)
	}
	if m.Room {
		return a.sendRoom(ctx, m, urls)
	}
	t, err := a.text(m, len(urls) > 0)
	if err != nil {
		return "", err
	}
	t.Media = urls
	return a.sendTold(ctx, t)
}

// text checks m and makes it a text from the user's number; an empty
// body is allowed when media go with it.
func (a *adapter) text(m transports.Message, media bool) (text, error) {
	if m.Room {
		return text{}, fmt.Errorf("%w: a group's texts go through its room", transports.ErrInvalidInput)
	}
	if !IsAddress(string(m.To)) {
		return text{}, fmt.Errorf("%w: %q is not a phone number in international format", transports.ErrInvalidInput, m.To)
	}
	body, coding, err := a.body(m, media)
	if err != nil {
		return text{}, err
	}
	return text{From: a.from, To: string(m.To), Body: body, Coding: coding}, nil
}

// body checks m's text and returns it as it goes out ("/me " before an
// action), with its coding.
func (a *adapter) body(m transports.Message, media bool) (string, Coding, error) {
	body := m.Body
	if m.Action {
		body = "/me " + body
	}
	if strings.TrimSpace(body) == "" {
		if !media {
			return "", 0, fmt.Errorf("%w: an SMS cannot be empty", transports.ErrInvalidInput)
		}
		body = ""
	}
	if n := utf8.RuneCountInString(body); n > maxChars {
		return "", 0, fmt.Errorf("%w: %d characters; an SMS message takes at most %d", transports.ErrLimit, n, maxChars)
	}
	coding, parts := Segments(body)
	if parts > a.net.cfg.MaxSegments {
		return "", 0, fmt.Errorf("%w: this text would go as %d SMS (%s), and this gateway sends at most %d per message; write less",
			transports.ErrLimit, parts, coding, a.net.cfg.MaxSegments)
	}
	return body, coding, nil
}

// SetPresence implements transports.Adapter: SMS has no presence.
func (a *adapter) SetPresence(context.Context, transports.Presence) error { return nil }

// Close implements transports.Adapter.
func (a *adapter) Close() error { return nil }

// String names a coding as users read it.
func (c Coding) String() string {
	if c == UCS2 {
		return "Unicode, 70 characters each"
	}
	return "160 characters each"
}

// twilioSend sends through tw, asking for status reports at the
// webhook.
func (n *Network) twilioSend(tw *twilioClient) sendFunc {
	return func(ctx context.Context, t text) (transports.RemoteID, error) {
		callback := ""
		if pub := n.Hooks().PublicURL; pub != "" && !t.NoReport {
			callback = pub + pathTwilioStatus
		}
		id, err := retrying(ctx, n.cfg.RetryWait, func(ctx context.Context) (string, error) {
			return tw.sendMessage(ctx, t, callback)
		})
		if err != nil {
			return "", err
		}
		return transports.RemoteID(id), nil
	}
}
