package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// UploadImageHandler stores an image for questions (doctors and admins).
// The image's type comes from its bytes, its id is their SHA-256: the bytes
// go to the image store first, then image.uploaded.v1 is appended to
// image-<id> at NoStream, so the log never names an image the store lacks
// and the same bytes uploaded again (by anyone) record nothing more.
type UploadImageHandler struct{ handlerBase }

// ImageResult is an uploaded image.
type ImageResult struct {
	ID          string
	ContentType string
	Size        int
	// Created is false when these bytes had been uploaded before.
	Created  bool
	Position uint64
}

func (h *UploadImageHandler) Handle(ctx context.Context, m Meta, data []byte) (ImageResult, error) {
	now := h.now()
	ev, img, err := domain.UploadImage(m.Actor, data, now)
	if err != nil {
		return ImageResult{}, err
	}
	if h.images == nil {
		return ImageResult{}, fmt.Errorf("upload image: no image store: %w", domain.ErrUnavailable)
	}
	if err := h.images.Put(ctx, img.ImageID, data); err != nil {
		return ImageResult{}, err
	}
	out := ImageResult{ID: img.ImageID, ContentType: img.ContentType, Size: img.Size, Created: true}
	res, err := h.w.append(ctx, m, domain.ImageStream(img.ImageID), eventstore.NoStream, now, []domain.Event{ev})
	switch {
	case errors.Is(err, domain.ErrConflict):
		out.Created = false // the stream exists: uploaded before
	case err != nil:
		return ImageResult{}, err
	default:
		out.Position = res.LastPosition
	}
	return out, nil
}
