package ingest

import (
	"fmt"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

func TestAutoscalingDetailTypes(t *testing.T) {
	tests := []struct {
		detailType         string
		direction, outcome string // "" = ignored
	}{
		{"EC2 Instance Launch Successful", "up", "successful"},
		{"EC2 Instance Launch Unsuccessful", "up", "unsuccessful"},
		{"EC2 Instance Terminate Successful", "down", "successful"},
		{"EC2 Instance Terminate Unsuccessful", "down", "unsuccessful"},
		{"EC2 Instance-launch Lifecycle Action", "", ""},
		{"EC2 Auto Scaling Instance Refresh Started", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.detailType, func(t *testing.T) {
			body := fmt.Sprintf(`{"version":"0","id":"env-1","detail-type":%q,"source":"aws.autoscaling","account":"1","time":"2026-11-21T11:00:00Z",
				"region":"eu-west-1","resources":[],"detail":{"AutoScalingGroupName":"web-asg","EC2InstanceId":"i-1","StatusCode":"InProgress"}}`, tt.detailType)
			items := mustDecode(t, DecodeAutoscaling, body, nil)
			if tt.direction == "" {
				if len(items) != 0 {
					t.Fatalf("got %+v, want nothing", items)
				}
				return
			}
			e := mustEvent(t, items)
			if e.Kind != graph.KindScale || e.Service != "web-asg" || e.ExternalID != "env-1" ||
				e.Attributes["direction"] != tt.direction || e.Attributes["outcome"] != tt.outcome {
				t.Errorf("got %+v", e)
			}
		})
	}
}

func TestAutoscalingOtherSource(t *testing.T) {
	_, err := DecodeAutoscaling([]byte(`{"id":"1","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","time":"2026-11-21T11:00:00Z","detail":{}}`), nil, testNow)
	if err == nil {
		t.Fatal("an aws.ec2 event was accepted")
	}
	checkItems(t, nil, err)
}

func FuzzDecodeAutoscaling(f *testing.F) { fuzzDecoder(f, FormatAutoscaling, DecodeAutoscaling) }
