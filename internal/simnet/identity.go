package simnet

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
)

// nodeHostKeys is nym-node's own host-information "keys" (reference §2.1;
// nym-api's described view names them differently).
type nodeHostKeys struct {
	Ed25519Identity             string     `json:"ed25519_identity"`
	X25519Sphinx                string     `json:"x25519_sphinx"`
	PrimaryX25519SphinxKey      sphinxKey  `json:"primary_x25519_sphinx_key"`
	PreAnnouncedX25519SphinxKey *sphinxKey `json:"pre_announced_x25519_sphinx_key"`
	X25519VersionedNoise        noiseKey   `json:"x25519_versioned_noise"`
}

type nodeHostInformation struct {
	IPAddress []string     `json:"ip_address"`
	Hostname  *string      `json:"hostname"`
	Keys      nodeHostKeys `json:"keys"`
}

// impostorKey is the key an Impersonate fault signs with: derived from the
// node's own seed, so runs are reproducible, but a different key.
func (nd *node) impostorKey() ed25519.PrivateKey {
	seed := sha256.Sum256(append([]byte("simnet impostor "), nd.key.Seed()...))
	return ed25519.NewKeyFromSeed(seed[:])
}

// signedHostInformation is GET /api/v1/host-information: the data and an
// ed25519 signature by the identity key over the data bytes as served.
// Impersonate presents (and signs with) another key; BadSignature keeps
// the bonded key and signs other bytes.
func (n *Network) signedHostInformation(nd *node, fault FaultKind) []byte {
	key := nd.key
	if fault == KindImpersonate {
		key = nd.impostorKey()
	}
	data := nodeHostInformation{
		IPAddress: []string{nd.ip.String()},
		Keys: nodeHostKeys{
			Ed25519Identity:        base58(key.Public().(ed25519.PublicKey)),
			X25519Sphinx:           nd.sphinx,
			PrimaryX25519SphinxKey: sphinxKey{RotationID: 1, PublicKey: nd.sphinx},
			X25519VersionedNoise:   noiseKey{SupportedVersion: 1, X25519Pubkey: nd.noise},
		},
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return []byte(`{}`) // cannot happen: plain strings and numbers
	}
	signed := raw
	if fault == KindBadSignature {
		signed = append([]byte("tampered "), raw...)
	}
	sig := ed25519.Sign(key, signed)
	out, err := json.Marshal(struct {
		Data      json.RawMessage `json:"data"`
		Signature string          `json:"signature"`
	}{Data: raw, Signature: base58(sig)})
	if err != nil {
		return []byte(`{}`)
	}
	return out
}

// IdentityKey returns the public ed25519 identity of the node with id (as
// nym-api bonds it, base58), or "" if there is none.
func (n *Network) IdentityKey(id uint32) string {
	for _, nd := range n.nodes {
		if nd.id == id {
			return nd.identity
		}
	}
	return ""
}
