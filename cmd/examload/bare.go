package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
)

// The baselines the platform is compared with: the cheapest a gin
// application can be for the same kind of request.

const bareIssuer = "examload-bare"

// bareServer returns a gin engine (release mode, no logger, no recovery)
// with
//
//	POST /bare/json    verifies an HS256 bearer JWT with golang-jwt/v5, binds
//	                   a small JSON body into a struct and answers a small JSON;
//	GET  /bare/cached  answers a precomputed 4 KB JSON document with c.Data.
func bareServer(secret []byte) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(bareIssuer),
		jwt.WithExpirationRequired())
	keyFunc := func(*jwt.Token) (any, error) { return secret, nil }

	type answerIn struct {
		QuestionID string   `json:"question_id"`
		Choices    []string `json:"choices"`
	}
	type answerOut struct {
		QuestionID string    `json:"question_id"`
		Choices    []string  `json:"choices"`
		SavedAt    time.Time `json:"saved_at"`
	}
	r.POST("/bare/json", func(c *gin.Context) {
		token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		var claims jwt.RegisteredClaims
		if !ok {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "missing token"})
			return
		}
		if _, err := parser.ParseWithClaims(token, &claims, keyFunc); err != nil || claims.Subject == "" {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "invalid token"})
			return
		}
		var in answerIn
		if err := c.ShouldBindJSON(&in); err != nil || in.QuestionID == "" || in.Choices == nil {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid body"})
			return
		}
		c.JSON(http.StatusOK, answerOut{QuestionID: in.QuestionID, Choices: in.Choices, SavedAt: time.Now().UTC()})
	})

	doc := bareDocument(4096)
	r.GET("/bare/cached", func(c *gin.Context) {
		c.Header("ETag", `"1"`)
		c.Data(http.StatusOK, "application/json; charset=utf-8", doc)
	})
	return r
}

// bareDocument is a valid JSON document of exactly n bytes shaped like an
// exam (n ≥ 256).
func bareDocument(n int) []byte {
	type question struct {
		ID      string   `json:"id"`
		Text    string   `json:"text"`
		Choices []string `json:"choices"`
	}
	var qs []question
	for i := 0; ; i++ {
		qs = append(qs, question{ID: fmt.Sprintf("q%02d", i+1), Text: strings.Repeat("x", 200), Choices: []string{"a", "b", "c", "d"}})
		b, _ := json.Marshal(map[string]any{"id": "bare", "questions": qs, "pad": ""})
		if len(b) > n {
			qs = qs[:len(qs)-1]
			break
		}
	}
	b, _ := json.Marshal(map[string]any{"id": "bare", "questions": qs, "pad": ""})
	pad := strings.Repeat("p", n-len(b))
	b, _ = json.Marshal(map[string]any{"id": "bare", "questions": qs, "pad": pad})
	return b
}

// bareToken signs a token the bare server accepts.
func bareToken(secret []byte) (string, error) {
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Issuer: bareIssuer, Subject: "2f1d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b", ID: "8e7d6c5b-4a39-4281-b0a9-f8e7d6c5b4a3",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// DefaultBareSecret signs the baseline's tokens when the bare server runs
// in its own process (examload -serve-bare), so that another examload can
// drive it (-bare-base). It protects nothing: the baseline serves no data.
const DefaultBareSecret = "examload-bare-baseline-secret-0123456789"

// startBare serves the bare server on addr (a loopback address; port 0:
// any free port) and returns its base URL, a valid token and a stop
// function. An empty secret is replaced by a random one.
func startBare(addr string, secret []byte) (base, token string, stop func(), err error) {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	if token, err = bareToken(secret); err != nil {
		return "", "", nil, err
	}
	base, stop, err = serveLoopback(addr, bareServer(secret))
	return base, token, stop, err
}

// serveLoopback serves h on addr, which must be a loopback address.
func serveLoopback(addr string, h http.Handler) (base string, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", nil, fmt.Errorf("refusing to listen on non-loopback address %s", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	// The timeouts of cmd/examd, so the baselines and the platform are
	// served alike.
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close(); <-done }, nil
}
