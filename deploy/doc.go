// Package deploy holds what an operator installs next to nymwatch: the
// Prometheus alerting rules about nymwatch itself (prometheus/). It has no
// code; its tests run promtool over the rules.
package deploy
