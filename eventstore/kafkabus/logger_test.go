package kafkabus

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
)

// The sarama client's reconnect noise is a warning; every other watermill
// error stays an error, also through With.
func TestWatermillLoggerDowngradesOnlySaramaReconnectNoise(t *testing.T) {
	var buf bytes.Buffer
	l := newWatermillLogger(slog.New(slog.NewTextHandler(&buf, nil))).With(watermill.LogFields{"topic": "exam.exams"})
	l.Error("Sarama internal error", errors.New("EOF"), nil)
	l.Error("Cannot publish message", errors.New("boom"), nil)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "topic=exam.exams") ||
		!strings.Contains(lines[1], "level=ERROR") {
		t.Fatalf("log lines:\n%s", buf.String())
	}
}
