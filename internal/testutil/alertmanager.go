package testutil

import "encoding/json"

// AMZeroTime is how Alertmanager writes an unset endsAt.
const AMZeroTime = "0001-01-01T00:00:00Z"

// AMPayload builds an Alertmanager v4 webhook body around alerts (made
// with AMAlert), as Alertmanager's webhook notifier posts it.
func AMPayload(alerts ...map[string]any) []byte {
	msg := map[string]any{
		"version": "4", "groupKey": `{}:{alertname="X"}`, "truncatedAlerts": 0, "status": "firing",
		"receiver": "nymwatch", "groupLabels": map[string]string{}, "commonLabels": map[string]string{},
		"commonAnnotations": map[string]string{}, "externalURL": "http://am.example:9093", "alerts": alerts,
	}
	b, err := json.Marshal(msg)
	if err != nil {
		panic(err) // only maps of strings and numbers: cannot fail
	}
	return b
}

// AMAlert is one alert of a webhook body; times are RFC 3339 strings so a
// test can send malformed ones.
func AMAlert(status string, labels map[string]string, startsAt, endsAt string, fp string) map[string]any {
	return map[string]any{
		"status": status, "labels": labels, "annotations": map[string]string{"summary": "something happened"},
		"startsAt": startsAt, "endsAt": endsAt, "generatorURL": "http://prom.example/graph", "fingerprint": fp,
	}
}
