-- +goose Up

-- Per projection and stream, the last applied stream version: written in
-- the same transaction as the rows, so a redelivered record is recognised.
CREATE TABLE rm_applied (
    projection text NOT NULL,
    stream_id  text NOT NULL,
    version    bigint NOT NULL,
    PRIMARY KEY (projection, stream_id)
);

-- Per projection, topic and partition, the highest bus offset applied
-- (the consumer's checkpoint, for readers waiting on the projector).
CREATE TABLE rm_offsets (
    projection  text NOT NULL,
    topic       text NOT NULL,
    "partition" integer NOT NULL,
    "offset"    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, "partition")
);

-- Exams: the folded domain.Exam in doc; the other columns index it.
-- Ordering keys are C-collated (byte order, as Go compares strings) and the
-- creation time is kept to the nanosecond in (created_s, created_ns), as
-- timestamptz keeps microseconds and paging must match the in-memory order.
CREATE TABLE rm_exams (
    id            text COLLATE "C" PRIMARY KEY,
    level_id      text NOT NULL,
    owner_id      text NOT NULL,
    status        text NOT NULL,
    created_at    timestamptz NOT NULL,
    created_s     bigint NOT NULL,
    created_ns    integer NOT NULL,
    opens_at      timestamptz,
    closes_at     timestamptz,
    needs_grading boolean NOT NULL,
    version       bigint NOT NULL,
    doc           jsonb NOT NULL
);
CREATE INDEX rm_exams_order ON rm_exams (created_s, created_ns, id);
CREATE INDEX rm_exams_level ON rm_exams (level_id, created_s, created_ns, id);
CREATE INDEX rm_exams_owner ON rm_exams (owner_id, created_s, created_ns, id);
CREATE INDEX rm_exams_due ON rm_exams (id) WHERE status IN ('scheduled', 'open');
CREATE INDEX rm_exams_grading ON rm_exams (id) WHERE needs_grading;

CREATE TABLE rm_levels (
    id         text COLLATE "C" PRIMARY KEY,
    name       text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    doc        jsonb NOT NULL
);

-- Users: the folded domain.User in doc. name_lower is strings.ToLower of the
-- full name, computed in Go so that search matches the in-memory rule.
CREATE TABLE rm_users (
    id         text PRIMARY KEY,
    email      text COLLATE "C" NOT NULL,
    name_lower text NOT NULL,
    role       text NOT NULL,
    level_id   text NOT NULL,
    version    bigint NOT NULL,
    doc        jsonb NOT NULL
);
CREATE INDEX rm_users_email ON rm_users (email);
CREATE INDEX rm_users_role ON rm_users (role, email);

-- Results: the projections.ResultRow in doc, one per exam and student.
CREATE TABLE rm_results (
    exam_id    text NOT NULL,
    student_id text COLLATE "C" NOT NULL,
    graded_s   bigint NOT NULL,
    graded_ns  integer NOT NULL,
    doc        jsonb NOT NULL,
    PRIMARY KEY (exam_id, student_id)
);
CREATE INDEX rm_results_student ON rm_results (student_id, graded_s DESC, graded_ns DESC);

-- Question images, content-addressed (id = SHA-256 of data).
CREATE TABLE rm_images (
    id         text PRIMARY KEY,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE rm_images;
DROP TABLE rm_results;
DROP TABLE rm_users;
DROP TABLE rm_levels;
DROP TABLE rm_exams;
DROP TABLE rm_offsets;
DROP TABLE rm_applied;
