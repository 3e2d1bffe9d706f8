package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

func TestClassify(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}}
	}
	tests := []struct {
		name string
		err  error
		want Reason
	}{
		{"nil", nil, ReasonNone},
		{"refused", opErr(syscall.ECONNREFUSED), ReasonRefused},
		{"reset", opErr(syscall.ECONNRESET), ReasonNetwork},
		{"unreachable", opErr(syscall.ENETUNREACH), ReasonNetwork},
		{"eof", fmt.Errorf("awaiting response: %w", io.EOF), ReasonNetwork},
		{"ctx deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), ReasonTimeout},
		{"os deadline", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, ReasonTimeout},
		{"canceled", context.Canceled, ReasonNetwork},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, ReasonDNS},
		{"dns timeout is dns", &net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}, ReasonDNS},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, ReasonTLS},
		{"hostname", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}, ReasonTLS},
		{"tls alert", fmt.Errorf("remote error: %w", tls.AlertError(40)), ReasonTLS},
		{"tls record header", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ReasonTLS},
		{"tls text", errors.New("tls: handshake failure"), ReasonTLS},
		{"body too large", fmt.Errorf("x: %w", errBodyTooLarge), ReasonBadBody},
		{"probe error", probeFailf(ReasonStale, "old"), ReasonStale},
		{"wrapped probe error", fmt.Errorf("GET /x: %w", probeFailf(ReasonUnhealthy, "stalled")), ReasonUnhealthy},
		{"url error timeout", &url.Error{Op: "Get", URL: "http://h/?token=S", Err: context.DeadlineExceeded}, ReasonTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, detail := Classify(tc.err)
			if got != tc.want {
				t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.want)
			}
			if tc.err == nil && detail != "" {
				t.Errorf("detail %q for nil error", detail)
			}
			if strings.Contains(detail, "token") {
				t.Errorf("detail %q leaks the URL query", detail)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "connection refused", "connection refused"},
		{"query", `Get "https://api.example/v1/x?token=abc&x=1": EOF`, `Get "https://api.example/v1/x": EOF`},
		{"userinfo", "dial https://bob:pw@host:443/p failed", "dial https://host:443/p failed"},
		{"fragment", "see http://h/p#secret now", "see http://h/p now"},
		{"controls", "a\x00b\nc\td", "a b c d"},
		{"invalid utf8", "a\xffb", "a b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sanitize(tc.in); got != tc.want {
				t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		long := strings.Repeat("é", 500)
		got := Sanitize(long)
		if len(got) > MaxDetailLen || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
			t.Errorf("len %d, valid %v, %q", len(got), utf8.ValidString(got), got[len(got)-6:])
		}
	})
}
