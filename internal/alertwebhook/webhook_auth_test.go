package alertwebhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nymwatch/nymwatch/internal/authn"
)

// The token check compares SHA-256 digests in constant time, so neither the
// token nor its length leaks through timing, and the handler keeps no copy
// of the raw token.
func TestWebhookTokenHashed(t *testing.T) {
	token := []byte("s3cret-webhook-token\n") // token files end in a newline
	h, ok := NewHandler(Options{Token: token, Sink: (&sinkRecorder{}).sink}).(*webhook)
	if !ok {
		t.Fatal("NewHandler did not return *webhook")
	}
	if h.o.Token != nil {
		t.Fatalf("handler keeps the raw token (%d bytes); want only its digest", len(h.o.Token))
	}
	if !h.token.Equal(authn.NewToken([]byte("s3cret-webhook-token"))) {
		t.Fatal("handler's token digest is not the digest of the trimmed token")
	}
	body := amPayload(amAlert("firing", map[string]string{"alertname": "A"}, "2026-05-16T11:58:00Z", zeroTime, ""))
	for _, tc := range []struct {
		auth string
		code int
	}{
		{"Bearer s3cret-webhook-token", http.StatusOK},
		{"bearer  s3cret-webhook-token ", http.StatusOK},
		{"Bearer s3cret-webhook-toke", http.StatusUnauthorized},   // prefix
		{"Bearer s3cret-webhook-token2", http.StatusUnauthorized}, // extension
		{"Bearer ", http.StatusUnauthorized},
		{"Basic s3cret-webhook-token", http.StatusUnauthorized},
		{"", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/alertmanager", bytes.NewReader(body))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("Authorization %q: got %d, want %d", tc.auth, rec.Code, tc.code)
		}
	}
}
