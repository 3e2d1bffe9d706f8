package main

import (
	_ "github.com/go-co-op/gocron/v2"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/prometheus/client_golang/prometheus/collectors"
	_ "github.com/prometheus/client_golang/prometheus/collectors/version"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/common/config"
	_ "github.com/prometheus/common/promslog"
	_ "github.com/prometheus/common/version"
	_ "github.com/prometheus/common/model"
	_ "go.yaml.in/yaml/v2"
	_ "modernc.org/sqlite"
	_ "golang.org/x/sys/unix"
)

func main() {}
