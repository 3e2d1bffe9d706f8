// Package docs holds nymwatch's reference documentation (Markdown). It has no
// code: its test keeps the links between README.md and these pages working.
package docs
