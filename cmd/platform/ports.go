package platform

import (
	"github.com/examhall/exam/api"
	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/commands"
)

// commandTokens gives the write side the token port it declares
// (commands.TokenIssuer) over auth's issuer: commands never import auth, so
// the claims are copied into commands' own type here, where adapters meet.
type commandTokens struct{ *auth.TokenIssuer }

func (t commandTokens) ParseRefresh(token string) (commands.RefreshClaims, error) {
	c, err := t.TokenIssuer.ParseRefresh(token)
	if err != nil {
		return commands.RefreshClaims{}, err
	}
	return commands.RefreshClaims{UserID: c.UserID, FamilyID: c.FamilyID, Generation: c.Generation}, nil
}

// imageStore is what the platform needs of an image store: the write side
// puts (commands.ImageStore), the HTTP layer reads (api.ImageSource).
type imageStore interface {
	commands.ImageStore
	api.ImageSource
}
