package commands

import "context"

// ImageStore keeps the bytes of question images under their content id
// (domain.ImageID of the bytes); cmd/ wires one of internal/imagestore's.
// The event log records who uploaded what, and whether an image exists is
// decided from the log alone (Repository.ImageUploaded); only the bytes live
// here. Put is idempotent: storing the same id again changes nothing.
type ImageStore interface {
	Put(ctx context.Context, id string, data []byte) error
}
