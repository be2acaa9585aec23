-- +goose Up
-- Question images, content-addressed (id = SHA-256 of data). They used to
-- live in the read models' rm_images; a schema that has that table hands its
-- rows over once.
CREATE TABLE images (
    id         text PRIMARY KEY,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- +goose StatementBegin
DO $$
BEGIN
    IF to_regclass('rm_images') IS NOT NULL THEN
        INSERT INTO images (id, data, created_at)
        SELECT id, data, created_at FROM rm_images
        ON CONFLICT (id) DO NOTHING;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE images;
