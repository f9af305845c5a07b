package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/switchboard-im/switchboard/transports"
)

// Files from XMPP are posted by the adapter itself, not through
// discordgo: discordgo builds a multipart body in memory, so every file
// would sit there at its full size (up to max_attachment_bytes) while it
// uploads. Here the body is written as it is sent, from the files'
// readers, through a pipe.

// uploadRetries bounds the 429s an upload waits out; maxRetryAfter
// bounds each wait (a longer one fails the send as busy).
const (
	uploadRetries = 3
	maxRetryAfter = time.Minute
)

// postFiles posts ms to channel with files attached, streamed. A 429 is
// waited out and the files opened again (their readers were spent).
// Errors are what discordgo's would be (a *discordgo.RESTError for an
// HTTP error), for classify.
func (a *adapter) postFiles(ctx context.Context, channel string, ms *discordgo.MessageSend, files []transports.File) (*discordgo.Message, error) {
	payload, err := json.Marshal(ms)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", transports.ErrInvalidInput, err)
	}
	for attempt := 0; ; attempt++ {
		m, wait, err := a.postOnce(ctx, channel, payload, files)
		if wait == 0 || attempt == uploadRetries {
			return m, err
		}
		if wait > maxRetryAfter {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// postOnce is one upload. wait is how long a 429 asked to wait (0 for
// any other outcome).
func (a *adapter) postOnce(ctx context.Context, channel string, payload []byte, files []transports.File) (m *discordgo.Message, wait time.Duration, err error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	written := make(chan struct{})
	go func() { // owned here: it ends when the body is written or the request is gone
		defer close(written)
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("discord: panic writing an upload", "panic", p)
				pw.CloseWithError(errors.New("discord: upload failed"))
			}
		}()
		pw.CloseWithError(writeUpload(ctx, mw, payload, files))
	}()
	defer func() { // the writer stops: its Open is cancelled, its writes fail
		cancel()
		pr.CloseWithError(errors.New("discord: upload over"))
		<-written
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, discordgo.EndpointChannelMessages(channel), pr)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", a.s.Token)
	req.Header.Set("User-Agent", a.s.UserAgent)
	// No overall timeout (an upload takes what it takes); the transport
	// bounds the dial and the wait for the answer once the body is sent.
	resp, err := (&http.Client{Transport: a.n.transport}).Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, 0, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, retryAfter(resp, body), restError(req, resp, body)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, 0, restError(req, resp, body)
	}
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, 0, fmt.Errorf("%w: Discord's answer to an upload is not a message", transports.ErrUnavailable)
	}
	return m, 0, nil
}

// writeUpload writes the multipart body Discord takes: payload_json,
// then files[i], each copied from its reader.
func writeUpload(ctx context.Context, mw *multipart.Writer, payload []byte, files []transports.File) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload_json"`)
	h.Set("Content-Type", "application/json")
	p, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := p.Write(payload); err != nil {
		return err
	}
	for i, f := range files {
		if err := writeFile(ctx, mw, i, f); err != nil {
			return err
		}
	}
	return mw.Close()
}

func writeFile(ctx context.Context, mw *multipart.Writer, i int, f transports.File) error {
	if f.Open == nil {
		return fmt.Errorf("%w: a file without content", transports.ErrInvalidInput)
	}
	rc, err := f.Open(ctx)
	if err != nil {
		return fmt.Errorf("file %s: %w", clean(f.Name, 100), err)
	}
	defer rc.Close()
	typ := f.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files[%d]"; filename="%s"`, i, quoteName(f.Name)))
	h.Set("Content-Type", typ)
	p, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(p, rc); err != nil {
		return fmt.Errorf("file %s: %w", clean(f.Name, 100), err)
	}
	return nil
}

// quoteName makes a file name safe inside a quoted header parameter: no
// quotes, backslashes or control characters survive.
func quoteName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, clean(name, 200))
	if name == "" {
		return "file"
	}
	return name
}

// retryAfter is the wait a 429 asks for: its Retry-After header
// (seconds), else the body's retry_after; at least a second.
func retryAfter(resp *http.Response, body []byte) time.Duration {
	secs, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64)
	if err != nil {
		var rl struct {
			RetryAfter float64 `json:"retry_after"`
		}
		_ = json.Unmarshal(body, &rl)
		secs = rl.RetryAfter
	}
	return max(time.Duration(secs*float64(time.Second)), time.Second)
}

// restError is the error discordgo would make of resp, so that classify
// treats an upload's failure like any other call's.
func restError(req *http.Request, resp *http.Response, body []byte) error {
	re := &discordgo.RESTError{Request: req, Response: resp, ResponseBody: body}
	var msg discordgo.APIErrorMessage
	if json.Unmarshal(body, &msg) == nil && (msg.Code != 0 || msg.Message != "") {
		re.Message = &msg
	}
	return re
}
