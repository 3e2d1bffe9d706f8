package probes

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptrace"
	"sync/atomic"
)

// A centralized service over https whose certificate fails verification
// (unknown authority, wrong name, expired) may be an interception: that is
// a suspected security signal (ReasonTLSUntrusted), distinct from a
// timeout or a refused connection. With Service.TLSPinSHA256 set, the
// leaf certificate's public key (SPKI) must also match one of the pins
// (ReasonTLSPinMismatch); the request is abandoned as soon as the handshake
// shows a mismatch, and nothing it returned is used.

// SPKIPin is the base64 SHA-256 of a certificate's SubjectPublicKeyInfo,
// the form of HPKP and curl --pinnedpubkey "sha256//...".
func SPKIPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// pinMatch compares in constant time; pins are public, but cheap to do right.
func pinMatch(pins []string, got string) bool {
	ok := 0
	for _, p := range pins {
		ok |= subtle.ConstantTimeCompare([]byte(p), []byte(got))
	}
	return ok == 1
}

// isCertVerifyErr reports whether err is the verification of the peer's
// certificate failing (as opposed to a handshake cut short or refused).
func isCertVerifyErr(err error) bool {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return true
	}
	return false
}

// checkTLS runs check and turns certificate verification failures and pin
// mismatches into their security reasons.
func (p *ServiceProber) checkTLS(ctx context.Context, svc Service) error {
	var mismatch atomic.Pointer[string]
	if len(svc.TLSPinSHA256) > 0 {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ctx = httptrace.WithClientTrace(cctx, &httptrace.ClientTrace{
			TLSHandshakeDone: func(st tls.ConnectionState, err error) {
				if err != nil || len(st.PeerCertificates) == 0 {
					return
				}
				if got := SPKIPin(st.PeerCertificates[0]); !pinMatch(svc.TLSPinSHA256, got) {
					mismatch.Store(&got)
					cancel() // abandon the request before it is sent
				}
			},
		})
	}
	err := p.check(ctx, svc)
	if got := mismatch.Load(); got != nil {
		return probeFailf(ReasonTLSPinMismatch,
			"TLS certificate public key sha256//%s matches none of the %d tls_pin_sha256 pins: possible interception", *got, len(svc.TLSPinSHA256))
	}
	if err != nil && isCertVerifyErr(err) {
		_, detail := Classify(err)
		return &probeError{reason: ReasonTLSUntrusted,
			detail: fmt.Sprintf("TLS certificate failed verification (possible interception): %s", detail), err: err}
	}
	return err
}
