// Package httpcheck talks to a running sregraph over HTTP for the deploy
// module's tests: the image under podman and the chart's configuration
// run by the real binary.
package httpcheck

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Call sends one request with an optional bearer token and JSON body and
// returns the status and the body; a transport failure fails the test.
func Call(ctx context.Context, t testing.TB, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer of %s %s: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}
