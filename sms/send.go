package sms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/switchboard-im/switchboard/transports"
)

// Sending is retried only when the text provably did not reach the
// provider: the connection could not be made, or the provider answered
// 429 or 503 (it took nothing). Neither Twilio's Messages API nor Kannel
// has an idempotency key, so a failure after the request went out
// (a timeout, a reset, a 500) is reported to the user and never retried:
// a retry could text the recipient twice.

// sendAttempts is how many times one text is tried.
const sendAttempts = 3

// maxRetryAfter bounds the wait a provider's Retry-After asks for.
const maxRetryAfter = 30 * time.Second

// sendError is a failed attempt to hand a text to the provider.
type sendError struct {
	err error
	// notSent: the provider provably did not take the text.
	notSent bool
	// retryAfter is the wait the provider asked for (429, 503), or 0.
	retryAfter time.Duration
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// retrying runs attempt until it succeeds, fails in a way that is not
// provably "not sent", or sendAttempts attempts failed; it waits wait,
// doubling, between attempts (longer when the provider asks).
func retrying(ctx context.Context, wait time.Duration, attempt func(context.Context) (string, error)) (string, error) {
	var last error
	for i := range sendAttempts {
		id, err := attempt(ctx)
		if err == nil {
			return id, nil
		}
		last = err
		var se *sendError
		if !errors.As(err, &se) || !se.notSent || i == sendAttempts-1 {
			break
		}
		d := max(wait<<i, se.retryAfter)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("%w (not sent: %w)", ctx.Err(), last)
		case <-t.C:
		}
	}
	return "", last
}

// transportFailure classifies an error of http.Client.Do: a connection
// that could not be made (dial, DNS) sent nothing; anything later may
// have delivered the request.
func transportFailure(ctx context.Context, err error) error {
	var op *net.OpError
	var dns *net.DNSError
	if (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns) {
		return &sendError{err: fmt.Errorf("%w: the provider could not be reached: %w", transports.ErrUnavailable, err), notSent: true}
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &sendError{err: fmt.Errorf("%w: %w", ctx.Err(), errNoAnswer)}
	}
	return &sendError{err: fmt.Errorf("%w: %w", transports.ErrUnavailable, errNoAnswer)}
}

// retryAfter reads a Retry-After header in seconds, bounded.
func retryAfter(h string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || s < 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, maxRetryAfter)
}

// providerText is a provider's message made fit to show a user: one
// line, printable, at most 200 characters.
func providerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
