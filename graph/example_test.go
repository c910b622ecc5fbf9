package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/licensefix/licensefix/graph"
)

// Example calls the reprocess action on a local stand-in for Graph, once
// for a user that exists and once for one that does not.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-id", "5f6c1c1e-0000-4000-8000-000000000001")
		if strings.Contains(r.URL.Path, "/users/alice@contoso.com/") {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"code":"Request_ResourceNotFound","message":"Resource does not exist."}}`)
	}))
	defer srv.Close()

	client, err := graph.New(graph.Config{
		RootURL: srv.URL,
		Auth:    graph.AuthNone, // allowed only for a loopback RootURL; production uses AuthAzure
	})
	if err != nil {
		panic(err)
	}

	res, err := client.Reprocess(context.Background(), "alice@contoso.com")
	fmt.Println(res.StatusCode, res.RequestID, err)

	_, err = client.Reprocess(context.Background(), "nobody@contoso.com")
	var gerr *graph.Error
	if errors.As(err, &gerr) {
		fmt.Println(gerr.StatusCode, gerr.Code, graph.ClassOf(err))
	}
	// Output:
	// 200 5f6c1c1e-0000-4000-8000-000000000001 <nil>
	// 404 Request_ResourceNotFound permanent
}

func ExampleNew_validation() {
	_, err := graph.New(graph.Config{Cloud: graph.CloudUSGov, API: graph.APIBeta})
	fmt.Println(err)
	_, err = graph.New(graph.Config{Auth: graph.AuthNone, RootURL: "https://graph.example.com"})
	fmt.Println(err)
	// Output:
	// graph: LICENSEFIX_GRAPH_API=beta is only available in the global cloud (LICENSEFIX_GRAPH_CLOUD=usgov); use LICENSEFIX_GRAPH_API=v1
	// graph: LICENSEFIX_GRAPH_AUTH=none requires a loopback LICENSEFIX_GRAPH_URL
}

func ExampleCloud_Scope() {
	c, err := graph.ParseCloud("usgov")
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Root())
	fmt.Println(c.Scope())
	// Output:
	// https://graph.microsoft.us
	// https://graph.microsoft.us/.default
}
