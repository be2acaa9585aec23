// Package pgtest gives tests a real PostgreSQL: the server's URL
// (EXAM_TEST_POSTGRES_URL, default the local test database), a connection
// that fails the test loudly when the server is down, and fresh schemas
// dropped when the test ends. Tests never skip for want of PostgreSQL.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the local test database scripts/ensure-postgres.sh prepares.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL is the test server: EXAM_TEST_POSTGRES_URL, or DefaultURL.
func URL() string {
	if u := os.Getenv("EXAM_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Connect opens a plain connection to the test database, closed when the
// test ends (closing it earlier is fine), or fails the test saying how to
// start PostgreSQL.
func Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL())
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		t.Fatalf("PostgreSQL is unreachable at %s: %v\n"+
			"These tests need a real server. Start the local one with scripts/ensure-postgres.sh\n"+
			"(or: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start),\n"+
			"or point EXAM_TEST_POSTGRES_URL at another.", URL(), err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// NewSchema returns a fresh schema name starting with prefix, dropped (with
// everything in it) when the test ends, so runs are independent and may
// run in parallel. It fails the test if the server is down.
func NewSchema(t testing.TB, prefix string) string {
	t.Helper()
	Connect(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn := Connect(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}
