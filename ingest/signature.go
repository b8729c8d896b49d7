package ingest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Signature is how a source signs its webhook deliveries: an HMAC of the
// raw body, hex-encoded, in one header.
type Signature struct {
	// Header is the header carrying the signature.
	Header string
	// Secret names the secret it is verified with, and, as "--<Secret>",
	// the flag that sets it.
	Secret string
	// Describe says what the secret is, for the flag's help.
	Describe string
	// format describes the header value, for error messages.
	format string
	// parse returns the digests the header value claims; the delivery is
	// authentic when any one of them matches.
	parse func(value string) ([]claimedDigest, error)
}

// claimedDigest is one signature a header carries.
type claimedDigest struct {
	hash func() hash.Hash
	sum  []byte
}

func oneAlgDigest(v string) ([]claimedDigest, error) {
	d, err := parseAlgDigest(v)
	if err != nil {
		return nil, err
	}
	return []claimedDigest{d}, nil
}

// parseAlgDigest reads "<alg>=<hex>".
func parseAlgDigest(v string) (claimedDigest, error) {
	alg, digest, ok := strings.Cut(strings.TrimSpace(v), "=")
	if !ok {
		return claimedDigest{}, fmt.Errorf("want <algorithm>=<hex digest>")
	}
	var h func() hash.Hash
	switch strings.ToLower(strings.TrimSpace(alg)) {
	case "sha1":
		h = sha1.New
	case "sha256":
		h = sha256.New
	case "sha384":
		h = sha512.New384
	case "sha512":
		h = sha512.New
	default:
		return claimedDigest{}, fmt.Errorf("unknown algorithm %q: want sha1, sha256, sha384 or sha512", alg)
	}
	sum, err := hex.DecodeString(strings.TrimSpace(digest))
	if err != nil || len(sum) != h().Size() {
		return claimedDigest{}, fmt.Errorf("the %s digest is not %d hex digits", alg, 2*h().Size())
	}
	return claimedDigest{hash: h, sum: sum}, nil
}

// Verify checks the signature header value against body, in constant
// time per claimed digest. The error says what is wrong and what was
// expected, for the sender's delivery log.
func (s *Signature) Verify(secret, body []byte, value string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("missing %s header: this endpoint requires deliveries signed with the secret set by --%s (%s: %s)",
			s.Header, s.Secret, s.Header, s.format)
	}
	claims, err := s.parse(value)
	if err != nil {
		return fmt.Errorf("malformed %s header: %v (want %s)", s.Header, err, s.format)
	}
	for _, c := range claims {
		mac := hmac.New(c.hash, secret)
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), c.sum) {
			return nil
		}
	}
	return fmt.Errorf("%s does not match the body: the sender's secret differs from --%s, or the body was altered on the way", s.Header, s.Secret)
}
