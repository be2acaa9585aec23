package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestSniffImageType(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ImagePNG},
		{"jpeg", "\xff\xd8\xff\xe0\x00\x10JFIF", ImageJPEG},
		{"gif87a", "GIF87a\x01\x00", ImageGIF},
		{"gif89a", "GIF89a\x01\x00", ImageGIF},
		{"webp", "RIFF\x24\x00\x00\x00WEBPVP8 ", ImageWebP},
		{"a RIFF that is not WebP (wav)", "RIFF\x24\x00\x00\x00WAVEfmt ", ""},
		{"text", "hello, this is not an image", ""},
		{"svg is not accepted", `<svg xmlns="http://www.w3.org/2000/svg"></svg>`, ""},
		{"a truncated png signature", "\x89PNG\r\n", ""},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SniffImageType([]byte(tc.data)); got != tc.want {
				t.Fatalf("SniffImageType = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestImageID(t *testing.T) {
	a, b := ImageID([]byte("GIF89a one")), ImageID([]byte("GIF89a two"))
	if a == b || a != ImageID([]byte("GIF89a one")) || !ValidImageID(a) {
		t.Fatalf("ids %s, %s: want distinct, stable and valid", a, b)
	}
	// sha256("") is well known.
	if got := ImageID(nil); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("ImageID(nil) = %s", got)
	}
	for _, bad := range []string{"", "abc", strings.ToUpper(a), a + "0", "../" + a[3:], strings.Repeat("g", 64)} {
		if ValidImageID(bad) {
			t.Errorf("ValidImageID(%q) = true", bad)
		}
	}
}

func TestUploadImage(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nrest of the image")
	ev, img, err := UploadImage(owner, png, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := ImageUploaded{ImageID: ImageID(png), ContentType: ImagePNG, Size: len(png), UploadedBy: owner.ID, UploadedAt: t0}
	if got := wire(t, ev).(*ImageUploaded); *got != want || *img != want || ev.Type != TypeImageUploaded {
		t.Fatalf("event %s %+v, image %+v; want %+v", ev.Type, got, img, want)
	}
	if _, _, err := UploadImage(admin, png, t0); err != nil {
		t.Fatalf("admin upload: %v", err)
	}
	for _, tc := range []struct {
		name string
		a    Actor
		data []byte
		want error
	}{
		{"a student", student, png, ErrForbidden},
		{"the system", systemActor, png, ErrForbidden},
		{"empty", owner, nil, ErrValidation},
		{"not an image", owner, []byte("just text"), ErrUnsupportedMediaType},
		{"over 2 MiB", owner, append(png, make([]byte, MaxImageBytes)...), ErrValidation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := UploadImage(tc.a, tc.data, t0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if tc.want == ErrValidation {
				wantFields(t, err, "file")
			}
		})
	}
}
