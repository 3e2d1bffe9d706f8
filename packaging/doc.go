// Package packaging holds what builds the nymwatch Debian package (nfpm.yaml,
// the shipped configuration, maintainer scripts; scripts/package runs it).
// It has no code: its test builds the package and installs it into a
// throwaway root.
package packaging
