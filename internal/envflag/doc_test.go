package envflag_test

import (
	"fmt"
	"os"

	"github.com/licensefix/licensefix/internal/envflag"
)

func ExampleSet() {
	env := map[string]string{"LICENSEFIX_CONCURRENCY": "8"}
	s := envflag.New("run", func(k string) string { return env[k] }, os.Stdout)
	var queue string
	var concurrency int
	s.String(&queue, "queue", "LICENSEFIX_QUEUE", "license-fixed", "queue to consume")
	s.Int(&concurrency, "concurrency", "LICENSEFIX_CONCURRENCY", 16, "messages in hand at most")
	if err := s.Parse([]string{"--queue", "other"}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(queue, concurrency)
	fmt.Println(s.Invalid("LICENSEFIX_CONCURRENCY", "must be at least 1"))
	// Output:
	// other 8
	// invalid setting LICENSEFIX_CONCURRENCY (--concurrency): must be at least 1
}
