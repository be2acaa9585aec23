// Package auth holds the security primitives of the platform: password
// hashing (argon2id), access and refresh tokens (HS256 JWTs), the token
// signing secret, and per-account login throttling. It knows nothing about
// HTTP; package api maps its errors to responses.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrInvalidHash reports a stored password hash that is not a well-formed
// argon2id PHC string (or uses parameters outside the accepted bounds).
var ErrInvalidHash = errors.New("auth: invalid password hash")

// Argon2Params are the argon2id cost parameters used for new hashes.
// Verification always uses the parameters recorded in the encoded hash, so
// these can be raised later without invalidating stored passwords (see
// PasswordHasher.NeedsRehash).
type Argon2Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32 // bytes
	KeyLength   uint32 // bytes
}

// DefaultArgon2Params is the OWASP minimum for argon2id:
// m=19456 KiB (19 MiB), t=2, p=1, with a 16-byte salt and a 32-byte key.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// TestArgon2Params returns very cheap parameters for tests only. Never use
// them in production.
func TestArgon2Params() Argon2Params {
	return Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// Bounds accepted when reading an encoded hash, so a corrupted or malicious
// stored hash cannot make a single verification allocate gigabytes.
const (
	maxArgon2Memory     = 1 << 20 // KiB (1 GiB)
	maxArgon2Iterations = 64
	minArgon2KeyLength  = 16
	maxArgon2KeyLength  = 128
	minArgon2SaltLength = 8
	maxArgon2SaltLength = 128
)

// withDefaults fills zero fields from DefaultArgon2Params and raises memory to
// argon2's minimum of 8 KiB per lane.
func (p Argon2Params) withDefaults() Argon2Params {
	d := DefaultArgon2Params()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Iterations == 0 {
		p.Iterations = d.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = d.Parallelism
	}
	if p.SaltLength < minArgon2SaltLength {
		p.SaltLength = d.SaltLength
	}
	if p.SaltLength > maxArgon2SaltLength {
		p.SaltLength = maxArgon2SaltLength
	}
	if p.KeyLength < minArgon2KeyLength {
		p.KeyLength = d.KeyLength
	}
	if p.KeyLength > maxArgon2KeyLength {
		p.KeyLength = maxArgon2KeyLength
	}
	if p.Iterations > maxArgon2Iterations {
		p.Iterations = maxArgon2Iterations
	}
	if p.Memory > maxArgon2Memory {
		p.Memory = maxArgon2Memory
	}
	if minMem := 8 * uint32(p.Parallelism); p.Memory < minMem {
		p.Memory = minMem
	}
	return p
}

// PasswordHasher hashes and verifies passwords with argon2id. At most
// maxConcurrent derivations run at once (each allocates Memory KiB), so a
// login storm at the start of an exam queues instead of exhausting memory;
// waiting callers give up when their context ends. Safe for concurrent use.
type PasswordHasher struct {
	params Argon2Params
	sem    chan struct{}
	dummy  encodedHash // verified by DummyVerify; never matches
}

// NewPasswordHasher returns a hasher producing hashes with p. Zero fields of p
// take the OWASP defaults (so Argon2Params{} is DefaultArgon2Params()), and
// values outside the accepted bounds are clamped. maxConcurrent <= 0 means
// runtime.GOMAXPROCS(0).
func NewPasswordHasher(p Argon2Params, maxConcurrent int) *PasswordHasher {
	p = p.withDefaults()
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	dummy := encodedHash{params: p, salt: make([]byte, p.SaltLength), key: make([]byte, p.KeyLength)}
	// Random salt and key: verifying anything against it costs exactly one
	// derivation with the current parameters and never succeeds.
	_, _ = rand.Read(dummy.salt)
	_, _ = rand.Read(dummy.key)
	return &PasswordHasher{params: p, sem: make(chan struct{}, maxConcurrent), dummy: dummy}
}

// Params returns the parameters used for new hashes.
func (h *PasswordHasher) Params() Argon2Params { return h.params }

// Hash derives a new PHC-encoded argon2id hash of password with a random salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (unpadded standard base64).
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: generate salt: %w", err)
	}
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return encodedHash{params: h.params, salt: salt, key: key}.String(), nil
}

// Verify reports whether password matches the encoded hash, comparing in
// constant time. A mismatch is (false, nil); a malformed hash is
// ErrInvalidHash; a context that ends while waiting for a slot is its error.
func (h *PasswordHasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	e, err := parseEncodedHash(encoded)
	if err != nil {
		return false, err
	}
	return h.verify(ctx, e, password)
}

// DummyVerify performs the same work as a Verify against a hash with the
// current parameters and always returns false. Call it when the account does
// not exist (or is deactivated) so that response time does not reveal which
// emails are registered.
func (h *PasswordHasher) DummyVerify(ctx context.Context, password string) error {
	_, err := h.verify(ctx, h.dummy, password)
	return err
}

// NeedsRehash reports whether encoded was made with parameters different from
// the current ones (or is malformed); callers may then store a fresh Hash
// after a successful login.
func (h *PasswordHasher) NeedsRehash(encoded string) bool {
	e, err := parseEncodedHash(encoded)
	if err != nil {
		return true
	}
	p := h.params
	return e.params.Memory != p.Memory || e.params.Iterations != p.Iterations ||
		e.params.Parallelism != p.Parallelism || uint32(len(e.salt)) != p.SaltLength ||
		uint32(len(e.key)) != p.KeyLength
}

func (h *PasswordHasher) verify(ctx context.Context, e encodedHash, password string) (bool, error) {
	key, err := h.derive(ctx, password, e.salt, e.params)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, e.key) == 1, nil
}

// derive runs argon2id while holding a semaphore slot.
func (h *PasswordHasher) derive(ctx context.Context, password string, salt []byte, p Argon2Params) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength), nil
}

type encodedHash struct {
	params Argon2Params
	salt   []byte
	key    []byte
}

var b64 = base64.RawStdEncoding

func (e encodedHash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		e.params.Memory, e.params.Iterations, e.params.Parallelism,
		b64.EncodeToString(e.salt), b64.EncodeToString(e.key))
}

func parseEncodedHash(s string) (encodedHash, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return encodedHash{}, ErrInvalidHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return encodedHash{}, fmt.Errorf("%w: unsupported version", ErrInvalidHash)
	}
	var e encodedHash
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return encodedHash{}, ErrInvalidHash
	}
	seen := map[string]bool{}
	for _, kv := range params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return encodedHash{}, ErrInvalidHash
		}
		seen[k] = true
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return encodedHash{}, ErrInvalidHash
		}
		switch k {
		case "m":
			e.params.Memory = uint32(n)
		case "t":
			e.params.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return encodedHash{}, ErrInvalidHash
			}
			e.params.Parallelism = uint8(n)
		default:
			return encodedHash{}, ErrInvalidHash
		}
	}
	p := e.params
	if p.Iterations < 1 || p.Iterations > maxArgon2Iterations || p.Parallelism < 1 ||
		p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxArgon2Memory {
		return encodedHash{}, fmt.Errorf("%w: parameters out of bounds", ErrInvalidHash)
	}
	var err error
	if e.salt, err = b64.Strict().DecodeString(parts[4]); err != nil ||
		len(e.salt) < minArgon2SaltLength || len(e.salt) > maxArgon2SaltLength {
		return encodedHash{}, fmt.Errorf("%w: bad salt", ErrInvalidHash)
	}
	if e.key, err = b64.Strict().DecodeString(parts[5]); err != nil ||
		len(e.key) < minArgon2KeyLength || len(e.key) > maxArgon2KeyLength {
		return encodedHash{}, fmt.Errorf("%w: bad key", ErrInvalidHash)
	}
	e.params.SaltLength = uint32(len(e.salt))
	e.params.KeyLength = uint32(len(e.key))
	return e, nil
}
