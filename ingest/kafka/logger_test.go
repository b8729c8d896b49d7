package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
)

// kafka-go reports the end of its goroutines at a stop, and every group
// rebalance, as errors; they must not reach the log as warnings, while
// real failures still do.
func TestKafkaLoggerCleanStopIsNotAWarning(t *testing.T) {
	wrapped := fmt.Errorf("fetch: %w", context.Canceled)
	tests := []struct {
		name     string
		stopping bool
		format   string
		args     []any
		level    string
	}{
		{"reader partition cancelled", false, "the kafka reader got an unknown error reading partition %d of %s at offset %d: %s", []any{3, "sre.deploys", 42, context.Canceled}, "DEBUG"},
		{"join cancelled, wrapped", false, "Failed to join group %s: %v", []any{"sregraph", wrapped}, "DEBUG"},
		{"deadline", false, "leave group failed for group, %v, and member, %v: %v", []any{"sregraph", "m-1", context.DeadlineExceeded}, "DEBUG"},
		{"anything once stopping", true, "failed to read from current broker for partition %d of %s at offset %d: %v", []any{1, "sre.slo", 7, io.ErrUnexpectedEOF}, "DEBUG"},
		{"a real failure", false, "failed to read from current broker for partition %d of %s at offset %d: %v", []any{1, "sre.slo", 7, errors.New("dial tcp 10.0.0.1:9092: connect: connection refused")}, "WARN"},
		{"a group rebalance", false, "Failed to sync group %s: %v", []any{"sregraph", kafka.RebalanceInProgress}, "DEBUG"},
		{"a group rebalance alone", false, "%v", []any{kafka.RebalanceInProgress}, "DEBUG"},
		{"another group error", false, "Failed to join group %s: %v", []any{"sregraph", kafka.GroupAuthorizationFailed}, "WARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			kafkaLogger(l, slog.LevelWarn, func() bool { return tt.stopping }).Printf(tt.format, tt.args...)
			if !strings.Contains(buf.String(), "level="+tt.level+" ") {
				t.Errorf("logged %q, want level %s", buf.String(), tt.level)
			}
		})
	}
}
