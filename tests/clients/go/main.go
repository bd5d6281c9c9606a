// Sends records to a forward server with fluent-logger-golang, synchronously (Async
// false) and asking for acks (RequestAck), and exits 0 once every Post returned.
//
//	forward-client PORT COUNT [TAG]
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: forward-client PORT COUNT [TAG]")
		os.Exit(64)
	}
	port, _ := strconv.Atoi(os.Args[1])
	count, _ := strconv.Atoi(os.Args[2])
	tag := "weblogs.go"
	if len(os.Args) > 3 {
		tag = os.Args[3]
	}
	logger, err := fluent.New(fluent.Config{
		FluentHost:         "127.0.0.1",
		FluentPort:         port,
		Async:              false,
		RequestAck:         true,
		SubSecondPrecision: true,
		Timeout:            10 * time.Second,
		WriteTimeout:       10 * time.Second,
		MaxRetry:           3,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer logger.Close()
	for i := 0; i < count; i++ {
		record := map[string]interface{}{
			"sessionID": "go-client",
			"url":       fmt.Sprintf("/go/%d", i),
			"status":    200,
		}
		at := time.Unix(1700000000+int64(i), 987654321)
		if err := logger.PostWithTime(tag, at, record); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
