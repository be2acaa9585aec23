// Package platform wires the exam platform from configuration (Config,
// validated at start-up): it is the one place that picks concrete adapters —
// the embedded (pebble) or PostgreSQL event store, the in-process bus or
// Kafka (kafkabus), in-process or PostgreSQL read models (pgread), the
// Redis student cache and login throttle, the file or PostgreSQL image
// store (internal/imagestore) — and adapts auth to the ports commands
// declare (ports.go). It starts the roles the configuration names: the API
// (with the web admin), the relay, the projections (one projections.Runner
// each), the grader and the scheduler; RebuildReadModels replays the log
// into the PostgreSQL read models. cmd/examd and the component tests both
// start the platform through it.
package platform
