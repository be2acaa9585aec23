package pgread

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
)

// Images keeps question images in rm_images, for replicas that share no
// disk. Like the file store it is content-addressed: ids are domain.ImageID
// of the bytes, so storing an id again changes nothing.
type Images struct{ s *Store }

var _ commands.ImageStore = (*Images)(nil)

// Images returns the image store over the same database.
func (s *Store) Images() *Images { return &Images{s: s} }

// Put stores data under id, which must be domain.ImageID(data).
func (im *Images) Put(ctx context.Context, id string, data []byte) error {
	if !domain.ValidImageID(id) {
		return fmt.Errorf("image store: invalid image id %q", id)
	}
	if _, err := im.s.pool.Exec(ctx, `INSERT INTO rm_images (id, data) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, data); err != nil {
		return fmt.Errorf("image store: put %s: %w", id, err)
	}
	return nil
}

// Get reads an image's bytes; an id never stored is domain.ErrNotFound.
func (im *Images) Get(ctx context.Context, id string) ([]byte, error) {
	if !domain.ValidImageID(id) {
		return nil, fmt.Errorf("image %q: %w", id, domain.ErrNotFound)
	}
	var data []byte
	err := im.s.pool.QueryRow(ctx, `SELECT data FROM rm_images WHERE id = $1`, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("image %s: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("image store: get %s: %w", id, err)
	}
	return data, nil
}

// Exists reports whether an image is stored, without reading its bytes.
func (im *Images) Exists(ctx context.Context, id string) (bool, error) {
	if !domain.ValidImageID(id) {
		return false, nil
	}
	var ok bool
	if err := im.s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rm_images WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("image store: exists %s: %w", id, err)
	}
	return ok, nil
}
