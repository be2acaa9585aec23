package imagestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/examhall/exam/domain"
)

// FileStore is the embedded mode's image store: one file per image,
// <dir>/<first two hex digits>/<id>, written atomically (a temporary file
// in the same directory, synced, then renamed), so a crash never leaves a
// partial image under its id.
type FileStore struct {
	dir string
}

// NewFile keeps images under dir, creating it if needed.
func NewFile(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return &FileStore{dir: dir}, nil
}

// path is where an image lives; ids are checked first, so no id can name a
// path outside the store.
func (s *FileStore) path(id string) (string, bool) {
	if !domain.ValidImageID(id) {
		return "", false
	}
	return filepath.Join(s.dir, id[:2], id), true
}

// Put stores data under id, which must be domain.ImageID(data).
func (s *FileStore) Put(_ context.Context, id string, data []byte) error {
	p, ok := s.path(id)
	if !ok {
		return fmt.Errorf("image store: invalid image id %q", id)
	}
	if _, err := os.Stat(p); err == nil {
		return nil // content-addressed: these bytes are stored already
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("image store: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("image store: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("image store: close: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("image store: rename: %w", err)
	}
	committed = true
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("image store: sync dir: %w", err)
	}
	return nil
}

// Get reads an image's bytes.
func (s *FileStore) Get(_ context.Context, id string) ([]byte, error) {
	p, ok := s.path(id)
	if !ok {
		return nil, fmt.Errorf("image %q: %w", id, domain.ErrNotFound)
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("image %s: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return data, nil
}

// Exists reports whether an image is stored, without reading it (a
// conditional GET asks it).
func (s *FileStore) Exists(_ context.Context, id string) (bool, error) {
	p, ok := s.path(id)
	if !ok {
		return false, nil
	}
	_, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("image store: %w", err)
	}
	return true, nil
}
