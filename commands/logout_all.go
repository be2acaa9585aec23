package commands

import (
	"context"

	"github.com/examhall/exam/domain"
)

// LogoutAllHandler ends every session of the acting user ("sign out
// everywhere"): one event in the user's stream moves its session epoch, and
// every refresh-token family and access token of the older epoch is refused
// from the next request on, on every replica.
type LogoutAllHandler struct{ handlerBase }

func (h *LogoutAllHandler) Handle(ctx context.Context, m Meta) (uint64, error) {
	if m.Actor.ID == "" {
		return 0, domain.ErrUnauthenticated
	}
	return revokeSessions(ctx, h.handlerBase, m, m.Actor.ID, "logout_all")
}

// revokeSessions appends the end of every session of userID.
func revokeSessions(ctx context.Context, h handlerBase, m Meta, userID, reason string) (uint64, error) {
	var pos uint64
	err := retryOnConflict(ctx, func() error {
		u, err := h.repo.LoadUser(ctx, userID)
		if err != nil {
			return err
		}
		events, err := u.RevokeSessions(reason)
		if err != nil {
			return err
		}
		res, err := h.w.append(ctx, m, domain.UserStream(userID), u.Version, h.now(), events)
		if err != nil {
			return err
		}
		pos = res.LastPosition
		return nil
	})
	return pos, err
}
