package api

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/gin-gonic/gin"
)

// multipartOverhead is what a multipart body may carry besides its file
// (boundaries, part headers, small fields): upload routes accept a body of
// the file limit plus this, then check the file itself.
const multipartOverhead = 64 << 10

// readUploadedFile reads the "file" field of a multipart/form-data request,
// at most limit bytes, streaming (nothing goes to temporary files). The
// declared type of the part is ignored: callers judge the bytes.
//
//	Content-Type not multipart/form-data      415 unsupported_media_type
//	no "file" field                           400 validation_failed {"file": "is required"}
//	malformed multipart body                  400 validation_failed {"file": ...}
//	file over limit, or body over BodyLimit   413 payload_too_large
func readUploadedFile(c *gin.Context, limit int64) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, NewAPIError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type must be multipart/form-data with the file in the field \"file\"")
	}
	mr := multipart.NewReader(c.Request.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, validationFailed(map[string]string{"file": "is required"})
		}
		if err != nil {
			return nil, uploadReadError(err)
		}
		if part.FormName() != "file" {
			continue // NextPart skips what is left of it
		}
		data, err := io.ReadAll(io.LimitReader(part, limit+1))
		if err != nil {
			return nil, uploadReadError(err)
		}
		if int64(len(data)) > limit {
			return nil, payloadTooLarge(limit)
		}
		return data, nil
	}
}

func uploadReadError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return payloadTooLarge(tooLarge.Limit)
	}
	return validationFailed(map[string]string{"file": "the multipart body is malformed"})
}
