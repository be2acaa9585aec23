package kafkabus

import (
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
)

// watermillLogger is watermill's slog adapter, except that the errors the
// sarama client reports while a broker is unreachable ("Sarama internal
// error": connection refused, EOF) are warnings: the client reconnects by
// itself, and an outage of the bus must not flood the error log of every
// process — the relay's and consumers' own retry warnings say what is wrong.
type watermillLogger struct {
	watermill.LoggerAdapter
	warn watermill.LoggerAdapter
}

func newWatermillLogger(log *slog.Logger) watermill.LoggerAdapter {
	return watermillLogger{LoggerAdapter: watermill.NewSlogLogger(log), warn: watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelError: slog.LevelWarn})}
}

func (l watermillLogger) Error(msg string, err error, fields watermill.LogFields) {
	if msg == "Sarama internal error" {
		l.warn.Error(msg, err, fields)
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l watermillLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return watermillLogger{LoggerAdapter: l.LoggerAdapter.With(fields), warn: l.warn.With(fields)}
}
