package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	tokenTestSecret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	tokenTestNow    = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestIssuer(t testing.TB, clock func() time.Time) *TokenIssuer {
	t.Helper()
	iss, err := NewTokenIssuer(TokenConfig{Secret: tokenTestSecret, Issuer: "examhall-test", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// signRaw signs arbitrary claims with arbitrary method and key, for building
// hostile tokens.
func signRaw(t testing.TB, method jwt.SigningMethod, claims jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewTokenIssuerValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     TokenConfig
		wantErr bool
	}{
		{"nil secret", TokenConfig{}, true},
		{"short secret", TokenConfig{Secret: []byte("too short")}, true},
		{"31 bytes", TokenConfig{Secret: tokenTestSecret[:31]}, true},
		{"negative ttl", TokenConfig{Secret: tokenTestSecret, AccessTTL: -time.Second}, true},
		{"32 bytes with defaults", TokenConfig{Secret: tokenTestSecret}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, err := NewTokenIssuer(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil {
				if iss.AccessTTL() != DefaultAccessTTL || iss.RefreshTTL() != DefaultRefreshTTL || iss.issuer != DefaultIssuer {
					t.Fatalf("defaults not applied: %v %v %q", iss.AccessTTL(), iss.RefreshTTL(), iss.issuer)
				}
			}
		})
	}
}

func TestIssuerCopiesSecret(t *testing.T) {
	t.Parallel()
	secret := append([]byte(nil), tokenTestSecret...)
	clock := &fakeClock{t: tokenTestNow}
	iss, err := NewTokenIssuer(TokenConfig{Secret: secret, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.IssueAccess("u1", "student", 0)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	if _, err := iss.ParseAccess(tok); err != nil {
		t.Fatalf("mutating the caller's slice must not affect the issuer: %v", err)
	}
}

func TestAccessTokenRoundTrip(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: tokenTestNow.Add(500 * time.Millisecond)}
	iss := newTestIssuer(t, clock.Now)
	tok, exp, err := iss.IssueAccess("user-1", "doctor", 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := tokenTestNow.Add(DefaultAccessTTL); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", exp, want)
	}
	c, err := iss.ParseAccess(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "user-1" || c.Role != "doctor" || !c.ExpiresAt.Equal(exp) || c.ID == "" {
		t.Fatalf("claims = %+v", c)
	}
	tok2, _, _ := iss.IssueAccess("user-1", "doctor", 0)
	if c2, _ := iss.ParseAccess(tok2); c2.ID == c.ID {
		t.Fatal("token ids must be unique")
	}

	clock.Advance(DefaultAccessTTL - time.Second)
	if _, err := iss.ParseAccess(tok); err != nil {
		t.Fatalf("token should still be valid just before expiry: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := iss.ParseAccess(tok); !errors.Is(err, ErrInvalidToken) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("expired token: err = %v", err)
	}
}

func TestRefreshTokenRoundTrip(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: tokenTestNow}
	iss := newTestIssuer(t, clock.Now)
	for _, gen := range []int{0, 1, 7} {
		tok, exp, err := iss.IssueRefresh("user-1", "fam-1", gen)
		if err != nil {
			t.Fatal(err)
		}
		if want := tokenTestNow.Add(DefaultRefreshTTL); !exp.Equal(want) {
			t.Fatalf("expiresAt = %v, want %v", exp, want)
		}
		c, err := iss.ParseRefresh(tok)
		if err != nil {
			t.Fatal(err)
		}
		if c.UserID != "user-1" || c.FamilyID != "fam-1" || c.Generation != gen || !c.ExpiresAt.Equal(exp) || c.ID == "" {
			t.Fatalf("claims = %+v", c)
		}
	}
	if _, _, err := iss.IssueRefresh("user-1", "fam-1", -1); err == nil {
		t.Fatal("negative generation must be refused")
	}
	if _, _, err := iss.IssueRefresh("user-1", "", 0); err == nil {
		t.Fatal("empty family must be refused")
	}
	if _, _, err := iss.IssueAccess("", "student", 0); err == nil {
		t.Fatal("empty user id must be refused")
	}
}

func TestTokenRejections(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: tokenTestNow}
	iss := newTestIssuer(t, clock.Now)
	now := jwt.NewNumericDate(tokenTestNow)
	later := jwt.NewNumericDate(tokenTestNow.Add(time.Hour))
	good := func(typ string) tokenClaims {
		gen := 0
		return tokenClaims{
			RegisteredClaims: jwt.RegisteredClaims{Issuer: "examhall-test", Subject: "u1", IssuedAt: now, ExpiresAt: later, ID: "j"},
			Type:             typ, Role: "student", FamilyID: "f", Generation: &gen,
		}
	}
	with := func(typ string, f func(*tokenClaims)) tokenClaims { c := good(typ); f(&c); return c }

	access, _, _ := iss.IssueAccess("u1", "student", 0)
	refresh, _, _ := iss.IssueRefresh("u1", "fam", 1)
	otherSecret := []byte("another-secret-another-secret-32")
	otherIss, _ := NewTokenIssuer(TokenConfig{Secret: otherSecret, Issuer: "examhall-test", Now: clock.Now})
	foreign, _, _ := otherIss.IssueAccess("u1", "admin", 0)
	parts := strings.Split(access, ".")

	// alg "none" with an empty signature, and with our HMAC appended.
	noneTok := signRaw(t, jwt.SigningMethodNone, good("access"), jwt.UnsafeAllowNoneSignatureType)
	hs512 := signRaw(t, jwt.SigningMethodHS512, good("access"), tokenTestSecret)
	hs384 := signRaw(t, jwt.SigningMethodHS384, good("access"), tokenTestSecret)
	// A header claiming RS256 but HMAC-signed with our secret (key confusion).
	rsHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	mac := hmac.New(sha256.New, tokenTestSecret)
	mac.Write([]byte(rsHeader + "." + parts[1]))
	rsConfused := rsHeader + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	// Mixed-case alg.
	lowHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"hs256","typ":"JWT"}`))
	mac = hmac.New(sha256.New, tokenTestSecret)
	mac.Write([]byte(lowHeader + "." + parts[1]))
	lowAlg := lowHeader + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	hs := func(c tokenClaims) string { return signRaw(t, jwt.SigningMethodHS256, c, tokenTestSecret) }

	accessCases := map[string]string{
		"empty":                      "",
		"garbage":                    "not.a.token",
		"two segments":               parts[0] + "." + parts[1],
		"four segments":              access + ".x",
		"alg none":                   noneTok,
		"alg none with signature":    strings.TrimSuffix(noneTok, ".") + "." + parts[2],
		"HS512":                      hs512,
		"HS384":                      hs384,
		"RS256 header key confusion": rsConfused,
		"lower-case alg":             lowAlg,
		"other secret":               foreign,
		"bad signature":              parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"empty signature":            parts[0] + "." + parts[1] + ".",
		"padded signature":           access + "=",
		"refresh as access":          refresh,
		"wrong issuer":               hs(with("access", func(c *tokenClaims) { c.Issuer = "evil" })),
		"no issuer":                  hs(with("access", func(c *tokenClaims) { c.Issuer = "" })),
		"expired":                    hs(with("access", func(c *tokenClaims) { c.ExpiresAt = jwt.NewNumericDate(tokenTestNow.Add(-time.Second)) })),
		"expires now":                hs(with("access", func(c *tokenClaims) { c.ExpiresAt = now })),
		"no expiry":                  hs(with("access", func(c *tokenClaims) { c.ExpiresAt = nil })),
		"not yet valid":              hs(with("access", func(c *tokenClaims) { c.NotBefore = later })),
		"missing sub":                hs(with("access", func(c *tokenClaims) { c.Subject = "" })),
		"missing role":               hs(with("access", func(c *tokenClaims) { c.Role = "" })),
		"missing typ":                hs(with("access", func(c *tokenClaims) { c.Type = "" })),
		"unknown typ":                hs(with("id", func(*tokenClaims) {})),
	}
	for name, tok := range accessCases {
		t.Run("access/"+name, func(t *testing.T) {
			if c, err := iss.ParseAccess(tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ParseAccess accepted it: %+v, %v", c, err)
			}
		})
	}
	if _, err := iss.ParseAccess(hs(good("access"))); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}

	refreshCases := map[string]string{
		"access as refresh": access,
		"missing family":    hs(with("refresh", func(c *tokenClaims) { c.FamilyID = "" })),
		"missing gen":       hs(with("refresh", func(c *tokenClaims) { c.Generation = nil })),
		"negative gen":      hs(with("refresh", func(c *tokenClaims) { g := -1; c.Generation = &g })),
		"expired":           hs(with("refresh", func(c *tokenClaims) { c.ExpiresAt = jwt.NewNumericDate(tokenTestNow.Add(-time.Second)) })),
		"wrong issuer":      hs(with("refresh", func(c *tokenClaims) { c.Issuer = "evil" })),
		"alg none":          signRaw(t, jwt.SigningMethodNone, good("refresh"), jwt.UnsafeAllowNoneSignatureType),
		"HS512":             signRaw(t, jwt.SigningMethodHS512, good("refresh"), tokenTestSecret),
		"missing sub":       hs(with("refresh", func(c *tokenClaims) { c.Subject = "" })),
	}
	for name, tok := range refreshCases {
		t.Run("refresh/"+name, func(t *testing.T) {
			if c, err := iss.ParseRefresh(tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ParseRefresh accepted it: %+v, %v", c, err)
			}
		})
	}
	if _, err := iss.ParseRefresh(hs(good("refresh"))); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
}

// FuzzParseAccess checks that ParseAccess never panics, that everything it
// accepts carries a valid HMAC-SHA256 under our secret over exactly its first
// two segments and re-parses to the same claims, and that any change to a
// valid token makes it invalid.
func FuzzParseAccess(f *testing.F) {
	clock := &fakeClock{t: tokenTestNow}
	iss := newTestIssuer(f, clock.Now)
	valid, _, err := iss.IssueAccess("user-1", "student", 0)
	if err != nil {
		f.Fatal(err)
	}
	refresh, _, _ := iss.IssueRefresh("user-1", "fam", 0)
	expired := signRaw(f, jwt.SigningMethodHS256, tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "examhall-test", Subject: "u", ExpiresAt: jwt.NewNumericDate(tokenTestNow.Add(-time.Minute))},
		Type:             "access", Role: "student",
	}, tokenTestSecret)
	none := signRaw(f, jwt.SigningMethodNone, tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "examhall-test", Subject: "u", ExpiresAt: jwt.NewNumericDate(tokenTestNow.Add(time.Hour))},
		Type:             "access", Role: "admin",
	}, jwt.UnsafeAllowNoneSignatureType)
	hs512 := signRaw(f, jwt.SigningMethodHS512, tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "examhall-test", Subject: "u", ExpiresAt: jwt.NewNumericDate(tokenTestNow.Add(time.Hour))},
		Type:             "access", Role: "admin",
	}, tokenTestSecret)

	for i, seed := range []string{valid, refresh, expired, none, hs512, "", "...", "a.b.c", valid + "=", strings.ToUpper(valid)} {
		f.Add(seed, uint16(i*7), byte('A'+i))
	}
	f.Add(valid, uint16(len(valid)-1), byte('B')) // last signature char: unused low bits
	f.Add(valid, uint16(len(valid)-1), byte('A'))

	f.Fuzz(func(t *testing.T, tok string, pos uint16, b byte) {
		// 1. Arbitrary input.
		if c, err := iss.ParseAccess(tok); err == nil {
			if !signedByUs(tok) {
				t.Fatalf("accepted a token without our signature: %q", tok)
			}
			again, err := iss.ParseAccess(tok)
			if err != nil || again != c {
				t.Fatalf("accepted token re-parses differently: %+v vs %+v, %v", c, again, err)
			}
			if c.UserID == "" || c.Role == "" || !c.ExpiresAt.After(clock.Now()) {
				t.Fatalf("accepted incomplete claims %+v", c)
			}
		} else if !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("error does not wrap ErrInvalidToken: %v", err)
		}

		// 2. One-byte mutation of a valid token.
		m := []byte(valid)
		m[int(pos)%len(m)] = b
		mutated := string(m)
		_, err := iss.ParseAccess(mutated)
		if mutated == valid && err != nil {
			t.Fatalf("unchanged token rejected: %v", err)
		}
		if mutated != valid && err == nil {
			t.Fatalf("mutated token accepted: pos %d byte %q: %q", int(pos)%len(m), b, mutated)
		}
	})
}

func signedByUs(tok string) bool {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(tok[i+1:])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, tokenTestSecret)
	mac.Write([]byte(tok[:i]))
	return hmac.Equal(sig, mac.Sum(nil))
}

// A verified access token is cached, but the cache never outlives the
// token: once the issuer's clock passes its expiry it is refused.
func TestCachedAccessTokenStillExpires(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)}
	iss := newTestIssuer(t, clock.Now)
	tok, exp, err := iss.IssueAccess("user-1", "student", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second parse is served from the cache
		c, err := iss.ParseAccess(tok)
		if err != nil || c.UserID != "user-1" || c.Role != "student" || !c.ExpiresAt.Equal(exp) {
			t.Fatalf("parse %d: %+v %v", i, c, err)
		}
	}
	clock.Advance(exp.Sub(clock.Now()))
	if _, err := iss.ParseAccess(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired cached token: err = %v, want ErrInvalidToken", err)
	}
	// A token differing in one character is verified afresh, not matched.
	if _, err := iss.ParseAccess(tok[:len(tok)-1] + "A"); err == nil {
		t.Fatal("tampered token accepted")
	}
}

// signPayload HMAC-signs a hand-written JSON payload with the test secret,
// for claims the jwt library would not produce.
func signPayload(payload string) string {
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body := base64.RawURLEncoding.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, tokenTestSecret)
	mac.Write([]byte(head + "." + body))
	return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Tokens signed with the secret but with an iat in the future or a time
// claim that is a string are refused (only forgeable with the secret, but a
// sign of a wrong clock or a hand-made token either way).
func TestTokenTimeClaimsStrict(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: tokenTestNow}
	iss := newTestIssuer(t, clock.Now)
	now, exp := tokenTestNow.Unix(), tokenTestNow.Add(time.Hour).Unix()
	claims := func(iat, expv string) string {
		return `{"iss":"examhall-test","sub":"u1","typ":"access","role":"student","jti":"j","iat":` + iat + `,"exp":` + expv + `}`
	}
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	if _, err := iss.ParseAccess(signPayload(claims(num(now), num(exp)))); err != nil {
		t.Fatalf("the well-formed hand-made token is refused, so the cases below prove nothing: %v", err)
	}
	for name, payload := range map[string]string{
		"iat in the future": claims(num(now+3600), num(exp+3600)),
		"exp a string":      claims(num(now), `"`+num(exp)+`"`),
		"iat a string":      claims(`"`+num(now)+`"`, num(exp)),
		"nbf a string":      strings.TrimSuffix(claims(num(now), num(exp)), "}") + `,"nbf":"` + num(now) + `"}`,
		"exp a boolean":     claims(num(now), "true"),
		"exp an object":     claims(num(now), `{"n":1}`),
	} {
		if _, err := iss.ParseAccess(signPayload(payload)); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %v, want ErrInvalidToken", name, err)
		}
	}
}
