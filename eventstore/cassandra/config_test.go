package cassandra

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := Config{Hosts: []string{"a b"}, Keyspace: "Bad-Name", ReplicationFactor: 99, Consistency: "SOMETIMES",
		FeedDelay: time.Millisecond, AbandonAfter: time.Millisecond}.WithDefaults().Validate()
	for _, want := range []string{"bad host", "bad keyspace", "replication factor", "unknown consistency", "feed delay", "abandon-after"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if err := (Config{}).WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "no hosts") {
		t.Errorf("no hosts: %v", err)
	}
	good := Config{Hosts: []string{"127.0.0.1:9042"}, Consistency: "local_quorum"}.WithDefaults()
	if err := good.Validate(); err != nil || good.Keyspace != "examhall" || good.ReplicationFactor != 3 {
		t.Errorf("defaults %+v: %v", good, err)
	}
}

func TestOpenFailsLoudly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := Open(ctx, Config{Hosts: []string{"127.0.0.1:1"}, Timeout: 2 * time.Second}); err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if _, err := Open(ctx, Config{}); err == nil {
		t.Fatal("Open without hosts succeeded")
	}
}
