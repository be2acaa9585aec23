package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
)

// Broker is a broker of its own, started by this process through
// scripts/kafka.sh on free loopback ports and a private data folder: for
// tests that stop, kill and restart it.
type Broker struct {
	Addr           string // 127.0.0.1:Port, the bootstrap address
	Port           int
	ControllerPort int
	Dir            string // data, logs (Dir/logs/server.log) and config
}

// Start starts a private broker, waits until it answers and stops it (and
// removes its data) when the test ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	b, err := startBroker()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.stop("stop"); err != nil {
			t.Error(err)
		}
		_ = os.RemoveAll(b.Dir)
	})
	b.waitReady(t)
	return b
}

// Brokers is the bootstrap list of the broker.
func (b *Broker) Brokers() []string { return []string{b.Addr} }

// Kill sends the broker SIGKILL (a crash: nothing flushed, nothing closed)
// and returns once the process is gone. Its data stay for Restart. It
// returns an error rather than failing the test, so a test may kill the
// broker from any goroutine while its load runs.
func (b *Broker) Kill() error { return b.stop("kill") }

// Restart starts the broker again on the same ports and data and returns
// once it answers (any goroutine, like Kill).
func (b *Broker) Restart() error {
	if _, err := script(b.env(), "start"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	return WaitReady(ctx, b.Brokers())
}

func (b *Broker) waitReady(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := WaitReady(ctx, b.Brokers()); err != nil {
		t.Fatal(err)
	}
}

func (b *Broker) env() []string {
	return []string{
		"EXAM_KAFKA_PORT=" + strconv.Itoa(b.Port),
		"EXAM_KAFKA_CONTROLLER_PORT=" + strconv.Itoa(b.ControllerPort),
		"EXAM_KAFKA_DIR=" + b.Dir,
		// The broker goes when this test binary goes, however it ends.
		"EXAM_KAFKA_OWNER_PID=" + strconv.Itoa(os.Getpid()),
	}
}

func (b *Broker) stop(verb string) error {
	_, err := script(b.env(), verb)
	return err
}

// startBroker picks two free loopback ports and a data folder and starts a
// broker there.
func startBroker() (*Broker, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "examhall-kafkatest-")
	if err != nil {
		return nil, fmt.Errorf("kafkatest: %w", err)
	}
	b := &Broker{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), Port: ports[0], ControllerPort: ports[1], Dir: dir}
	if _, err := script(b.env(), "start"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return b, nil
}

// freePorts asks the kernel for n distinct free loopback ports (held open
// together so they differ, then released for the broker).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("kafkatest: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
