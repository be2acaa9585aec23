package idempotency

import (
	"bytes"

	"github.com/gin-gonic/gin"
)

// heldWriter holds a response back (status and body; headers go straight
// to the real writer's map) until release, so it can be recorded first.
type heldWriter struct {
	gin.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (w *heldWriter) WriteHeader(code int) {
	if code > 0 && !w.wrote {
		w.status = code
	}
}

func (w *heldWriter) WriteHeaderNow() { w.wrote = true }

func (w *heldWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.body.Write(b)
}

func (w *heldWriter) WriteString(s string) (int, error) {
	w.wrote = true
	return w.body.WriteString(s)
}

func (w *heldWriter) Status() int { return w.status }

func (w *heldWriter) Size() int {
	if !w.wrote {
		return -1
	}
	return w.body.Len()
}

func (w *heldWriter) Written() bool { return w.wrote }

// Flush keeps holding: nothing reaches the client before release.
func (w *heldWriter) Flush() {}

// release sends the held response.
func (w *heldWriter) release() {
	w.ResponseWriter.WriteHeader(w.status)
	if w.body.Len() > 0 {
		_, _ = w.ResponseWriter.Write(w.body.Bytes())
	} else {
		w.ResponseWriter.WriteHeaderNow()
	}
}
