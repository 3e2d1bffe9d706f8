package testenv

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
)

// The environment is a working store + service + API: an applied anomaly
// becomes a draft, readable with either token and refused without one.
func TestEnvServesIncidentsWithItsTokens(t *testing.T) {
	e := New(t, Options{})
	if !e.Clock.Now().Equal(Start()) {
		t.Errorf("clock starts at %v, want %v", e.Clock.Now(), Start())
	}
	at := e.Clock.Now()
	e.Apply(t, detector.Anomaly{
		ID: "service/nym-api@1", Component: "service/nym-api", Class: detector.ClassOperational,
		Architecture: detector.ArchCentralized, Title: "nym-api failing", Reason: "503 for 3 probes", Source: "probe",
		Affected: []string{"service/nym-api"}, LastHealthy: at.Add(-time.Minute), FirstSeen: at, DetectedAt: at.Add(time.Minute),
	}, at.Add(time.Minute))
	incs, err := e.Service.List(t.Context(), disclosure.Filter{State: disclosure.StateDraft})
	if err != nil || len(incs) != 1 {
		t.Fatalf("drafts: %v, %v", incs, err)
	}
	api, err := disclosure.NewAPI(e.APIOptions())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	for token, want := range map[string]int{OperatorToken: http.StatusOK, ViewerToken: http.StatusOK, "": http.StatusUnauthorized} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/incidents/"+incs[0].ID, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("token %q: %d, want %d", token, rec.Code, want)
		}
	}
}

// Options.Service reaches the service, and Options.DB is used as given.
func TestEnvOptions(t *testing.T) {
	called := false
	first := New(t, Options{})
	e := New(t, Options{DB: first.DB, Service: func(o *disclosure.ServiceOptions) {
		called = o.DB == first.DB
	}})
	if !called || e.DB != first.DB {
		t.Error("the given store or the service hook was not used")
	}
}
