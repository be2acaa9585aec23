package cassandra

import (
	"context"
	"fmt"
	"strings"

	"github.com/gocql/gocql"
	"github.com/google/uuid"
)

// eventCols are the columns every table that holds whole events has, in
// the order scanRecord reads them.
const eventCols = `stream_id, version, event_id, position, type, occurred_at, actor_id, actor_role,
	correlation_id, causation_id, tags, data, append_from, append_to, append_last`

const eventColDefs = `stream_id text, version bigint, event_id text, position bigint, type text,
	occurred_at bigint, actor_id text, actor_role text, correlation_id text, causation_id text,
	tags list<text>, data blob, append_from bigint, append_to bigint, append_last bigint`

// tables are created at Open with CREATE TABLE IF NOT EXISTS. Each gets a
// fixed table id derived from the keyspace and its name: Cassandra 5.0
// gives a table created without one a random id, and two processes creating
// the same table at once would then disagree about it for good (the known
// concurrent-schema-change problem before transactional metadata). With the
// same id both creations are the same change.
var tables = []struct{ name, ddl string }{
	// The streams: the source of truth. Partitions of streamBucket versions
	// (an append lives in the partition of its first version, so a partition
	// may hold up to MaxAppend-1 versions of the next range). Only written
	// by conditional batches (lightweight transactions), never plainly.
	{"events", `(partition_nr bigint, ` + eventColDefs + `,
		PRIMARY KEY ((stream_id, partition_nr), version)) WITH CLUSTERING ORDER BY (version ASC)`},
	// Claims of event ids (which stream and version an append meant to put
	// each at), written before the stream's transaction; a claim counts only
	// when the stream holds that event there (idempotent retries, duplicate ids).
	{"event_ids", `(event_id text PRIMARY KEY, stream_id text, partition_nr bigint, version bigint)`},
	// The global feed: minute buckets × feedShards shards, ordered by position.
	// status: 0 pending (written before the stream's transaction), 1
	// committed, 2 void (the transaction failed). See feed.go.
	{"feed", `(bucket bigint, shard int, status tinyint, ` + eventColDefs + `,
		PRIMARY KEY ((bucket, shard), position))`},
	// The minutes that have feed rows, so a tailer far behind skips empty ones.
	{"feed_buckets", `(k int, bucket bigint, PRIMARY KEY (k, bucket))`},
	// Audit query tables, written once the events are committed: by key
	// ("tag:…", "actor:…", "type:…") and day of position, and by hour of
	// occurred_at; key_buckets lists each key's days ("time" lists the hours).
	{"events_by_key", `(key text, bucket bigint, ` + eventColDefs + `,
		PRIMARY KEY ((key, bucket), position))`},
	{"events_by_time", `(hour bigint, shard int, ` + eventColDefs + `,
		PRIMARY KEY ((hour, shard), occurred_at, position))`},
	{"key_buckets", `(key text, bucket bigint, PRIMARY KEY (key, bucket))`},
	{"checkpoints", `(name text PRIMARY KEY, position bigint)`},
	// Writer ids (position bits) and leader leases: lightweight transactions with a TTL.
	{"writer_ids", `(id int PRIMARY KEY, owner text)`},
	{"leases", `(name text PRIMARY KEY, owner text)`},
}

var tableIDSpace = uuid.MustParse("5b3c3d1e-8f0e-4a47-9a1e-0c6f2b7f5e10")

// migrate creates the keyspace and the tables if they are missing and waits
// for the cluster to agree on the schema after each change, so that several
// processes may start at once. It runs on a session without a keyspace.
func migrate(ctx context.Context, sess *gocql.Session, cfg Config) error {
	ks := cfg.Keyspace
	stmt := fmt.Sprintf(`CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}`,
		ks, cfg.ReplicationFactor)
	if cfg.DataCenter != "" {
		stmt = fmt.Sprintf(`CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'NetworkTopologyStrategy', '%s': %d}`,
			ks, cfg.DataCenter, cfg.ReplicationFactor)
	}
	// Changes are slow (each waits for schema agreement): skip what exists.
	existing := map[string]bool{}
	it := sess.Query(`SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?`, ks).WithContext(ctx).Iter()
	var name string
	for it.Scan(&name) {
		existing[name] = true
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("cassandra: schema: list tables: %w", err)
	}
	if len(existing) == 0 {
		if err := ddl(ctx, sess, stmt); err != nil {
			return err
		}
	}
	for _, t := range tables {
		if existing[t.name] {
			continue
		}
		id := uuid.NewSHA1(tableIDSpace, []byte(ks+"."+t.name))
		q := "CREATE TABLE IF NOT EXISTS " + ks + "." + t.name + " " + t.ddl
		if strings.Contains(t.ddl, " WITH ") {
			q += " AND ID = '" + id.String() + "'"
		} else {
			q += " WITH ID = '" + id.String() + "'"
		}
		if err := ddl(ctx, sess, q); err != nil {
			return err
		}
	}
	return nil
}

func ddl(ctx context.Context, sess *gocql.Session, stmt string) error {
	if err := sess.Query(stmt).WithContext(ctx).Exec(); err != nil {
		return fmt.Errorf("cassandra: schema: %s: %w", firstLine(stmt), err)
	}
	if err := sess.AwaitSchemaAgreement(ctx); err != nil {
		return fmt.Errorf("cassandra: schema agreement after %s: %w", firstLine(stmt), err)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '('); i > 0 {
		return s[:i]
	}
	return s
}
