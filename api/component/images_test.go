package component_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
)

// upload posts data as the multipart field "file", declared with filename
// and contentType (which the platform must not believe).
func (e *env) upload(path, token, filename, contentType string, data []byte, headers ...string) *resp {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("note", "a field before the file"); err != nil {
		e.t.Fatal(err)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := part.Write(data); err != nil {
		e.t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	return e.post(path, token, buf.Bytes(), append([]string{"Content-Type", mw.FormDataContentType()}, headers...)...)
}

type imageResp struct {
	ID          string `json:"id"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	URL         string `json:"url"`
}

// testImage encodes a small picture with the given encoder.
func testImage(t *testing.T, encode func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 4, 3), color.Palette{color.White, color.Black})
	img.SetColorIndex(1, 1, 1)
	var buf bytes.Buffer
	if err := encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngImage(t *testing.T) []byte {
	return testImage(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) })
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestImageUpload: the type comes from the bytes, the id from their hash;
// only staff upload, anyone logged in reads, and the bytes survive a
// restart.
func TestImageUpload(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	doc := w.doctor
	pngBytes := pngImage(t)

	var img imageResp
	r := e.upload("/images", doc.Access, "notes.txt", "text/plain", pngBytes).want(t, http.StatusCreated)
	r.decode(t, &img)
	id := sha256Hex(pngBytes)
	if img != (imageResp{ID: id, ContentType: "image/png", Size: len(pngBytes), URL: "/api/v1/images/" + id}) {
		t.Fatalf("a PNG declared text/plain: %+v, want image/png under its SHA-256", img)
	}
	if loc := r.header.Get("Location"); loc != img.URL {
		t.Errorf("Location = %q, want %q", loc, img.URL)
	}

	t.Run("the same bytes are the same image, recorded once", func(t *testing.T) {
		var again imageResp
		e.upload("/images", w.doctor2.Access, "copy.png", "image/png", pngBytes).want(t, http.StatusOK).decode(t, &again)
		if again != img {
			t.Fatalf("second upload: %+v, want %+v", again, img)
		}
		evs := e.events("/audit/events?stream_id=image-"+id, e.admin)
		if len(evs) != 1 || evs[0].Type != "image.uploaded.v1" || evs[0].Actor.ID != doc.ID {
			t.Fatalf("audit of the image: %+v, want one image.uploaded.v1 by the first uploader", evs)
		}
		d := evs[0].Data
		if d["image_id"] != id || d["content_type"] != "image/png" || d["size"] != float64(len(pngBytes)) || d["uploaded_by"] != doc.ID {
			t.Fatalf("event data %v", d)
		}
	})

	t.Run("types by sniffing, whatever is declared", func(t *testing.T) {
		webp := append([]byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00"), make([]byte, 13)...)
		for _, tc := range []struct {
			name, want string
			data       []byte
		}{
			{"jpeg", "image/jpeg", testImage(t, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) })},
			{"gif", "image/gif", testImage(t, func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) })},
			{"webp", "image/webp", webp},
		} {
			var got imageResp
			e.upload("/images", e.admin.Access, "file.bin", "application/octet-stream", tc.data).want(t, http.StatusCreated).decode(t, &got)
			if got.ContentType != tc.want || got.ID != sha256Hex(tc.data) || got.Size != len(tc.data) {
				t.Errorf("%s: %+v", tc.name, got)
			}
		}
	})

	t.Run("what is not an image is refused whatever is declared", func(t *testing.T) {
		head := e.head()
		for name, data := range map[string][]byte{
			"text": []byte("this is plain text, not a picture"),
			"svg":  []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
			"html": []byte(`<!doctype html><script>alert(1)</script>`),
			"pdf":  []byte("%PDF-1.7\n1 0 obj\n"),
		} {
			for _, declared := range [][2]string{{"pic.png", "image/png"}, {"pic.gif", "image/gif"}, {"x.bin", "application/octet-stream"}} {
				e.upload("/images", doc.Access, declared[0], declared[1], data).wantError(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
			}
			_ = name
		}
		if h := e.head(); h != head {
			t.Fatalf("refused uploads moved the head from %d to %d", head, h)
		}
		// An empty file is a missing file, not a wrong type.
		r := e.upload("/images", doc.Access, "pic.png", "image/png", []byte{}).wantError(t, http.StatusBadRequest, "validation_failed")
		if _, ok := r.fields(t)["file"]; !ok {
			t.Errorf("empty: no reason for the field file: %s", r)
		}
	})

	t.Run("at most 2 MiB", func(t *testing.T) {
		big := append(append([]byte{}, pngBytes[:8]...), make([]byte, 2<<20-8)...)
		var got imageResp
		e.upload("/images", doc.Access, "big.png", "image/png", big).want(t, http.StatusCreated).decode(t, &got)
		if got.Size != 2<<20 {
			t.Fatalf("exactly 2 MiB: size %d", got.Size)
		}
		e.upload("/images", doc.Access, "big.png", "image/png", append(big, 0)).wantError(t, http.StatusRequestEntityTooLarge, "payload_too_large")
		e.upload("/images", doc.Access, "huge.png", "image/png", append(big, make([]byte, 1<<20)...)).wantError(t, http.StatusRequestEntityTooLarge, "payload_too_large")
	})

	t.Run("only doctors and admins upload", func(t *testing.T) {
		head := e.head()
		e.upload("/images", w.studentA.Access, "pic.png", "image/png", pngImage(t)).wantError(t, http.StatusForbidden, "forbidden")
		e.upload("/images", "", "pic.png", "image/png", pngBytes).wantError(t, http.StatusUnauthorized, "unauthenticated")
		if h := e.head(); h != head {
			t.Fatalf("refused uploads moved the head from %d to %d", head, h)
		}
	})

	t.Run("a multipart form with the file is required", func(t *testing.T) {
		e.post("/images", doc.Access, map[string]string{"file": "x"}).wantError(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("other", "x")
		_ = mw.Close()
		r := e.post("/images", doc.Access, buf.Bytes(), "Content-Type", mw.FormDataContentType()).wantError(t, http.StatusBadRequest, "validation_failed")
		if r.fields(t)["file"] != "is required" {
			t.Fatalf("no file: %s", r)
		}
	})

	t.Run("staff read it, with a strong ETag and a long private cache; students only through an exam", func(t *testing.T) {
		// No exam shows the image yet: to a student it does not exist.
		for _, u := range []*user{w.studentA, w.other} {
			e.get("/images/"+id, u.Access).wantError(t, http.StatusNotFound, "not_found")
			e.call(http.MethodGet, "/images/"+id, u.Access, nil, "If-None-Match", `"`+id+`"`).wantError(t, http.StatusNotFound, "not_found")
		}
		for _, u := range []*user{doc, w.doctor2, e.admin} {
			r := e.get("/images/"+id, u.Access).want(t, http.StatusOK)
			if !bytes.Equal(r.body, pngBytes) || r.header.Get("Content-Type") != "image/png" {
				t.Fatalf("GET as %s: %d bytes of %q", u.Role, len(r.body), r.header.Get("Content-Type"))
			}
			if r.header.Get("ETag") != `"`+id+`"` || r.header.Get("Cache-Control") != "private, max-age=31536000, immutable" {
				t.Fatalf("headers: ETag %q, Cache-Control %q", r.header.Get("ETag"), r.header.Get("Cache-Control"))
			}
		}
		for _, inm := range []string{`"` + id + `"`, `W/"` + id + `"`, `"other", "` + id + `"`, "*"} {
			r := e.call(http.MethodGet, "/images/"+id, w.doctor2.Access, nil, "If-None-Match", inm).want(t, http.StatusNotModified)
			if len(r.body) != 0 || r.header.Get("ETag") != `"`+id+`"` {
				t.Fatalf("If-None-Match %s: %d bytes, ETag %q", inm, len(r.body), r.header.Get("ETag"))
			}
		}
		e.call(http.MethodGet, "/images/"+id, w.doctor2.Access, nil, "If-None-Match", `"stale"`).want(t, http.StatusOK)
		e.get("/images/"+id, "").wantError(t, http.StatusUnauthorized, "unauthenticated")
		missing := sha256Hex([]byte("never uploaded"))
		for _, bad := range []string{missing, "not-an-id", id[:63], "..%2f..%2fjwt.secret"} {
			r := e.get("/images/"+bad, doc.Access).wantError(t, http.StatusNotFound, "not_found")
			if r.header.Get("Cache-Control") != "" {
				t.Fatalf("a 404 must not be cached for a year: %v", r.header)
			}
		}
		e.call(http.MethodGet, "/images/"+missing, doc.Access, nil, "If-None-Match", "*").wantError(t, http.StatusNotFound, "not_found")
	})

	t.Run("questions name stored images only", func(t *testing.T) {
		qs := standardQuestions()
		qs[1]["image_id"] = id
		ex := e.draftExam(doc, w.levelA, map[string]any{"questions": qs})
		if got := ex.Questions[1].ImageID; got == nil || *got != id {
			t.Fatalf("image_id of q2 = %v", got)
		}
		missing := sha256Hex([]byte("never uploaded"))
		qs[0]["image_id"], qs[3]["image_id"] = missing, "nonsense"
		r := e.post("/exams", doc.Access, examBody("With images", w.levelA, map[string]any{"questions": qs})).wantError(t, http.StatusBadRequest, "validation_failed")
		if f := r.fields(t); len(f) != 2 || f["questions[0].image_id"] != "no such image" || f["questions[3].image_id"] != "no such image" {
			t.Fatalf("fields %v", f)
		}
		e.put("/exams/"+ex.ID, doc.Access, examBody("With images", w.levelA, map[string]any{"questions": qs})).wantError(t, http.StatusBadRequest, "validation_failed")
		q := map[string]any{"text": "Look", "kind": "true_false", "correct": []string{"true"}, "image_id": missing}
		r = e.post("/exams/"+ex.ID+"/questions", doc.Access, q).wantError(t, http.StatusBadRequest, "validation_failed")
		if r.fields(t)["image_id"] != "no such image" {
			t.Fatalf("add question: %s", r)
		}
		e.put("/exams/"+ex.ID+"/questions/q1", doc.Access, q).wantError(t, http.StatusBadRequest, "validation_failed")
		q["image_id"] = id
		e.put("/exams/"+ex.ID+"/questions/q1", doc.Access, q).want(t, http.StatusOK)

		// A student of the level sees the image id and fetches the image.
		e.post("/exams/"+ex.ID+"/publish", doc.Access, nil).want(t, http.StatusOK)
		seen := e.getExam(ex.ID, w.studentA)
		if got := seen.Questions[0].ImageID; got == nil || *got != id {
			t.Fatalf("the student sees image_id %v", got)
		}
		e.get("/images/"+id, w.studentA.Access).want(t, http.StatusOK)
		e.call(http.MethodGet, "/images/"+id, w.studentA.Access, nil, "If-None-Match", `"`+id+`"`).want(t, http.StatusNotModified)
		// A student of another level still does not.
		e.get("/images/"+id, w.other.Access).wantError(t, http.StatusNotFound, "not_found")
	})

	t.Run("the bytes survive a restart", func(t *testing.T) {
		e.restart()
		relogged := e.login(w.studentA.Email, w.studentA.Password)
		if r := e.get("/images/"+id, relogged.Access).want(t, http.StatusOK); !bytes.Equal(r.body, pngBytes) {
			t.Fatal("the image changed across a restart")
		}
	})
}
