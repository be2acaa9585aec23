package imagestore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/internal/imagestore"
	"github.com/examhall/exam/internal/pgtest"
)

type store interface {
	Put(ctx context.Context, id string, data []byte) error
	Get(ctx context.Context, id string) ([]byte, error)
	Exists(ctx context.Context, id string) (bool, error)
}

// testStore is what every image store must do; other is a second store over
// the same storage (another process, or a restart), which must see the bytes.
func testStore(t *testing.T, s, other store) {
	t.Helper()
	ctx := t.Context()
	data := []byte("GIF89a some picture")
	id := domain.ImageID(data)
	if _, err := s.Get(ctx, id); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get before Put: %v, want ErrNotFound", err)
	}
	if ok, err := s.Exists(ctx, id); ok || err != nil {
		t.Fatalf("Exists before Put = %v, %v", ok, err)
	}
	for range 2 { // Put is idempotent
		if err := s.Put(ctx, id, data); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Get(ctx, id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if ok, err := s.Exists(ctx, id); !ok || err != nil {
		t.Fatalf("Exists after Put = %v, %v", ok, err)
	}
	if got, err := other.Get(ctx, id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get from another store = %q, %v", got, err)
	}
	// Ids that are not content hashes name nothing, and never a path.
	for _, bad := range []string{"../secret", "../../secret", "", strings.ToUpper(id), id + "/x", id + "x"} {
		if _, err := s.Get(ctx, bad); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", bad, err)
		}
		if ok, _ := s.Exists(ctx, bad); ok {
			t.Errorf("Exists(%q) = true", bad)
		}
		if err := s.Put(ctx, bad, data); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
	}
}

func TestFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := func() *imagestore.FileStore {
		s, err := imagestore.NewFile(filepath.Join(dir, "images"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	testStore(t, open(), open())
	// One file under its id, no temporary file left behind.
	id := domain.ImageID([]byte("GIF89a some picture"))
	entries, err := os.ReadDir(filepath.Join(dir, "images", id[:2]))
	if err != nil || len(entries) != 1 || entries[0].Name() != id {
		t.Fatalf("files: %v, %v", entries, err)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	schema := pgtest.NewSchema(t, "imagestore_test_")
	open := func() *imagestore.Postgres {
		s, err := imagestore.OpenPostgres(t.Context(), imagestore.PostgresConfig{URL: pgtest.URL(), Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	testStore(t, open(), open())
}

// A schema whose read models kept images in rm_images (before this package
// owned them) hands them over when the images table is created.
func TestPostgresTakesOverReadModelImages(t *testing.T) {
	t.Parallel()
	schema := pgtest.NewSchema(t, "imagestore_test_")
	conn := pgtest.Connect(t)
	data := []byte("\x89PNG\r\n\x1a\n old picture")
	id := domain.ImageID(data)
	q := "CREATE SCHEMA " + schema + "; CREATE TABLE " + schema + ".rm_images (id text PRIMARY KEY, data bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
	if _, err := conn.Exec(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "INSERT INTO "+schema+".rm_images (id, data) VALUES ($1, $2)", id, data); err != nil {
		t.Fatal(err)
	}
	s, err := imagestore.OpenPostgres(t.Context(), imagestore.PostgresConfig{URL: pgtest.URL(), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Get(t.Context(), id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get of an rm_images image = %q, %v", got, err)
	}
}

func TestPostgresConfigValidate(t *testing.T) {
	err := imagestore.PostgresConfig{Schema: strings.Repeat("s", 64), MaxConns: -1}.Validate()
	for _, want := range []string{"URL is required", "invalid schema", "MaxConns"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}
