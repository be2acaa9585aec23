package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event type names. They are stored and published as they are: never rename
// one, add a new version instead (docs/events.md is checked against this list).
const (
	TypeExamDrafted          = "exam.drafted.v1"
	TypeExamUpdated          = "exam.updated.v1"
	TypeQuestionAdded        = "exam.question_added.v1"
	TypeQuestionUpdated      = "exam.question_updated.v1"
	TypeQuestionRemoved      = "exam.question_removed.v1"
	TypeExamPublished        = "exam.published.v1"
	TypeExamOpened           = "exam.opened.v1"
	TypeExamClosed           = "exam.closed.v1"
	TypeAnswerKeyCorrected   = "exam.answer_key_corrected.v1"
	TypeExamGraded           = "exam.graded.v1"
	TypeAccommodationSet     = "exam.accommodation_set.v1"
	TypeAccommodationRemoved = "exam.accommodation_removed.v1"
	TypeAttemptStarted       = "attempt.started.v1"
	TypeAnswerSaved          = "attempt.answer_saved.v1"
	TypeAttemptSubmitted     = "attempt.submitted.v1"
	TypeAttemptScored        = "grade.attempt_scored.v1"
	TypeScoreOverridden      = "grade.score_overridden.v1"
	TypeUserRegistered       = "user.registered.v1"
	TypeUserUpdated          = "user.updated.v1"
	TypeUserDeactivated      = "user.deactivated.v1"
	TypeSessionsRevoked      = "user.sessions_revoked.v1"
	TypeUserReactivated      = "user.reactivated.v1"
	TypePasswordSet          = "credentials.password_set.v1"
	TypeEmailReserved        = "email.reserved.v1"
	TypeEmailReleased        = "email.released.v1"
	TypeLevelCreated         = "level.created.v1"
	TypeSessionStarted       = "session.started.v1"
	TypeSessionRefreshed     = "session.refreshed.v1"
	TypeSessionRevoked       = "session.revoked.v1"
	TypeIdempotencyRecorded  = "idempotency.response_recorded.v1"
	TypeImageUploaded        = "image.uploaded.v1"
)

// Stream categories: the prefix of every stream id before the first '-'.
const (
	CategoryExam        = "exam"
	CategoryAttempt     = "attempt"
	CategoryGrades      = "grades"
	CategoryUser        = "user"
	CategoryCredentials = "credentials"
	CategoryEmail       = "email"
	CategoryLevel       = "level"
	CategorySession     = "session"
	CategoryIdempotency = "idempotency"
	CategoryImage       = "image"
)

// Stream ids.
func ExamStream(examID string) string         { return CategoryExam + "-" + examID }
func AttemptStream(attemptID string) string   { return CategoryAttempt + "-" + attemptID }
func GradesStream(examID string) string       { return CategoryGrades + "-" + examID }
func UserStream(userID string) string         { return CategoryUser + "-" + userID }
func CredentialsStream(userID string) string  { return CategoryCredentials + "-" + userID }
func LevelStream(levelID string) string       { return CategoryLevel + "-" + levelID }
func SessionStream(familyID string) string    { return CategorySession + "-" + familyID }
func IdempotencyStream(keyHash string) string { return CategoryIdempotency + "-" + keyHash }
func ImageStream(imageID string) string       { return CategoryImage + "-" + imageID }

// ParseStream splits a stream id into its category and the id of the entity
// it belongs to ("exam-<id>" → "exam", "<id>"): the inverse of the functions
// above, and the one place that knows the format. A stream id without a
// '-' is all category.
func ParseStream(streamID string) (category, id string) {
	category, id, _ = strings.Cut(streamID, "-")
	return category, id
}

// StreamEntity is the entity id of a stream id (ParseStream's second half).
func StreamEntity(streamID string) string {
	_, id := ParseStream(streamID)
	return id
}

// EmailStream is the reservation stream that makes an email unique without a
// read-model race: registering appends to it at NoStream, so of two racing
// registrations exactly one wins. The address is hashed to keep it out of ids.
func EmailStream(email string) string {
	sum := sha256.Sum256([]byte(NormalizeEmail(email)))
	return CategoryEmail + "-" + hex.EncodeToString(sum[:])
}

// Tags index events for audit queries.
func ExamTag(examID string) string       { return "exam:" + examID }
func StudentTag(studentID string) string { return "student:" + studentID }
func UserTag(userID string) string       { return "user:" + userID }

// Event is a domain event: its type, its typed payload and its index tags.
type Event struct {
	Type string
	Data any
	Tags []string
}

// Payloads. Times that rules depend on are part of the payload, so a fold
// needs nothing but the data.

type ExamDrafted struct {
	ExamID           string     `json:"exam_id"`
	Title            string     `json:"title"`
	Description      string     `json:"description"`
	LevelID          string     `json:"level_id"`
	OwnerID          string     `json:"owner_id"`
	OpensAt          *time.Time `json:"opens_at"`
	ClosesAt         *time.Time `json:"closes_at"`
	TimeLimitSeconds int        `json:"time_limit_seconds"`
	ShuffleQuestions bool       `json:"shuffle_questions,omitempty"`
	ShuffleChoices   bool       `json:"shuffle_choices,omitempty"`
	Questions        []Question `json:"questions"`
	CreatedAt        time.Time  `json:"created_at"`
}

type ExamUpdated struct {
	ExamID           string     `json:"exam_id"`
	Title            string     `json:"title"`
	Description      string     `json:"description"`
	LevelID          string     `json:"level_id"`
	OpensAt          *time.Time `json:"opens_at"`
	ClosesAt         *time.Time `json:"closes_at"`
	TimeLimitSeconds int        `json:"time_limit_seconds"`
	ShuffleQuestions bool       `json:"shuffle_questions,omitempty"`
	ShuffleChoices   bool       `json:"shuffle_choices,omitempty"`
	Questions        []Question `json:"questions"`
}

type QuestionAdded struct {
	ExamID   string   `json:"exam_id"`
	Question Question `json:"question"`
}

type QuestionUpdated struct {
	ExamID   string   `json:"exam_id"`
	Question Question `json:"question"`
}

type QuestionRemoved struct {
	ExamID     string `json:"exam_id"`
	QuestionID string `json:"question_id"`
}

type ExamPublished struct {
	ExamID      string     `json:"exam_id"`
	Status      ExamStatus `json:"status"` // open or scheduled
	OpensAt     *time.Time `json:"opens_at"`
	ClosesAt    *time.Time `json:"closes_at"`
	PublishedAt time.Time  `json:"published_at"`
}

type ExamOpened struct {
	ExamID   string    `json:"exam_id"`
	OpenedAt time.Time `json:"opened_at"`
}

type ExamClosed struct {
	ExamID   string    `json:"exam_id"`
	ClosedAt time.Time `json:"closed_at"`
	Reason   string    `json:"reason"` // "manual" or "schedule"
}

type AnswerKeyCorrected struct {
	ExamID          string   `json:"exam_id"`
	QuestionID      string   `json:"question_id"`
	Correct         []string `json:"correct"`
	Points          float64  `json:"points"`
	PreviousCorrect []string `json:"previous_correct"`
	PreviousPoints  float64  `json:"previous_points"`
}

type ExamGraded struct {
	ExamID   string    `json:"exam_id"`
	Round    int       `json:"round"`
	Attempts int       `json:"attempts"`
	Changed  int       `json:"changed"`
	Trigger  string    `json:"trigger"` // "close", "answer_key", "regrade"
	GradedAt time.Time `json:"graded_at"`
	// GradesVersion is the version of the exam's grades stream once this
	// round's scores are recorded: a results read model that has applied
	// the grades stream up to it lists every score of the round. 0 in
	// events written before it existed.
	GradesVersion int64 `json:"grades_version,omitempty"`
}

// AccommodationSet gives a student their own time on an exam (replacing
// any earlier accommodation of theirs).
type AccommodationSet struct {
	ExamID         string    `json:"exam_id"`
	StudentID      string    `json:"student_id"`
	ExtraSeconds   int       `json:"extra_seconds"`
	TimeMultiplier float64   `json:"time_multiplier"`
	SetAt          time.Time `json:"set_at"`
}

// AccommodationRemoved takes a student's accommodation away.
type AccommodationRemoved struct {
	ExamID    string    `json:"exam_id"`
	StudentID string    `json:"student_id"`
	RemovedAt time.Time `json:"removed_at"`
}

type AttemptStarted struct {
	AttemptID string     `json:"attempt_id"`
	ExamID    string     `json:"exam_id"`
	StudentID string     `json:"student_id"`
	StartedAt time.Time  `json:"started_at"`
	Deadline  *time.Time `json:"deadline"`
}

type AnswerSaved struct {
	AttemptID  string    `json:"attempt_id"`
	ExamID     string    `json:"exam_id"`
	StudentID  string    `json:"student_id"`
	QuestionID string    `json:"question_id"`
	Choices    []string  `json:"choices"`
	SavedAt    time.Time `json:"saved_at"`
}

type AttemptSubmitted struct {
	AttemptID   string    `json:"attempt_id"`
	ExamID      string    `json:"exam_id"`
	StudentID   string    `json:"student_id"`
	SubmittedAt time.Time `json:"submitted_at"`
}

type QuestionScore struct {
	QuestionID    string   `json:"question_id"`
	Choices       []string `json:"choices"`
	PointsAwarded float64  `json:"points_awarded"`
}

type AttemptScored struct {
	ExamID    string          `json:"exam_id"`
	AttemptID string          `json:"attempt_id"`
	StudentID string          `json:"student_id"`
	Round     int             `json:"round"`
	Score     float64         `json:"score"`
	MaxScore  float64         `json:"max_score"`
	Answered  int             `json:"answered"`
	Questions []QuestionScore `json:"questions"`
	GradedAt  time.Time       `json:"graded_at"`
}

type ScoreOverridden struct {
	ExamID        string    `json:"exam_id"`
	StudentID     string    `json:"student_id"`
	Score         float64   `json:"score"`
	MaxScore      float64   `json:"max_score"`
	PreviousScore *float64  `json:"previous_score"`
	Source        string    `json:"source"` // "import"
	OverriddenAt  time.Time `json:"overridden_at"`
}

type UserRegistered struct {
	UserID       string    `json:"user_id"`
	Email        string    `json:"email"`
	FullName     string    `json:"full_name"`
	Role         Role      `json:"role"`
	LevelID      string    `json:"level_id,omitempty"`
	IDNumber     string    `json:"id_number,omitempty"`
	Subject      string    `json:"subject,omitempty"`
	RegisteredAt time.Time `json:"registered_at"`
}

// UserUpdated carries only the fields that changed.
type UserUpdated struct {
	UserID   string  `json:"user_id"`
	FullName *string `json:"full_name,omitempty"`
	LevelID  *string `json:"level_id,omitempty"`
	IDNumber *string `json:"id_number,omitempty"`
	Subject  *string `json:"subject,omitempty"`
}

type UserDeactivated struct {
	UserID string `json:"user_id"`
}

type UserReactivated struct {
	UserID string `json:"user_id"`
}

// PasswordSet lives in the private credentials stream: never published to the
// bus and redacted from audit responses.
type PasswordSet struct {
	UserID       string `json:"user_id"`
	PasswordHash string `json:"password_hash"`
}

type EmailReserved struct {
	Email  string `json:"email"`
	UserID string `json:"user_id"`
}

// EmailReleased gives up a reservation whose user was never registered (a
// roster import that could not reserve every address releases the ones it
// had): the address is free at once.
type EmailReleased struct {
	Email  string `json:"email"`
	UserID string `json:"user_id"`
}

type LevelCreated struct {
	LevelID   string    `json:"level_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type SessionStarted struct {
	FamilyID  string    `json:"family_id"`
	UserID    string    `json:"user_id"`
	StartedAt time.Time `json:"started_at"`
	// Epoch is the user's session epoch when the family started (0, and
	// absent, before any revocation of all sessions).
	Epoch int64 `json:"epoch,omitempty"`
}

// SessionsRevoked ends every session of the user at once: each
// refresh-token family and each access token issued before it (they carry
// an older epoch). Reason: "password_changed" or "logout_all".
type SessionsRevoked struct {
	UserID string `json:"user_id"`
	Reason string `json:"reason"`
}

type SessionRefreshed struct {
	FamilyID   string `json:"family_id"`
	Generation int    `json:"generation"`
}

type SessionRevoked struct {
	FamilyID string `json:"family_id"`
	Reason   string `json:"reason"` // "logout", "reuse"
}

// IdempotencyRecorded stores the first response to a command sent with an
// Idempotency-Key, so a retry gets the same answer from any replica.
type IdempotencyRecorded struct {
	KeyHash     string          `json:"key_hash"`
	RequestHash string          `json:"request_hash"`
	Status      int             `json:"status"`
	Body        json.RawMessage `json:"body"`
}

// ImageUploaded records the first upload of an image's bytes (the id is
// their SHA-256, so uploading the same bytes again records nothing). The
// bytes live in the image store, not in the log.
type ImageUploaded struct {
	ImageID     string    `json:"image_id"`
	ContentType string    `json:"content_type"`
	Size        int       `json:"size"`
	UploadedBy  string    `json:"uploaded_by"`
	UploadedAt  time.Time `json:"uploaded_at"`
}

// ErrUnknownEventType is returned by DecodeEvent for a type it does not know;
// projections acknowledge and skip such events.
var ErrUnknownEventType = errors.New("unknown event type")

// payloadFactories maps every event type to a constructor of its payload.
// It is read-only after package initialisation.
var payloadFactories = map[string]func() any{
	TypeExamDrafted:          func() any { return &ExamDrafted{} },
	TypeExamUpdated:          func() any { return &ExamUpdated{} },
	TypeQuestionAdded:        func() any { return &QuestionAdded{} },
	TypeQuestionUpdated:      func() any { return &QuestionUpdated{} },
	TypeQuestionRemoved:      func() any { return &QuestionRemoved{} },
	TypeExamPublished:        func() any { return &ExamPublished{} },
	TypeExamOpened:           func() any { return &ExamOpened{} },
	TypeExamClosed:           func() any { return &ExamClosed{} },
	TypeAnswerKeyCorrected:   func() any { return &AnswerKeyCorrected{} },
	TypeExamGraded:           func() any { return &ExamGraded{} },
	TypeAccommodationSet:     func() any { return &AccommodationSet{} },
	TypeAccommodationRemoved: func() any { return &AccommodationRemoved{} },
	TypeAttemptStarted:       func() any { return &AttemptStarted{} },
	TypeAnswerSaved:          func() any { return &AnswerSaved{} },
	TypeAttemptSubmitted:     func() any { return &AttemptSubmitted{} },
	TypeAttemptScored:        func() any { return &AttemptScored{} },
	TypeScoreOverridden:      func() any { return &ScoreOverridden{} },
	TypeUserRegistered:       func() any { return &UserRegistered{} },
	TypeUserUpdated:          func() any { return &UserUpdated{} },
	TypeUserDeactivated:      func() any { return &UserDeactivated{} },
	TypeSessionsRevoked:      func() any { return &SessionsRevoked{} },
	TypeUserReactivated:      func() any { return &UserReactivated{} },
	TypePasswordSet:          func() any { return &PasswordSet{} },
	TypeEmailReserved:        func() any { return &EmailReserved{} },
	TypeEmailReleased:        func() any { return &EmailReleased{} },
	TypeLevelCreated:         func() any { return &LevelCreated{} },
	TypeSessionStarted:       func() any { return &SessionStarted{} },
	TypeSessionRefreshed:     func() any { return &SessionRefreshed{} },
	TypeSessionRevoked:       func() any { return &SessionRevoked{} },
	TypeIdempotencyRecorded:  func() any { return &IdempotencyRecorded{} },
	TypeImageUploaded:        func() any { return &ImageUploaded{} },
}

// EventTypes lists every event type the domain defines.
func EventTypes() []string {
	out := make([]string, 0, len(payloadFactories))
	for t := range payloadFactories {
		out = append(out, t)
	}
	return out
}

// NewPayload returns a pointer to an empty payload of the given type.
func NewPayload(eventType string) (any, error) {
	f, ok := payloadFactories[eventType]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, eventType)
	}
	return f(), nil
}

// DecodeEvent decodes a stored payload into its typed struct (a pointer).
func DecodeEvent(eventType string, data []byte) (any, error) {
	if eventType == TypeAnswerSaved {
		// The hot event of a regrade replay: try the reflection-free path
		// first (decode_fast.go); it refuses anything encoding/json would
		// decode differently.
		if p, ok := decodeAnswerSavedFast(data); ok {
			return p, nil
		}
	}
	p, err := NewPayload(eventType)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	return p, nil
}

// SensitiveEventTypes are redacted from audit responses: their data is
// replaced by the user id alone.
func IsSensitiveEventType(eventType string) bool {
	return eventType == TypePasswordSet || eventType == TypeIdempotencyRecorded
}
