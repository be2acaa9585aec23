package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// MaxImageBytes bounds an uploaded image (2 MiB).
const MaxImageBytes = 2 << 20

// The image types questions may show, recognised by their bytes.
const (
	ImagePNG  = "image/png"
	ImageJPEG = "image/jpeg"
	ImageGIF  = "image/gif"
	ImageWebP = "image/webp"
)

// SniffImageType names the image type of data from its signature, or ""
// when data is none of PNG, JPEG, GIF and WebP. What a client declares is
// never consulted: the bytes decide.
func SniffImageType(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return ImagePNG
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return ImageJPEG
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return ImageGIF
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return ImageWebP
	}
	return ""
}

// ImageID is an image's content address: the hex SHA-256 of its bytes, so
// the same bytes always get the same id.
func ImageID(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ValidImageID reports whether id has the form ImageID gives (64 lower-case
// hex digits); anything else names no image.
func ValidImageID(id string) bool {
	if len(id) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// UploadImage decides an upload by a doctor or admin: the event recording
// it, and its payload (the image's id and type).
func UploadImage(a Actor, data []byte, now time.Time) (Event, *ImageUploaded, error) {
	if !a.IsStaff() {
		return Event{}, nil, ErrForbidden
	}
	contentType := SniffImageType(data)
	var reason string
	switch {
	case len(data) == 0:
		reason = "is empty"
	case len(data) > MaxImageBytes:
		reason = "must be at most 2 MiB"
	case contentType == "":
		return Event{}, nil, fmt.Errorf("%w: must be a PNG, JPEG, GIF or WebP image", ErrUnsupportedMediaType)
	}
	if reason != "" {
		return Event{}, nil, NewValidationError(map[string]string{"file": reason})
	}
	img := &ImageUploaded{ImageID: ImageID(data), ContentType: contentType, Size: len(data), UploadedBy: a.ID, UploadedAt: now.UTC()}
	return Event{Type: TypeImageUploaded, Tags: []string{UserTag(a.ID)}, Data: img}, img, nil
}
