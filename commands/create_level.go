package commands

import (
	"context"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// CreateLevelHandler creates a level (admins only).
type CreateLevelHandler struct{ handlerBase }

// LevelResult is the created level and where it was appended.
type LevelResult struct {
	Level    domain.Level
	Position uint64
}

func (h *CreateLevelHandler) Handle(ctx context.Context, m Meta, name string) (LevelResult, error) {
	if m.Actor.Role != domain.RoleAdmin {
		return LevelResult{}, domain.ErrForbidden
	}
	id := m.entityID(h.newID, "level")
	now := h.now()
	ev, err := domain.CreateLevel(id, name, now)
	if err != nil {
		return LevelResult{}, err
	}
	res, err := h.w.append(ctx, m, domain.LevelStream(id), eventstore.NoStream, now, []domain.Event{ev})
	if err != nil {
		return LevelResult{}, err
	}
	if res.Duplicate {
		stored, _, err := h.repo.LoadLevel(ctx, id)
		return LevelResult{Level: stored, Position: res.LastPosition}, err
	}
	d := ev.Data.(*domain.LevelCreated)
	return LevelResult{Level: domain.Level{ID: d.LevelID, Name: d.Name, CreatedAt: d.CreatedAt}, Position: res.LastPosition}, nil
}
