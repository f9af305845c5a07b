package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Describe returns what a user may be told about a failed connection to
// addr: addr itself and one fixed phrase ("connection refused", "timed
// out", "TLS failed", …). It never includes the error's own text, which
// may quote bytes the peer sent (a banner, a TLS alert, a DNS answer), so
// the gateway cannot be used to read other services' replies.
func Describe(addr string, err error) string {
	return "could not reach " + addr + ": " + Reason(err)
}

// Reason is Describe's fixed phrase for err.
func Reason(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		hostErr x509.HostnameError
		unkErr  x509.UnknownAuthorityError
		invErr  x509.CertificateInvalidError
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
		netErr  net.Error
	)
	switch {
	case err == nil:
		return "no error"
	case errors.Is(err, ErrForbidden):
		return "address not allowed by this gateway's policy"
	case errors.Is(err, ErrTooMany):
		return "too many connections on this gateway; try again later"
	case errors.Is(err, ErrRate):
		return "too many new connections; try again in a minute"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host"
		}
		return "name lookup failed"
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &unkErr), errors.As(err, &invErr):
		return "TLS failed: the server's certificate is not valid for it"
	case errors.As(err, &recErr), errors.As(err, &alert):
		return "TLS failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, net.ErrClosed):
		return "connection closed by the server"
	}
	return "connection failed"
}
