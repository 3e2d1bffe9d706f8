// Package nymapi is nymwatch's client of the Nym network's directory: the
// nym-api response shapes and their hostile-input decoding (nymapi.go), the
// directory client with its retries and limits (directory.go), the
// discovery loop that refreshes it (directory_discovery.go) and the last
// good directory kept in SQLite across restarts (dirstore.go). It builds
// probes.Node values; package probes turns them into targets.
package nymapi
