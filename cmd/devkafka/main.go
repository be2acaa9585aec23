// Command devkafka runs an in-memory Kafka-compatible broker (franz-go's
// kfake, which speaks the real Kafka wire protocol) for trying the
// distributed mode on one machine without installing Kafka:
//
//	devkafka -addr 127.0.0.1:9092
//
// By default it keeps everything in memory: stopping it loses every topic,
// which the platform survives (see docs/operations.md); -data DIR persists
// the topics. It listens on loopback only. For production use a real Kafka
// cluster.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9092", "127.0.0.1:port to listen on (loopback only)")
	dataDir := flag.String("data", "", "directory to persist topics in (empty: memory only)")
	flag.Parse()
	_, portText, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devkafka: -addr:", err)
		os.Exit(2)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devkafka: -addr port:", err)
		os.Exit(2)
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port)}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devkafka:", err)
		os.Exit(1)
	}
	fmt.Println("devkafka listening on", cluster.ListenAddrs())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	cluster.Close()
}
