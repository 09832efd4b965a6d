// Command etcd runs a single-member etcd for the test control plane.
//
// It exists because no package registry ships an etcd matching the
// kube-apiserver we build; embedding the server from the etcd Go module keeps
// the whole control plane buildable from the Go module proxy alone.
package main

import (
	"flag"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func mustURL(raw string) url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		log.Fatalf("bad URL %q: %v", raw, err)
	}
	return *u
}

func main() {
	dataDir := flag.String("data-dir", "", "directory for etcd's data (required)")
	clientURL := flag.String("client-url", "http://127.0.0.1:2379", "URL to serve clients on")
	peerURL := flag.String("peer-url", "http://127.0.0.1:2380", "URL to serve peers on (unused by a single member, but etcd binds it)")
	flag.Parse()
	if *dataDir == "" {
		log.Fatal("--data-dir is required")
	}

	cfg := embed.NewConfig()
	cfg.Dir = *dataDir
	cfg.LogLevel = "warn"
	// Test data is thrown away after the session: fsync only slows a busy machine down.
	cfg.UnsafeNoFsync = true
	cfg.ListenClientUrls = []url.URL{mustURL(*clientURL)}
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	cfg.ListenPeerUrls = []url.URL{mustURL(*peerURL)}
	cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)

	server, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("etcd did not start: %v", err)
	}
	select {
	case <-server.Server.ReadyNotify():
		log.Printf("etcd ready on %s", *clientURL)
	case <-time.After(5 * time.Minute):
		server.Server.Stop()
		log.Fatal("etcd was not ready after 5 minutes")
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-signals:
		log.Printf("etcd stopping on %s", sig)
		server.Close()
	case err := <-server.Err():
		log.Fatalf("etcd failed: %v", err)
	}
}
