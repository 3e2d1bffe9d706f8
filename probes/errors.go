package probes

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// MaxDetailLen bounds Result.Detail, so a hostile or broken target cannot
// flood logs, metrics exemplars or incident reports through an error text.
const MaxDetailLen = 200

// probeError is a failure the probers decided on themselves (bad body,
// unhealthy answer, ...) rather than one returned by the network stack.
type probeError struct {
	reason Reason
	detail string
	err    error // optional cause, for errors.Is/As
}

func (e *probeError) Error() string { return e.detail }
func (e *probeError) Unwrap() error { return e.err }

// probeFailf makes a probeError with a formatted detail.
func probeFailf(r Reason, format string, args ...any) error {
	return &probeError{reason: r, detail: fmt.Sprintf(format, args...)}
}

// errBodyTooLarge is returned when a response body exceeds its limit.
var errBodyTooLarge = errors.New("body too large")

// Classify maps an error from a probe attempt onto the fixed Reason
// vocabulary and a bounded, secret-free detail. A nil error is ReasonNone.
//
// Order matters: DNS errors also report Timeout(), and a TLS handshake cut
// short by the deadline is a timeout, not a certificate problem.
func Classify(err error) (Reason, string) {
	if err == nil {
		return ReasonNone, ""
	}
	detail := Sanitize(describeErr(err))
	if pe, ok := errors.AsType[*probeError](err); ok {
		return pe.reason, detail
	}
	switch {
	case errors.Is(err, errBodyTooLarge):
		return ReasonBadBody, detail
	case isDNSErr(err):
		return ReasonDNS, detail
	case isTLSTypedErr(err):
		return ReasonTLS, detail
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused, detail
	case isTimeoutErr(err):
		return ReasonTimeout, detail
	case isTLSTextErr(err):
		return ReasonTLS, detail
	default:
		return ReasonNetwork, detail
	}
}

// describeErr renders err without the "Get \"<url>\":" wrapper that net/http
// adds, since the URL may carry a query string; the probers prefix their own
// path-only context instead.
func describeErr(err error) string {
	msg := err.Error()
	if ue, ok := errors.AsType[*url.Error](err); ok {
		// Replace the url.Error text (op + quoted URL + cause) by the cause.
		full := ue.Error()
		inner := ue.Err.Error()
		msg = strings.Replace(msg, full, inner, 1)
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		if !strings.Contains(msg, "closed") {
			msg += " (connection closed by peer)"
		}
	}
	return msg
}

func isDNSErr(err error) bool {
	_, ok := errors.AsType[*net.DNSError](err)
	return ok
}

func isTLSTypedErr(err error) bool {
	if isCertVerifyErr(err) {
		return true
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.AlertError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*tls.ECHRejectionError](err); ok {
		return true
	}
	return false
}

// isTLSTextErr catches crypto/tls errors that are plain errors.New("tls: ...").
func isTLSTextErr(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "tls: ") || strings.Contains(msg, "x509: ")
}

func isTimeoutErr(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	return false
}

// detailURLRe matches absolute URLs; Sanitize keeps scheme, host and path only.
var detailURLRe = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s/?#"'@]*@)?([^\s?#"']*)([?#][^\s"']*)?`)

// Sanitize makes s safe for Result.Detail: URLs lose their userinfo, query
// and fragment (where tokens live), control characters become spaces, and
// the result is cut to MaxDetailLen bytes on a rune boundary.
func Sanitize(s string) string {
	s = detailURLRe.ReplaceAllString(s, "$1$3")
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) <= MaxDetailLen {
		return s
	}
	const ellipsis = "…"
	cut := MaxDetailLen - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
