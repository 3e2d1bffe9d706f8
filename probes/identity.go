package probes

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// HostInformationPath is a nym-node's signed self-description (reference
// §2.1): {"data":{...,"keys":{"ed25519_identity":...}},"signature":"<b58>"}.
const HostInformationPath = "/api/v1/host-information"

// IdentityProber checks that a node (KindIdentity, Target.Address as for
// KindNodeHTTP) is who the directory says it is: GET /api/v1/host-information
// must carry the node's bonded ed25519 identity (Node.Identity) and an
// ed25519 signature by that key over the "data" bytes exactly as served.
//
// Only a well-formed answer can be a security signal: a different identity
// is ReasonIdentityMismatch, a signature that does not verify
// ReasonBadSignature. Anything else — down, slow, a non-200, non-JSON,
// missing fields, keys or signatures that are not base58 of the right
// length — is an ordinary failure (timeout, http_status, bad_body, ...),
// never taken for an attack: garbage proves nothing about keys.
type IdentityProber struct {
	h     httpGetter
	limit int64
}

// NewIdentityProber returns an IdentityProber with its own node client.
func NewIdentityProber(opts ProberOptions) *IdentityProber {
	opts = opts.withDefaults()
	return newIdentityProber(opts, newNodeHTTPClient(opts))
}

func newIdentityProber(opts ProberOptions, c *http.Client) *IdentityProber {
	return &IdentityProber{h: httpGetter{client: c, ua: opts.UserAgent}, limit: opts.MaxBodyBytes}
}

// Probe implements Prober.
func (p *IdentityProber) Probe(ctx context.Context, t *Target) Result {
	start := time.Now()
	return probeResult(t, start, p.check(ctx, t))
}

// signedHostInformation keeps data as served: the signature covers exactly
// those bytes, so it must not be re-encoded.
type signedHostInformation struct {
	Data      json.RawMessage `json:"data"`
	Signature *string         `json:"signature"`
}

type hostInformationData struct {
	Keys *struct {
		Ed25519Identity *string `json:"ed25519_identity"`
	} `json:"keys"`
}

func (p *IdentityProber) check(ctx context.Context, t *Target) error {
	base := t.Address
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	resp, err := p.h.get(ctx, strings.TrimRight(base, "/")+HostInformationPath, p.limit, false)
	if err != nil {
		return err
	}
	what := resp.what
	if resp.status != http.StatusOK {
		return statusFailure(ReasonHTTPStatus, resp)
	}
	var signed signedHostInformation
	if err := decodeProbeJSON(what, resp.body, &signed); err != nil {
		return err
	}
	data := bytes.TrimSpace(signed.Data)
	if len(data) == 0 || data[0] != '{' {
		return probeFailf(ReasonBadBody, "%s: no data object", what)
	}
	if signed.Signature == nil {
		return probeFailf(ReasonBadBody, "%s: no signature", what)
	}
	var hi hostInformationData
	if err := decodeProbeJSON(what, signed.Data, &hi); err != nil {
		return err
	}
	if hi.Keys == nil || hi.Keys.Ed25519Identity == nil {
		return probeFailf(ReasonBadBody, "%s: no keys.ed25519_identity", what)
	}
	presented := *hi.Keys.Ed25519Identity
	key, err := DecodeBase58(presented, ed25519.PublicKeySize)
	if err != nil {
		// Not quoted: a malformed key is the node's garbage, not a key.
		return probeFailf(ReasonBadBody, "%s: keys.ed25519_identity is not a base58 ed25519 key: %v", what, err)
	}
	sig, err := DecodeBase58(*signed.Signature, ed25519.SignatureSize)
	if err != nil {
		return probeFailf(ReasonBadBody, "%s: signature is not a base58 ed25519 signature: %v", what, err)
	}
	valid := ed25519.Verify(ed25519.PublicKey(key), signed.Data, sig)

	// From here on presented is valid base58 (alphabet only), safe to show.
	var bonded []byte
	if t.Node != nil && t.Node.Identity != "" {
		bonded, err = DecodeBase58(t.Node.Identity, ed25519.PublicKeySize)
		if err != nil {
			bonded = nil // the directory's own garbage: compare nothing
		}
	}
	if bonded != nil && !bytes.Equal(bonded, key) {
		signedBy := "validly signed"
		if !valid {
			signedBy = "bad signature"
		}
		return probeFailf(ReasonIdentityMismatch, "node %d presents identity %s, bonded as %s (%s): possible key compromise or impersonation",
			t.Node.NodeID, presented, t.Node.Identity, signedBy)
	}
	if !valid {
		return probeFailf(ReasonBadSignature, "%s: signature does not verify for identity %s: possible tampering or impersonation",
			what, presented)
	}
	return nil
}

// base58Alphabet is Bitcoin's, which Nym uses for keys and signatures.
const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// maxBase58Len bounds the input: a 64-byte value is at most 88 characters.
const maxBase58Len = 128

var errBase58Length = errors.New("wrong length")

// DecodeBase58 decodes s (Bitcoin alphabet) and requires exactly size bytes
// (size <= 0: any length). Leading '1's are leading zero bytes.
func DecodeBase58(s string, size int) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	if len(s) > maxBase58Len {
		return nil, fmt.Errorf("longer than %d characters", maxBase58Len)
	}
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	// Big-endian base-256 accumulator, multiplied by 58 per digit.
	out := make([]byte, 0, len(s))
	for i := zeros; i < len(s); i++ {
		d := strings.IndexByte(base58Alphabet, s[i])
		if d < 0 {
			return nil, fmt.Errorf("invalid character at offset %d", i)
		}
		carry := d
		for j := len(out) - 1; j >= 0; j-- {
			carry += int(out[j]) * 58
			out[j] = byte(carry) //nolint:gosec // keeps the low 8 bits on purpose
			carry >>= 8
		}
		for carry > 0 {
			out = append([]byte{byte(carry)}, out...) //nolint:gosec // keeps the low 8 bits on purpose
			carry >>= 8
		}
	}
	res := make([]byte, zeros+len(out))
	copy(res[zeros:], out)
	if size > 0 && len(res) != size {
		return nil, fmt.Errorf("%w: %d bytes, want %d", errBase58Length, len(res), size)
	}
	return res, nil
}

// EncodeBase58 encodes b in the Bitcoin alphabet (for tests and the
// simulated network).
func EncodeBase58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	// Little-endian base-58 digits.
	var digits []byte
	for _, c := range b[zeros:] {
		carry := int(c)
		for j := range digits {
			carry += int(digits[j]) << 8
			digits[j] = byte(carry % 58) //nolint:gosec // < 58
			carry /= 58
		}
		for carry > 0 {
			digits = append(digits, byte(carry%58))
			carry /= 58
		}
	}
	var sb strings.Builder
	sb.Grow(zeros + len(digits))
	for range zeros {
		sb.WriteByte('1')
	}
	for i := len(digits) - 1; i >= 0; i-- {
		sb.WriteByte(base58Alphabet[digits[i]])
	}
	return sb.String()
}
