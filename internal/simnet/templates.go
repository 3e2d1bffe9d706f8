package simnet

import (
	"embed"
	"encoding/json"
	"fmt"
)

// templateFS holds copies of the nym-reference fixtures whose constant parts
// (build information, Lewes protocol KEM key hashes) the network serves.
//
//go:embed templates/*.json
var templateFS embed.FS

// buildInfo is BinaryBuildInformationOwned.
type buildInfo struct {
	BinaryName      string `json:"binary_name"`
	BuildTimestamp  string `json:"build_timestamp"`
	BuildVersion    string `json:"build_version"`
	CommitSHA       string `json:"commit_sha"`
	CommitTimestamp string `json:"commit_timestamp"`
	CommitBranch    string `json:"commit_branch"`
	RustcVersion    string `json:"rustc_version"`
	RustcChannel    string `json:"rustc_channel"`
	CargoProfile    string `json:"cargo_profile"`
	CargoTriple     string `json:"cargo_triple"`
}

type templates struct {
	// nodeBuild is nym-node's build information by build_version.
	nodeBuild map[string]json.RawMessage
	apiBuild  json.RawMessage
	kemKeys   json.RawMessage
}

func readTemplate(name string, v any) error {
	b, err := templateFS.ReadFile("templates/" + name)
	if err != nil {
		return fmt.Errorf("simnet: template %s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("simnet: template %s: %w", name, err)
	}
	return nil
}

func loadTemplates() (templates, error) {
	var t templates
	var nb buildInfo
	if err := readTemplate("nym-node_api_v1_build-information.json", &nb); err != nil {
		return t, err
	}
	t.nodeBuild = make(map[string]json.RawMessage)
	for _, v := range []string{"1.31.0", "1.30.0", "1.29.0"} {
		b := nb
		b.BuildVersion = v
		raw, err := json.Marshal(b)
		if err != nil {
			return t, fmt.Errorf("simnet: build information: %w", err)
		}
		t.nodeBuild[v] = raw
	}
	var ab buildInfo
	if err := readTemplate("nym-api_v1_api-status_build-information.json", &ab); err != nil {
		return t, err
	}
	raw, err := json.Marshal(ab)
	if err != nil {
		return t, fmt.Errorf("simnet: build information: %w", err)
	}
	t.apiBuild = raw

	var described struct {
		Data []struct {
			Description struct {
				LewesProtocol *struct {
					Content struct {
						KemKeys json.RawMessage `json:"kem_keys"`
					} `json:"content"`
				} `json:"lewes_protocol"`
			} `json:"description"`
		} `json:"data"`
	}
	if err := readTemplate("nym-api_v2_nym-nodes_described.json", &described); err != nil {
		return t, err
	}
	for _, d := range described.Data {
		if lp := d.Description.LewesProtocol; lp != nil && len(lp.Content.KemKeys) > 0 {
			t.kemKeys = lp.Content.KemKeys
			break
		}
	}
	if t.kemKeys == nil {
		return t, fmt.Errorf("simnet: template nym-api_v2_nym-nodes_described.json has no lewes_protocol kem_keys")
	}
	return t, nil
}
