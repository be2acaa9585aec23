package pgread

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
)

// Projection is one durable projection over the store.
type Projection struct {
	s          *Store
	name       string
	categories []string
	// fold writes the rows of one decoded record, inside the transaction
	// that claimed it.
	fold func(ctx context.Context, tx pgx.Tx, rec eventstore.Record, data any) error
}

var _ projections.Projection = (*Projection)(nil)

// Catalog is the projection of exams and levels (permanent name "catalog").
func (s *Store) Catalog() *Projection {
	return &Projection{s: s, name: "catalog", categories: []string{domain.CategoryExam, domain.CategoryLevel}, fold: foldCatalog}
}

// Users is the projection of the user directory (permanent name "users").
func (s *Store) Users() *Projection {
	return &Projection{s: s, name: "users", categories: []string{domain.CategoryUser}, fold: foldUser}
}

// Results is the projection of degrees (permanent name "results").
func (s *Store) Results() *Projection {
	return &Projection{s: s, name: "results", categories: []string{domain.CategoryGrades}, fold: foldResult}
}

// Name is permanent: it names the consumer group and the checkpoint rows.
func (p *Projection) Name() string { return p.name }

// Categories lists the stream categories the projection reads.
func (p *Projection) Categories() []string { return slices.Clone(p.categories) }

const (
	// claimSQL records rec's version as applied unless a version at least
	// as new is: no row returned means a redelivery. It locks the stream's
	// checkpoint row until the transaction ends, so concurrent appliers of
	// one stream take turns (a waiting upsert re-checks the WHERE against
	// the committed row).
	claimSQL = `INSERT INTO rm_applied AS a (projection, stream_id, version) VALUES ($1, $2, $3)
		ON CONFLICT (projection, stream_id) DO UPDATE SET version = EXCLUDED.version
		WHERE a.version < EXCLUDED.version
		RETURNING version`
	// offsetSQL only ever raises a partition's offset: a redelivery from an
	// older offset leaves it.
	offsetSQL = `INSERT INTO rm_offsets AS o (projection, topic, "partition", "offset") VALUES ($1, $2, $3, $4)
		ON CONFLICT (projection, topic, "partition") DO UPDATE SET "offset" = EXCLUDED."offset", updated_at = now()
		WHERE o."offset" < EXCLUDED."offset"`
)

// Apply folds a batch record by record, each in its own transaction (see
// ApplyRecord); an error stops the batch, and the runner delivers it again:
// the records already applied are then skipped by their checkpoints.
func (p *Projection) Apply(ctx context.Context, batch []projections.Delivered) error {
	for _, d := range batch {
		if err := p.ApplyRecord(ctx, d.Record, d.From); err != nil {
			return err
		}
	}
	return nil
}

// ApplyRecord folds one record, at most once per (stream, version), in one
// transaction with the projection's checkpoint and, when from names a
// partition offset, that offset. A record the projection does not read is
// ignored. An unknown or undecodable event is recorded as applied and
// changes no row (the in-memory runner's rule). An error means nothing was
// written.
func (p *Projection) ApplyRecord(ctx context.Context, rec eventstore.Record, from projections.Delivery) error {
	if !slices.Contains(p.categories, eventstore.Category(rec.StreamID)) {
		return nil
	}
	data, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		if !errors.Is(err, domain.ErrUnknownEventType) {
			p.s.log.Error("projection: undecodable event skipped", "projection", p.name, "type", rec.Type,
				"stream", rec.StreamID, "version", rec.Version, "err", err)
		}
		data = nil
	}
	err = pgx.BeginTxFunc(ctx, p.s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var v int64
		err := tx.QueryRow(ctx, claimSQL, p.name, rec.StreamID, rec.Version).Scan(&v)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// A redelivery: the rows already reflect it.
		case err != nil:
			return fmt.Errorf("claim: %w", err)
		case data != nil:
			if err := p.fold(ctx, tx, rec, data); err != nil {
				return err
			}
		}
		// The partition's offset advances even for a redelivery: the
		// projector has passed that point of the log either way.
		if from.HasOffset() {
			if _, err := tx.Exec(ctx, offsetSQL, p.name, from.Topic, from.Partition, from.Offset); err != nil {
				return fmt.Errorf("offset: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgread: %s: apply %s v%d: %w", p.name, rec.StreamID, rec.Version, err)
	}
	return nil
}

// streamKey is the id part of a stream id ("exam-<id>" → "<id>").
func streamKey(streamID string) string { return domain.StreamEntity(streamID) }

func foldCatalog(ctx context.Context, tx pgx.Tx, rec eventstore.Record, data any) error {
	switch eventstore.Category(rec.StreamID) {
	case domain.CategoryExam:
		return foldExam(ctx, tx, streamKey(rec.StreamID), rec.Version, data)
	case domain.CategoryLevel:
		l, ok := projections.FoldLevel(data)
		if !ok {
			return nil
		}
		doc, err := json.Marshal(levelDocOf(l))
		if err != nil {
			return fmt.Errorf("encode level: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO rm_levels (id, name, created_at, doc) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, created_at = EXCLUDED.created_at, doc = EXCLUDED.doc`,
			l.ID, l.Name, l.CreatedAt, doc)
		if err != nil {
			return fmt.Errorf("write level: %w", err)
		}
	}
	return nil
}

// foldExam applies the event to the stored exam with the aggregate's own
// fold, exactly as the in-memory catalogue does.
func foldExam(ctx context.Context, tx pgx.Tx, id string, version int64, data any) error {
	e, found, err := queryDoc[examDoc, domain.Exam](ctx, tx, `SELECT doc FROM rm_exams WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("read exam: %w", err)
	}
	if !found {
		e = &domain.Exam{}
	}
	e.Apply(version, data)
	doc, err := json.Marshal(examDocOf(e))
	if err != nil {
		return fmt.Errorf("encode exam: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO rm_exams (id, level_id, owner_id, status, created_at, created_s, created_ns,
			opens_at, closes_at, needs_grading, version, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO UPDATE SET level_id = EXCLUDED.level_id, owner_id = EXCLUDED.owner_id,
			status = EXCLUDED.status, created_at = EXCLUDED.created_at, created_s = EXCLUDED.created_s,
			created_ns = EXCLUDED.created_ns, opens_at = EXCLUDED.opens_at, closes_at = EXCLUDED.closes_at,
			needs_grading = EXCLUDED.needs_grading, version = EXCLUDED.version, doc = EXCLUDED.doc`,
		id, e.LevelID, e.OwnerID, string(e.Status), e.CreatedAt, e.CreatedAt.Unix(), e.CreatedAt.Nanosecond(),
		e.OpensAt, e.ClosesAt, e.NeedsGrading(), e.Version, doc)
	if err != nil {
		return fmt.Errorf("write exam: %w", err)
	}
	return nil
}

// foldUser applies the event to the stored user with the aggregate's fold.
func foldUser(ctx context.Context, tx pgx.Tx, rec eventstore.Record, data any) error {
	id := streamKey(rec.StreamID)
	u, found, err := queryDoc[userDoc, domain.User](ctx, tx, `SELECT doc FROM rm_users WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("read user: %w", err)
	}
	if !found {
		u = &domain.User{}
	}
	u.Apply(rec.Version, data)
	doc, err := json.Marshal(userDocOf(u))
	if err != nil {
		return fmt.Errorf("encode user: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO rm_users (id, email, name_lower, role, level_id, version, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name_lower = EXCLUDED.name_lower, role = EXCLUDED.role,
			level_id = EXCLUDED.level_id, version = EXCLUDED.version, doc = EXCLUDED.doc`,
		id, u.Email, strings.ToLower(u.FullName), string(u.Role), u.LevelID, u.Version, doc)
	if err != nil {
		return fmt.Errorf("write user: %w", err)
	}
	return nil
}

// foldResult applies a grade event with projections.FoldResult.
func foldResult(ctx context.Context, tx pgx.Tx, rec eventstore.Record, data any) error {
	student, ok := projections.GradedStudent(data)
	if !ok {
		return nil
	}
	examID := streamKey(rec.StreamID)
	var cur *projections.ResultRow
	if _, isOverride := data.(*domain.ScoreOverridden); isOverride {
		var err error
		if cur, _, err = queryDoc[resultDoc, projections.ResultRow](ctx, tx,
			`SELECT doc FROM rm_results WHERE exam_id = $1 AND student_id = $2`, examID, student); err != nil {
			return fmt.Errorf("read result: %w", err)
		}
	}
	row, ok := projections.FoldResult(examID, cur, data)
	if !ok {
		return nil
	}
	doc, err := json.Marshal(resultDocOf(row))
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO rm_results (exam_id, student_id, graded_s, graded_ns, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (exam_id, student_id) DO UPDATE SET graded_s = EXCLUDED.graded_s, graded_ns = EXCLUDED.graded_ns, doc = EXCLUDED.doc`,
		row.ExamID, row.StudentID, row.GradedAt.Unix(), row.GradedAt.Nanosecond(), doc)
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
