// Package embedded is the durable, single-process event store backend, built
// on the pebble LSM key-value store. It implements eventstore.Store,
// eventstore.Waiter and eventstore.CheckpointStore.
//
// All appends go through one committer goroutine (see commit.go), which
// validates them, assigns gap-free global positions and applies every
// pending append as one pebble batch with pebble.Sync; a syncer goroutine
// waits for the WAL fsync, in commit order, before answering. Concurrent
// appends therefore share fsyncs, and an append returns only once it is
// durable. Readers see only durable events: everything they return is at or
// below the position of the last synced batch, so a crash can never take
// back an event a reader saw. The key layout is described in keys.go.
package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"

	"github.com/examhall/exam/eventstore"
)

// Options tunes the store. The zero value is a sensible default.
type Options struct {
	// Logger receives the store's own logs (open, commit failures).
	Logger *slog.Logger
	// MaxBatchRequests caps how many appends one group commit takes
	// (default 1024).
	MaxBatchRequests int
	// MaxBatchEvents stops adding appends to a group once it holds this many
	// events (default 16384). A single larger append still commits alone.
	MaxBatchEvents int
	// StreamCacheSize caps the committer's in-memory stream cache (default
	// 100000 streams): a stream's version and the actor and tag index keys
	// it has written. A miss costs one pebble read, and writing the stream's
	// index keys again with its next append.
	StreamCacheSize int
	// MemTableSize is pebble's memtable size in bytes (default 16 MiB).
	MemTableSize uint64
	// CacheSize is pebble's block cache size in bytes (default 128 MiB).
	// Pebble reserves its memtables (two while one flushes) out of the
	// cache, so it is raised to at least 4 × MemTableSize.
	CacheSize int64
}

func (o *Options) applyDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBatchRequests <= 0 {
		o.MaxBatchRequests = 1024
	}
	if o.MaxBatchEvents <= 0 {
		o.MaxBatchEvents = 16384
	}
	if o.StreamCacheSize <= 0 {
		o.StreamCacheSize = 100_000
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 16 << 20
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 128 << 20
	}
	o.CacheSize = max(o.CacheSize, 4*int64(o.MemTableSize))
}

// Store is the embedded event store. It is safe for concurrent use.
type Store struct {
	db   *pebble.DB
	dir  string
	opts Options
	log  *slog.Logger

	// mu guards closed and keeps pebble open while a call uses it: every
	// method holds it shared, Close holds it exclusively.
	mu     sync.RWMutex
	closed bool

	reqs  chan *appendReq
	syncq chan inflight // committer → syncer, in commit order
	stop  chan struct{} // closed by Close: the committer must exit
	done  chan struct{} // closed by the syncer when both have exited

	// failed is set when a commit or a sync failed: appends are refused.
	failed atomic.Pointer[error]

	// durable is the position of the last event whose batch is synced. It is
	// the upper bound of everything readers return.
	durable atomic.Uint64

	notify eventstore.Broadcaster // after every commit, and on Close

	// ids is the committer's filter of stored event ids; Append hashes ids
	// with it (its seed never changes).
	ids *idFilter

	// unsynced counts the groups applied and not yet synced; the syncer
	// sends on synced (without blocking) each time it decrements it.
	unsynced atomic.Int32
	synced   chan struct{}
	// syncNanos is how long the last synced group took from its apply to
	// the end of its sync.
	syncNanos atomic.Int64

	c committer
}

var (
	_ eventstore.Store           = (*Store)(nil)
	_ eventstore.Waiter          = (*Store)(nil)
	_ eventstore.CheckpointStore = (*Store)(nil)
)

// Open opens (or creates) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	opts.applyDefaults()
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:              cache,
		MemTableSize:       opts.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		// A pebble error log line, not a crash, for background errors.
		Logger: pebbleLogger{opts.Logger},
	}
	po.Levels = make([]pebble.LevelOptions, 7)
	for i := range po.Levels {
		// Bloom filters make the point reads of the committer (event-id and
		// stream-head lookups, mostly misses) cheap.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("embedded: open %s: %w", dir, err)
	}
	if err := checkFormat(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", dir, err)
	}
	last, err := recoverLastPosition(db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", dir, err)
	}
	// Positions are gap-free and every event has one 'E' key, so last is
	// the number of ids to load.
	ids, err := loadIDFilter(db, last)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", dir, err)
	}
	s := &Store{
		db:     db,
		dir:    dir,
		opts:   opts,
		log:    opts.Logger,
		reqs:   make(chan *appendReq, opts.MaxBatchRequests),
		syncq:  make(chan inflight, 16),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		ids:    ids,
		synced: make(chan struct{}, 1),
	}
	s.durable.Store(last)
	s.c = committer{
		s:        s,
		ids:      ids,
		lastPos:  last,
		streams:  make(map[string]*streamState),
		groupIDs: make(map[string]idEntry),
		minutes:  make(map[int64]posRange),
	}
	go s.c.run()
	go s.syncer()
	s.log.Info("event store opened", "dir", dir, "last_position", last,
		"event_ids", ids.count(), "id_filter_bytes", ids.bytes())
	return s, nil
}

// checkFormat accepts a directory in dataFormat, and stamps a new one (a
// directory without events: nothing in it depends on the key layout).
func checkFormat(db *pebble.DB) error {
	v, closer, err := db.Get(metaFormatKey)
	switch {
	case err == nil:
		defer closer.Close()
		f, n := binary.Uvarint(v)
		if n <= 0 || n != len(v) {
			return fmt.Errorf("%w: unreadable format key %x", errDataFormat, v)
		}
		if f != dataFormat {
			return fmt.Errorf("%w: the directory holds data format %d, this build reads format %d only", errDataFormat, f, dataFormat)
		}
		return nil
	case !errors.Is(err, pebble.ErrNotFound):
		return err
	}
	for _, prefix := range []byte{prefixActor, prefixEventID, prefixTag, prefixLog, prefixTime, prefixStream} {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
		if err != nil {
			return err
		}
		found := it.First()
		if err := it.Close(); err != nil {
			return err
		}
		if found {
			return fmt.Errorf("%w: the directory holds events in data format 1 (per-event actor and tag index keys), "+
				"this build reads format %d only; there is no migration, recreate the directory", errDataFormat, dataFormat)
		}
	}
	return db.Set(metaFormatKey, binary.AppendUvarint(nil, dataFormat), pebble.Sync)
}

// loadIDFilter builds the filter of stored event ids from the 'E' keys, sized
// for twice the expected count.
func loadIDFilter(db *pebble.DB, expected uint64) (*idFilter, error) {
	f := newIDFilter(int(max(2*min(expected, 1<<40), minFilterIDs)))
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEventID}, UpperBound: []byte{prefixEventID + 1}})
	if err != nil {
		return nil, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		f.add(f.hashBytes(it.Key()[1:]))
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("load event ids: %w", err)
	}
	return f, nil
}

// recoverLastPosition reads the last position from the log's last key and
// the meta key, and trusts the larger (they are written in the same batch).
func recoverLastPosition(db *pebble.DB) (uint64, error) {
	var last uint64
	it, err := db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixLog},
		UpperBound: []byte{prefixLog + 1},
	})
	if err != nil {
		return 0, err
	}
	if it.Last() {
		k := it.Key()
		if len(k) != 9 {
			_ = it.Close()
			return 0, errCorrupt
		}
		last = binary.BigEndian.Uint64(k[1:])
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	v, closer, err := db.Get(metaLastPosKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return 0, err
	default:
		if len(v) == 8 {
			last = max(last, binary.BigEndian.Uint64(v))
		}
		_ = closer.Close()
	}
	return last, nil
}

// Dir is the directory the store was opened in.
func (s *Store) Dir() string { return s.dir }

// Close stops the committer (pending appends fail with ErrClosed), waits for
// running calls and closes pebble. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	close(s.stop)
	<-s.done
	s.notify.Close() // wake every waiter; they see closed
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("embedded: close: %w", err)
	}
	s.log.Info("event store closed", "dir", s.dir)
	return nil
}

// acquire takes the shared lock unless the store is closed.
func (s *Store) acquire() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return eventstore.ErrClosed
	}
	return nil
}

func (s *Store) release() { s.mu.RUnlock() }

// Head returns the position of the last durable event.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	return s.durable.Load(), nil
}

// WaitForEvents blocks until Head > afterPosition, ctx ends, or the store
// closes (ErrClosed).
func (s *Store) WaitForEvents(ctx context.Context, afterPosition uint64) error {
	return s.notify.Wait(ctx, func() (bool, error) {
		s.mu.RLock()
		closed := s.closed
		s.mu.RUnlock()
		if closed {
			return false, eventstore.ErrClosed
		}
		return s.durable.Load() > afterPosition, nil
	})
}

func (s *Store) signal() { s.notify.Broadcast() }

// LoadCheckpoint returns the named checkpoint, 0 when it was never saved.
func (s *Store) LoadCheckpoint(ctx context.Context, name string) (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	v, closer, err := s.db.Get(checkpointKey(nil, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("embedded: load checkpoint %q: %w", name, err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("embedded: load checkpoint %q: %w", name, errCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

// SaveCheckpoint stores the named checkpoint durably (synced).
func (s *Store) SaveCheckpoint(ctx context.Context, name string, position uint64) error {
	if name == "" {
		return errors.New("embedded: save checkpoint: empty name")
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	if err := s.db.Set(checkpointKey(nil, name), appendU64(nil, position), pebble.Sync); err != nil {
		return fmt.Errorf("embedded: save checkpoint %q: %w", name, err)
	}
	return nil
}

// pebbleLogger sends pebble's own logs to slog. Fatalf must not return, as
// pebble's contract requires: it panics after logging.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic("pebble: " + msg)
}
