package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
)

// ImageSource serves stored images (commands.ImageStore in the platform).
type ImageSource interface {
	Get(ctx context.Context, id string) ([]byte, error)
	Exists(ctx context.Context, id string) (bool, error)
}

// imageBodyLimit bounds the whole upload request of an image.
const imageBodyLimit = domain.MaxImageBytes + multipartOverhead

// imageCacheControl: an image id is the hash of its bytes, so what a client
// got under an id never changes.
const imageCacheControl = "private, max-age=31536000, immutable"

type imageView struct {
	ID          string `json:"id"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	URL         string `json:"url"`
}

func imageURL(id string) string { return "/api/v1/images/" + id }

// uploadImage stores a question image (doctors and admins): 201 when the
// bytes are new, 200 when they were uploaded before (same bytes, same id).
func (s *Server) uploadImage(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin, domain.RoleDoctor) {
		return
	}
	data, err := readUploadedFile(c, domain.MaxImageBytes)
	if err != nil {
		Abort(c, err)
		return
	}
	m := s.meta(c)
	res, err := s.cmd.UploadImage.Handle(c.Request.Context(), m, data)
	if err != nil {
		Abort(c, err)
		return
	}
	status := http.StatusCreated
	if !res.Created {
		status = http.StatusOK
	}
	setPosition(c, res.Position)
	c.Header("Location", imageURL(res.ID))
	c.JSON(status, imageView{ID: res.ID, ContentType: res.ContentType, Size: res.Size, URL: imageURL(res.ID)})
}

// getImage serves an image's bytes, with a strong ETag (the id) and a
// year-long private cache. Staff get any image. A student gets an image
// only while a question of an exam they can read shows it: an id is the
// hash of the bytes, so it is no secret (a doctor reuses a picture, a
// student saw it last year), and a sealed paper's picture must not be
// readable before the paper opens. Anything else is 404, as for an image
// that does not exist, before any lookup (so not even a 304 tells).
func (s *Server) getImage(c *gin.Context) {
	id := c.Param("id")
	if s.images == nil || !domain.ValidImageID(id) {
		Abort(c, domain.ErrNotFound)
		return
	}
	ctx := c.Request.Context()
	if a := actorFrom(c); a.Role == domain.RoleStudent {
		ok, err := s.studentSeesImage(ctx, a, id)
		if err != nil {
			Abort(c, err)
			return
		}
		if !ok {
			Abort(c, domain.ErrNotFound)
			return
		}
	}
	tag := `"` + id + `"`
	if inm := c.GetHeader("If-None-Match"); inm != "" && etagListMatches(inm, tag) {
		ok, err := s.images.Exists(ctx, id)
		if err != nil {
			Abort(c, err)
			return
		}
		if ok {
			c.Header("ETag", tag)
			c.Header("Cache-Control", imageCacheControl)
			c.Status(http.StatusNotModified)
			return
		}
	}
	data, err := s.images.Get(ctx, id)
	if err != nil {
		Abort(c, err)
		return
	}
	ct := domain.SniffImageType(data)
	if ct == "" {
		Abort(c, fmt.Errorf("image %s: the stored bytes are not an image", id))
		return
	}
	c.Header("ETag", tag)
	c.Header("Cache-Control", imageCacheControl)
	c.Header("Content-Length", strconv.Itoa(len(data)))
	c.Data(http.StatusOK, ct, data)
}

// etagListMatches applies If-None-Match's weak comparison: tag is in the
// comma-separated list (W/ prefixes ignored), or the list is "*".
func etagListMatches(list, tag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

// studentImagePage is the page size of the exam scan of studentSeesImage.
const studentImagePage = 500

// studentSeesImage reports whether a question of an exam the student may
// read now (of their level, published, not sealed) shows the image. It
// scans the level's exams in the catalogue: a few dozen per level, and
// browsers keep an image a year (Cache-Control immutable), so a student
// asks for each image about once.
func (s *Server) studentSeesImage(ctx context.Context, a domain.Actor, imageID string) (bool, error) {
	now := s.now()
	f := projections.ExamFilter{Viewer: a, LevelID: a.LevelID, Limit: studentImagePage}
	for {
		exams, more, err := s.reads.ListExams(ctx, f)
		if err != nil {
			return false, err
		}
		for _, e := range exams {
			if e.LevelID != a.LevelID || e.Status == domain.StatusDraft || projections.Sealed(e, now) {
				continue
			}
			for _, q := range e.Questions {
				if q.ImageID == imageID {
					return true, nil
				}
			}
		}
		if !more || len(exams) == 0 {
			return false, nil
		}
		last := exams[len(exams)-1]
		f.AfterCreated, f.AfterID = last.CreatedAt, last.ID
	}
}
