//go:build tools

// Package tools pins oauth2-proxy, which make bench runs beside mcp-oidc-proxy for comparison:
// `go build` it by import path (scripts/ensure-oauth2-proxy.sh).
package tools

import (
	_ "github.com/oauth2-proxy/oauth2-proxy/v7"
)
