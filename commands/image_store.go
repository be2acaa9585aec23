package commands

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/examhall/exam/domain"
)

// ImageStore keeps the bytes of question images under their content id
// (domain.ImageID of the bytes). The event log records who uploaded what;
// the bytes live here. Put is idempotent: storing the same id again changes
// nothing. Get and Exists of an id never stored report domain.ErrNotFound
// and false.
type ImageStore interface {
	Put(ctx context.Context, id string, data []byte) error
	Get(ctx context.Context, id string) ([]byte, error)
	// Exists answers without reading the bytes (exam validation asks it
	// for every image a draft names).
	Exists(ctx context.Context, id string) (bool, error)
}

// FileImageStore is the embedded mode's ImageStore: one file per image,
// <dir>/<first two hex digits>/<id>, written atomically (a temporary file
// in the same directory, synced, then renamed), so a crash never leaves a
// partial image under its id.
type FileImageStore struct {
	dir string
}

// NewFileImageStore keeps images under dir, creating it if needed.
func NewFileImageStore(dir string) (*FileImageStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return &FileImageStore{dir: dir}, nil
}

// path is where an image lives; ids are checked first, so no id can name a
// path outside the store.
func (s *FileImageStore) path(id string) (string, bool) {
	if !domain.ValidImageID(id) {
		return "", false
	}
	return filepath.Join(s.dir, id[:2], id), true
}

// Put stores data under id, which must be domain.ImageID(data).
func (s *FileImageStore) Put(_ context.Context, id string, data []byte) error {
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
func (s *FileImageStore) Get(_ context.Context, id string) ([]byte, error) {
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

// Exists reports whether an image is stored.
func (s *FileImageStore) Exists(_ context.Context, id string) (bool, error) {
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

// imageField names the image of a single question.
func imageField(int) string { return "image_id" }

// requireImages reports a validation error naming field(i) for every
// question whose image_id names no stored image.
func requireImages(ctx context.Context, images ImageStore, questions []domain.QuestionInput, field func(i int) string) error {
	fields := map[string]string{}
	known := map[string]bool{}
	for i, q := range questions {
		id := strings.TrimSpace(q.ImageID)
		if id == "" {
			continue
		}
		ok, checked := known[id]
		if !checked {
			if images != nil && domain.ValidImageID(id) {
				var err error
				if ok, err = images.Exists(ctx, id); err != nil {
					return err
				}
			}
			known[id] = ok
		}
		if !ok {
			fields[field(i)] = "no such image"
		}
	}
	return domain.NewValidationError(fields)
}
