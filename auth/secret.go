package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateSecret returns the token signing secret stored at path. The
// file's bytes are used as they are (at least MinSecretLength of them). When
// the file does not exist, MinSecretLength random bytes are written to it
// with mode 0600 atomically: into a temporary file in the same directory,
// synced, then linked into place, so a reader never sees a partial secret
// and two processes starting together end up with the same one (the loser
// of the race reads the winner's file). Where hard links are not supported
// it falls back to rename.
func LoadOrCreateSecret(path string) ([]byte, error) {
	secret, err := readSecret(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create secret directory: %w", err)
	}
	secret = make([]byte, MinSecretLength)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("auth: generate secret: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".secret-*.tmp") // created with mode 0600
	if err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	if _, err := tmp.Write(secret); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: write secret: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: write secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("auth: write secret: %w", err)
	}

	// Link fails if path appeared meanwhile; rename would overwrite it.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readSecret(path)
		}
		if err := os.Rename(tmpName, path); err != nil {
			return nil, fmt.Errorf("auth: install secret: %w", err)
		}
	}
	syncDir(dir)
	return secret, nil
}

func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read secret: %w", err)
	}
	if len(b) < MinSecretLength {
		return nil, fmt.Errorf("auth: secret in %s is %d bytes, need at least %d", path, len(b), MinSecretLength)
	}
	return b, nil
}

// syncDir makes the new directory entry durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
