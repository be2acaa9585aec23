// Package commands is the write side: one handler per command (one file
// each), each loading the aggregates it needs from the event store, asking
// the domain to decide, and appending the resulting events with optimistic
// concurrency. It never reads projections: the write side does not lean on
// read models.
package commands

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/google/uuid"
)

// PasswordHasher hashes and verifies passwords (auth.PasswordHasher
// implements it).
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, encoded, password string) (bool, error)
}

// TokenIssuer issues and checks tokens (cmd/ adapts auth.TokenIssuer to it).
type TokenIssuer interface {
	IssueAccess(userID, role string, epoch int64) (string, time.Time, error)
	IssueRefresh(userID, familyID string, generation int) (string, time.Time, error)
	ParseRefresh(token string) (RefreshClaims, error)
	IssueDevice(userID string) (string, time.Time, error)
	ParseDevice(token string) (userID, deviceID string, err error)
}

// RefreshClaims are what the write side needs of a validated refresh token:
// whose it is and which generation of which session family it carries.
type RefreshClaims struct {
	UserID     string
	FamilyID   string
	Generation int
}

// LoginThrottle limits failed logins per account (auth's throttles
// implement it).
type LoginThrottle interface {
	Check(ctx context.Context, account string) error
	Failed(ctx context.Context, account string)
	Succeeded(ctx context.Context, account string)
}

// LoginAdmission orders logins for the password hash under load
// (auth.LoginAdmission): priority is for an existing, unlocked account.
type LoginAdmission interface {
	Admit(ctx context.Context, priority bool) (release func(), err error)
}

// Deps are what the handlers share. Now and NewID are injected so tests
// control time and ids.
type Deps struct {
	Store    eventstore.Store
	Now      func() time.Time
	NewID    func() string
	Hasher   PasswordHasher
	Tokens   TokenIssuer
	Throttle LoginThrottle
	// Admission orders logins for hashing under load (optional: without
	// it logins queue on the hasher alone).
	Admission LoginAdmission
	Logger    *slog.Logger
	// CacheSize bounds the aggregate cache (streams); 0 means 100,000.
	CacheSize int
	// Images keeps question images (optional: without it no image can be
	// uploaded and no question may name one).
	Images ImageStore
}

// Validate reports every missing dependency at once.
func (d *Deps) Validate() error {
	var errs []error
	if d.Store == nil {
		errs = append(errs, errors.New("commands: Store is required"))
	}
	if d.Hasher == nil {
		errs = append(errs, errors.New("commands: Hasher is required"))
	}
	if d.Tokens == nil {
		errs = append(errs, errors.New("commands: Tokens is required"))
	}
	if d.Throttle == nil {
		errs = append(errs, errors.New("commands: Throttle is required"))
	}
	return errors.Join(errs...)
}

func (d *Deps) withDefaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.NewID == nil {
		d.NewID = func() string { return uuid.NewString() }
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.CacheSize <= 0 {
		d.CacheSize = 100_000
	}
}

// Meta is the context of one command: who sends it, the request it belongs
// to, and the client's Idempotency-Key if any.
type Meta struct {
	Actor          domain.Actor
	RequestID      string
	IdempotencyKey string
	// IfMatch, when set, is the exam version the client expects (If-Match).
	IfMatch *int64
}

// idNamespace scopes deterministic event ids (UUIDv5) to this platform.
var idNamespace = uuid.MustParse("5f0c8f1e-2b3a-4c7d-9e6f-1a2b3c4d5e6f")

// eventID is random, or deterministic when the command carries an
// idempotency key, so that a retried command appends nothing new: the store
// recognises the first event id and returns the original append.
func (m Meta) eventID(newID func() string, stream string, i int) string {
	if m.IdempotencyKey == "" {
		return newID()
	}
	return uuid.NewSHA1(idNamespace, fmt.Appendf(nil, "%s|%s|%s|%d", m.Actor.ID, m.IdempotencyKey, stream, i)).String()
}

// entityID names a new aggregate: random, or derived from the idempotency
// key, so a creation retried on any replica targets the same stream and the
// store recognises the retry instead of creating a second exam, level or user.
func (m Meta) entityID(newID func() string, kind string) string {
	if m.IdempotencyKey == "" {
		return newID()
	}
	return uuid.NewSHA1(idNamespace, fmt.Appendf(nil, "entity|%s|%s|%s", kind, m.Actor.ID, m.IdempotencyKey)).String()
}

// AttemptID is deterministic: one attempt per student and exam.
func AttemptID(examID, studentID string) string {
	return uuid.NewSHA1(idNamespace, []byte("attempt|"+examID+"|"+studentID)).String()
}

// Handlers groups every command handler; cmd/ wires it once.
type Handlers struct {
	Repo *Repository
	// Now is the platform's clock, the one commands decide with (the API
	// reports it as the server's time, for students' countdowns).
	Now func() time.Time

	CreateLevel    *CreateLevelHandler
	RegisterUser   *RegisterUserHandler
	UpdateUser     *UpdateUserHandler
	BootstrapAdmin *BootstrapAdminHandler
	Login          *LoginHandler
	Refresh        *RefreshHandler
	Logout         *LogoutHandler
	LogoutAll      *LogoutAllHandler
	ChangePassword *ChangePasswordHandler
	DraftExam      *DraftExamHandler
	ReplaceExam    *ReplaceExamHandler
	AddQuestion    *AddQuestionHandler
	UpdateQuestion *UpdateQuestionHandler
	RemoveQuestion *RemoveQuestionHandler
	PublishExam    *PublishExamHandler
	CloseExam      *CloseExamHandler
	CorrectKey     *CorrectAnswerKeyHandler
	ScheduleTick   *ScheduleTickHandler
	StartAttempt   *StartAttemptHandler
	SaveAnswers    *SaveAnswersHandler
	SubmitAttempt  *SubmitAttemptHandler
	GradeExam      *GradeExamHandler
	Idempotency    *IdempotencyHandler
	UploadImage    *UploadImageHandler
	ImportResults  *ImportResultsHandler
	// ImportQuestions appends a question file's questions to a draft.
	ImportQuestions *ImportQuestionsHandler
	// ImportRoster registers the users of a roster file, all or none.
	ImportRoster *ImportRosterHandler
	ExamStats    *ExamStatsHandler

	SetAccommodation    *SetAccommodationHandler
	RemoveAccommodation *RemoveAccommodationHandler
}

// New builds every handler over the same dependencies.
func New(d Deps) (*Handlers, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	d.withDefaults()
	repo := NewRepository(d.Store, d.CacheSize)
	w := &writer{store: d.Store, now: d.Now, newID: d.NewID}
	base := handlerBase{locks: &streamLocks{}, repo: repo, w: w, now: d.Now, newID: d.NewID, log: d.Logger, images: d.Images}
	return &Handlers{
		Repo:                repo,
		Now:                 d.Now,
		CreateLevel:         &CreateLevelHandler{base},
		RegisterUser:        &RegisterUserHandler{handlerBase: base, hasher: d.Hasher},
		UpdateUser:          &UpdateUserHandler{handlerBase: base, hasher: d.Hasher},
		BootstrapAdmin:      &BootstrapAdminHandler{handlerBase: base, hasher: d.Hasher},
		Login:               &LoginHandler{handlerBase: base, hasher: d.Hasher, tokens: d.Tokens, throttle: d.Throttle, admission: d.Admission},
		Refresh:             &RefreshHandler{handlerBase: base, tokens: d.Tokens},
		Logout:              &LogoutHandler{handlerBase: base, tokens: d.Tokens},
		LogoutAll:           &LogoutAllHandler{base},
		ChangePassword:      &ChangePasswordHandler{handlerBase: base, hasher: d.Hasher, throttle: d.Throttle},
		DraftExam:           &DraftExamHandler{base},
		ReplaceExam:         &ReplaceExamHandler{base},
		AddQuestion:         &AddQuestionHandler{base},
		UpdateQuestion:      &UpdateQuestionHandler{base},
		RemoveQuestion:      &RemoveQuestionHandler{base},
		PublishExam:         &PublishExamHandler{base},
		CloseExam:           &CloseExamHandler{base},
		CorrectKey:          &CorrectAnswerKeyHandler{base},
		ScheduleTick:        &ScheduleTickHandler{base},
		StartAttempt:        &StartAttemptHandler{base},
		SaveAnswers:         &SaveAnswersHandler{base},
		SubmitAttempt:       &SubmitAttemptHandler{base},
		GradeExam:           &GradeExamHandler{base},
		Idempotency:         &IdempotencyHandler{base},
		UploadImage:         &UploadImageHandler{base},
		ImportResults:       &ImportResultsHandler{base},
		ImportQuestions:     &ImportQuestionsHandler{base},
		ImportRoster:        &ImportRosterHandler{handlerBase: base, hasher: d.Hasher},
		ExamStats:           &ExamStatsHandler{base},
		SetAccommodation:    &SetAccommodationHandler{base},
		RemoveAccommodation: &RemoveAccommodationHandler{base},
	}, nil
}

// handlerBase is what every handler embeds.
type handlerBase struct {
	locks  *streamLocks
	repo   *Repository
	w      *writer
	now    func() time.Time
	newID  func() string
	log    *slog.Logger
	images ImageStore
}

// maxConflictRetries bounds how often a handler reloads and decides again
// after losing an optimistic-concurrency race (to another replica: within
// one process, commands on a stream are serialised by streamLocks).
const maxConflictRetries = 8

// retryOnConflict runs decide-and-append again when another writer won the
// race for the stream version; the domain re-checks its rules each time.
// Retries back off with full jitter (0 to 2 ms, doubling to 0 to 64 ms) so
// racing replicas spread out; after maxConflictRetries tries the conflict
// is returned.
func retryOnConflict(ctx context.Context, fn func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.Multiplier, b.RandomizationFactor = time.Millisecond, 32*time.Millisecond, 2, 1
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := fn()
		if err != nil && !errors.Is(err, domain.ErrConflict) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(maxConflictRetries), backoff.WithMaxElapsedTime(0))
	return err
}

// streamLocks serialises commands on the same stream within this process, so
// concurrent requests for one attempt or exam queue instead of losing
// optimistic-concurrency races to each other. Striped: bounded memory.
type streamLocks [4096]sync.Mutex

func (l *streamLocks) lock(stream string) func() {
	h := fnv.New32a()
	h.Write([]byte(stream))
	m := &l[h.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock
}
