//go:build tools

// Package tools pins vegeta, which make bench uses to send requests at a constant rate
// whatever the answers (an open-model load): `go build` it by import path
// (scripts/ensure-vegeta.sh).
package tools

import (
	_ "github.com/tsenart/vegeta/v12"
)
