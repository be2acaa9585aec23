package commands_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
)

func TestFileImageStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := commands.NewFileImageStore(filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("GIF89a some picture")
	id := domain.ImageID(data)
	if ok, err := s.Exists(ctx, id); ok || err != nil {
		t.Fatalf("Exists before Put = %v, %v", ok, err)
	}
	if _, err := s.Get(ctx, id); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Get before Put: %v, want ErrNotFound", err)
	}
	for range 2 { // Put is idempotent
		if err := s.Put(ctx, id, data); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(ctx, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if ok, err := s.Exists(ctx, id); !ok || err != nil {
		t.Fatalf("Exists after Put = %v, %v", ok, err)
	}
	// One file under its id, no temporary file left behind.
	entries, err := os.ReadDir(filepath.Join(dir, "images", id[:2]))
	if err != nil || len(entries) != 1 || entries[0].Name() != id {
		t.Fatalf("files: %v, %v", entries, err)
	}
	// Ids that are not content hashes name nothing, and never a path.
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../secret", "../../secret", "", strings.ToUpper(id), id + "/x"} {
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
