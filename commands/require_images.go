package commands

import (
	"context"
	"strings"

	"github.com/examhall/exam/domain"
)

// imageField names the image of a single question.
func imageField(int) string { return "image_id" }

// requireImages reports a validation error naming field(i) for every
// question whose image_id names no uploaded image (by the event log).
func requireImages(ctx context.Context, repo *Repository, questions []domain.QuestionInput, field func(i int) string) error {
	fields := map[string]string{}
	known := map[string]bool{}
	for i, q := range questions {
		id := strings.TrimSpace(q.ImageID)
		if id == "" {
			continue
		}
		ok, checked := known[id]
		if !checked {
			var err error
			if ok, err = repo.ImageUploaded(ctx, id); err != nil {
				return err
			}
			known[id] = ok
		}
		if !ok {
			fields[field(i)] = "no such image"
		}
	}
	return domain.NewValidationError(fields)
}
