package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// ImportQuestionsHandler appends the questions of an imported file to a
// draft, all or nothing: the domain validates every question first
// (domain.Exam.AddQuestions), and the questions are one append to the
// exam's stream, so a refused file, a lost race or a crash leaves the exam
// as it was. Images the file embeds are validated with the questions and
// stored (bytes, then image.uploaded.v1, as UploadImageHandler does) only
// once the questions have been accepted, just before that append: a
// failure between the two leaves at most an image no question names,
// which is harmless (images are content-addressed and stored once).
type ImportQuestionsHandler struct{ handlerBase }

// ImportedQuestion is one question of a file and the bytes of its image
// (nil when it has none; Question.ImageID is then kept as given).
type ImportedQuestion struct {
	Question domain.QuestionInput
	Image    []byte
}

func (h *ImportQuestionsHandler) Handle(ctx context.Context, m Meta, examID string, in []ImportedQuestion) (ExamResult, []domain.Question, error) {
	inputs := make([]domain.QuestionInput, len(in))
	images := map[string][]byte{}
	fields := map[string]string{}
	now := h.now()
	for i, q := range in {
		inputs[i] = q.Question
		if q.Image == nil {
			continue
		}
		_, img, err := domain.UploadImage(m.Actor, q.Image, now)
		var ve *domain.ValidationError
		switch {
		case errors.As(err, &ve):
			fields[fmt.Sprintf("questions[%d].image", i)] = ve.Fields["file"]
			continue
		case err != nil:
			return ExamResult{}, nil, err
		case h.images == nil:
			return ExamResult{}, nil, fmt.Errorf("import questions: no image store: %w", domain.ErrUnavailable)
		}
		inputs[i].ImageID = img.ImageID
		images[img.ImageID] = q.Image
	}
	if err := domain.NewValidationError(fields); err != nil {
		return ExamResult{}, nil, err
	}
	// Image ids a question names itself must exist; embedded ones are
	// stored below.
	given := make([]domain.QuestionInput, len(in))
	for i := range in {
		if in[i].Image == nil {
			given[i] = inputs[i]
		}
	}
	if err := requireImages(ctx, h.repo, given, func(i int) string { return fmt.Sprintf("questions[%d].image_id", i) }); err != nil {
		return ExamResult{}, nil, err
	}
	var added []domain.Question
	stored := map[string]bool{}
	res, err := h.mutateExam(ctx, m, examID, func(e *domain.Exam, now time.Time) ([]domain.Event, error) {
		events, qs, err := e.AddQuestions(m.Actor, inputs, h.newID)
		if err != nil {
			return nil, err
		}
		for id, data := range images {
			if stored[id] {
				continue
			}
			if err := h.storeImage(ctx, m, id, data, now); err != nil {
				return nil, err
			}
			stored[id] = true
		}
		added = qs
		return events, nil
	})
	return res, added, err
}

// storeImage keeps an image's bytes and records its upload once.
func (h *ImportQuestionsHandler) storeImage(ctx context.Context, m Meta, id string, data []byte, now time.Time) error {
	ev, _, err := domain.UploadImage(m.Actor, data, now)
	if err != nil {
		return err
	}
	if err := h.images.Put(ctx, id, data); err != nil {
		return err
	}
	_, err = h.w.append(ctx, m, domain.ImageStream(id), eventstore.NoStream, now, []domain.Event{ev})
	if errors.Is(err, domain.ErrConflict) {
		return nil // uploaded before
	}
	return err
}
