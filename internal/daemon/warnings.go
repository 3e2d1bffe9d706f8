package daemon

import (
	"log/slog"

	"github.com/nymwatch/nymwatch/config"
)

// logWarnings logs what check-config warns about, so an operator who never
// ran it still reads it (at start-up and after every reload).
func logWarnings(log *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings() {
		log.Warn("config warning", "key", w.Key, "warning", w.Msg)
	}
}
