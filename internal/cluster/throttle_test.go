package cluster

import (
	"net/http"
	"testing"

	"github.com/nymwatch/nymwatch/internal/authn"
)

// TestHandlerThrottlesGuesses: wrong tokens on the view are counted with
// the shared throttle; once a client is blocked even the right token is
// refused (429) before it is compared.
func TestHandlerThrottlesGuesses(t *testing.T) {
	srv, _ := server(t, "b", fixedNow(t0))
	get := func(token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+ViewPath, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// Missing tokens are not guesses.
	for range authn.DefaultFailuresPerClient + 1 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+ViewPath, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if resp := get(clusterToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("after anonymous requests: %d", resp.StatusCode)
	}
	for i := range authn.DefaultFailuresPerClient {
		if resp := get("wrong-token-of-the-same-size-" + string(rune('a'+i))); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp := get(clusterToken)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("blocked client with the right token: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
