// Package testutil is the scaffolding nymwatch's tests share: one fake
// clock, one synchronized buffer for capturing logs and child output, one
// switch for tests that need an external binary ("integration required"),
// one wait-on-a-condition helper, and one reader for the Nym API fixtures.
//
// It holds no _test.go code so that every package's tests can import it;
// production code never does. It imports nothing from nymwatch, so even
// the lowest packages (store, probes) can use it without a cycle.
package testutil
