package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// ErrInvalidToken is wrapped by every token parsing failure: malformed,
// wrong algorithm, bad signature, wrong issuer, expired, wrong type, missing
// claims. The jwt library's own error is wrapped too, so
// errors.Is(err, jwt.ErrTokenExpired) works for callers that care.
var ErrInvalidToken = errors.New("auth: invalid token")

// Token defaults.
const (
	DefaultIssuer     = "examhall"
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 30 * 24 * time.Hour
	// MinSecretLength is the minimum HS256 key length in bytes.
	MinSecretLength = 32
)

const (
	tokenTypeAccess  = "access"
	tokenTypeRefresh = "refresh"
	tokenTypeDevice  = "device"
)

// DeviceTTL is how long a device token marks a client as one that logged
// in to the account before (OWASP's "device cookie").
const DeviceTTL = 180 * 24 * time.Hour

// TokenConfig configures a TokenIssuer. Zero durations take the defaults;
// an empty Issuer is DefaultIssuer; nil Now is time.Now; nil NewID is
// uuid.NewString.
type TokenConfig struct {
	Secret     []byte // HS256 key, at least MinSecretLength bytes
	Issuer     string
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	Now        func() time.Time
	NewID      func() string // token ids (jti)
}

// AccessClaims are the validated contents of an access token.
type AccessClaims struct {
	UserID    string
	Role      string
	ExpiresAt time.Time
	ID        string // jti
	// Epoch is the user's session epoch at issue (claim "ep"); the token
	// stands only while it is still the user's (domain.User.SessionValid).
	Epoch int64
}

// RefreshClaims are the validated contents of a refresh token. FamilyID and
// Generation support rotation with reuse detection: the store remembers the
// current generation of each family; presenting an older one means the
// token was stolen or replayed, and the family is revoked.
type RefreshClaims struct {
	UserID     string
	FamilyID   string
	Generation int
	ExpiresAt  time.Time
	ID         string // jti
}

// TokenIssuer signs and verifies access and refresh tokens with HS256.
// Safe for concurrent use.
type TokenIssuer struct {
	secret     []byte
	issuer     string
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
	newID      func() string
	parser     *jwt.Parser

	// verified caches access tokens whose signature and claims were already
	// checked, keyed by the exact token string: every API request presents
	// one, and re-verifying HMAC plus decoding JSON each time was a visible
	// share of a request's CPU. Expiry is still checked on every use.
	verifiedMu sync.Mutex
	verified   map[string]AccessClaims
}

// maxVerifiedTokens bounds the verified-token cache (about 200 B an entry).
const maxVerifiedTokens = 50_000

// tokenClaims is the wire form. "typ" (in the payload, not the header)
// separates access from refresh tokens so neither is accepted as the other.
type tokenClaims struct {
	jwt.RegisteredClaims
	Type       string `json:"typ"`
	Role       string `json:"role,omitempty"`
	FamilyID   string `json:"fam,omitempty"`
	Generation *int   `json:"gen,omitempty"`
	Epoch      int64  `json:"ep,omitempty"`
}

// UnmarshalJSON refuses time claims that are not JSON numbers before
// decoding the rest: jwt.NumericDate accepts a numeric string ("exp":
// "1999999999") too, and RFC 7519 says NumericDate is a number.
func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, name := range []string{"exp", "iat", "nbf"} {
		v, ok := raw[name]
		if !ok {
			continue
		}
		if v = bytes.TrimSpace(v); len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
			return fmt.Errorf("claim %q is not a number", name)
		}
	}
	type plain tokenClaims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// NewTokenIssuer validates cfg and returns an issuer.
func NewTokenIssuer(cfg TokenConfig) (*TokenIssuer, error) {
	var errs []error
	if len(cfg.Secret) < MinSecretLength {
		errs = append(errs, fmt.Errorf("auth: token secret must be at least %d bytes, got %d", MinSecretLength, len(cfg.Secret)))
	}
	if cfg.AccessTTL < 0 {
		errs = append(errs, errors.New("auth: negative AccessTTL"))
	}
	if cfg.RefreshTTL < 0 {
		errs = append(errs, errors.New("auth: negative RefreshTTL"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t := &TokenIssuer{
		secret:     append([]byte(nil), cfg.Secret...),
		issuer:     cfg.Issuer,
		accessTTL:  cfg.AccessTTL,
		refreshTTL: cfg.RefreshTTL,
		now:        cfg.Now,
		newID:      cfg.NewID,
	}
	if t.issuer == "" {
		t.issuer = DefaultIssuer
	}
	if t.accessTTL == 0 {
		t.accessTTL = DefaultAccessTTL
	}
	if t.refreshTTL == 0 {
		t.refreshTTL = DefaultRefreshTTL
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.newID == nil {
		t.newID = uuid.NewString
	}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithTimeFunc(t.now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),       // a token "issued" in the future was not issued by this clock
		jwt.WithStrictDecoding(), // no alternative encodings of the same signature
	)
	return t, nil
}

// AccessTTL is the lifetime of access tokens (for "expires_in").
func (t *TokenIssuer) AccessTTL() time.Duration { return t.accessTTL }

// RefreshTTL is the lifetime of refresh tokens.
func (t *TokenIssuer) RefreshTTL() time.Duration { return t.refreshTTL }

// IssueAccess returns a signed access token for the user, in the user's
// session epoch, and its expiry.
func (t *TokenIssuer) IssueAccess(userID, role string, epoch int64) (string, time.Time, error) {
	if userID == "" || role == "" {
		return "", time.Time{}, errors.New("auth: access token needs a user id and a role")
	}
	if epoch < 0 {
		return "", time.Time{}, errors.New("auth: negative session epoch")
	}
	c := t.registered(userID, t.accessTTL)
	return t.sign(tokenClaims{RegisteredClaims: c, Type: tokenTypeAccess, Role: role, Epoch: epoch}, c.ExpiresAt.Time)
}

// IssueRefresh returns a signed refresh token of the given family and
// generation, and its expiry.
func (t *TokenIssuer) IssueRefresh(userID, familyID string, generation int) (string, time.Time, error) {
	if userID == "" || familyID == "" {
		return "", time.Time{}, errors.New("auth: refresh token needs a user id and a family id")
	}
	if generation < 0 {
		return "", time.Time{}, errors.New("auth: negative refresh generation")
	}
	c := t.registered(userID, t.refreshTTL)
	gen := generation
	return t.sign(tokenClaims{RegisteredClaims: c, Type: tokenTypeRefresh, FamilyID: familyID, Generation: &gen}, c.ExpiresAt.Time)
}

// IssueDevice returns a device token for the user: proof that this client
// logged in to the account before. Its failed logins are counted apart
// from everyone else's, so an attacker who locks the account does not lock
// out this client (see commands.LoginHandler).
func (t *TokenIssuer) IssueDevice(userID string) (string, time.Time, error) {
	if userID == "" {
		return "", time.Time{}, errors.New("auth: device token needs a user id")
	}
	c := t.registered(userID, DeviceTTL)
	return t.sign(tokenClaims{RegisteredClaims: c, Type: tokenTypeDevice}, c.ExpiresAt.Time)
}

// ParseDevice verifies a device token and returns the user it was issued
// to and the device's id. Every failure wraps ErrInvalidToken.
func (t *TokenIssuer) ParseDevice(token string) (userID, deviceID string, err error) {
	c, err := t.parse(token, tokenTypeDevice)
	if err != nil {
		return "", "", err
	}
	if c.ID == "" {
		return "", "", fmt.Errorf("%w: missing device id", ErrInvalidToken)
	}
	return c.Subject, c.ID, nil
}

// ParseAccess verifies an access token and returns its claims. Every
// failure wraps ErrInvalidToken.
func (t *TokenIssuer) ParseAccess(token string) (AccessClaims, error) {
	t.verifiedMu.Lock()
	cached, ok := t.verified[token]
	t.verifiedMu.Unlock()
	if ok {
		if t.now().Before(cached.ExpiresAt) {
			return cached, nil
		}
		t.verifiedMu.Lock()
		delete(t.verified, token)
		t.verifiedMu.Unlock()
	}
	c, err := t.parse(token, tokenTypeAccess)
	if err != nil {
		return AccessClaims{}, err
	}
	if c.Role == "" {
		return AccessClaims{}, fmt.Errorf("%w: missing role", ErrInvalidToken)
	}
	claims := AccessClaims{UserID: c.Subject, Role: c.Role, ExpiresAt: c.ExpiresAt.Time, ID: c.ID, Epoch: c.Epoch}
	t.verifiedMu.Lock()
	if t.verified == nil || len(t.verified) >= maxVerifiedTokens {
		t.verified = make(map[string]AccessClaims) // drop all: simple, bounded, rare
	}
	t.verified[token] = claims
	t.verifiedMu.Unlock()
	return claims, nil
}

// ParseRefresh verifies a refresh token and returns its claims. Every
// failure wraps ErrInvalidToken.
func (t *TokenIssuer) ParseRefresh(token string) (RefreshClaims, error) {
	c, err := t.parse(token, tokenTypeRefresh)
	if err != nil {
		return RefreshClaims{}, err
	}
	if c.FamilyID == "" || c.Generation == nil || *c.Generation < 0 {
		return RefreshClaims{}, fmt.Errorf("%w: missing family or generation", ErrInvalidToken)
	}
	return RefreshClaims{UserID: c.Subject, FamilyID: c.FamilyID, Generation: *c.Generation, ExpiresAt: c.ExpiresAt.Time, ID: c.ID}, nil
}

func (t *TokenIssuer) registered(userID string, ttl time.Duration) jwt.RegisteredClaims {
	// JWT times have second precision; truncate so the returned expiry equals
	// what a parse of the token reports.
	now := t.now().UTC().Truncate(time.Second)
	return jwt.RegisteredClaims{
		Issuer:    t.issuer,
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		ID:        t.newID(),
	}
}

func (t *TokenIssuer) sign(c tokenClaims, exp time.Time) (string, time.Time, error) {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, exp, nil
}

func (t *TokenIssuer) parse(token, typ string) (*tokenClaims, error) {
	var c tokenClaims
	_, err := t.parser.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		// WithValidMethods already restricts alg; check the concrete type too.
		if tok.Method != jwt.SigningMethodHS256 {
			return nil, errors.New("unexpected signing method")
		}
		return t.secret, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Type != typ {
		return nil, fmt.Errorf("%w: wrong token type, want %s", ErrInvalidToken, typ)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: missing subject", ErrInvalidToken)
	}
	if c.ExpiresAt == nil { // guaranteed by WithExpirationRequired; keep the nil check local
		return nil, fmt.Errorf("%w: missing expiry", ErrInvalidToken)
	}
	return &c, nil
}
