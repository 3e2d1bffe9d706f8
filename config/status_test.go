package config

import (
	"strings"
	"testing"
)

func TestStatusListen(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"off by default", "", ""},
		{"own port", "status:\n  listen: 127.0.0.1:9479\n", ""},
		{"same as listen", "listen: 127.0.0.1:9478\nstatus:\n  listen: 127.0.0.1:9478\n", "cfg.yaml:3: status.listen: \"127.0.0.1:9478\" must differ from listen"},
		{"same port on a wildcard", "status:\n  listen: 0.0.0.0:9478\n", "cfg.yaml:2: status.listen: \"0.0.0.0:9478\" must differ from listen"},
		{"not host:port", "status:\n  listen: nowhere\n", "cfg.yaml:2: status.listen: \"nowhere\" is not host:port"},
		{"empty name", "status:\n  name: \" \"\n", "cfg.yaml:2: status.name: must be one non-empty line"},
		{"url with query", "status:\n  external_url: https://status.example/?a=b\n", "cfg.yaml:2: status.external_url: must not have a query or fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "cfg.yaml", t.TempDir())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.Status.Name != DefaultStatusName {
					t.Errorf("name = %q", c.Status.Name)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
