// kstatus: what Flux, `kubectl wait`-style tooling and cli-utils conclude from a resource's
// status, computed by the real library (sigs.k8s.io/cli-utils/pkg/kstatus). Reads one object
// as JSON on stdin, prints "<Status>\t<message>" (Current, InProgress, Failed, …).
// The operator's tests use it to pin how McpOidcProxy conditions read to that tooling.
package main

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	object := &unstructured.Unstructured{}
	if err := object.UnmarshalJSON(data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	result, err := status.Compute(object)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("%s\t%s\n", result.Status, result.Message)
}
