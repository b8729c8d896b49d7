package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// eventBridgeEvent is an Amazon EventBridge event envelope.
type eventBridgeEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// autoscalingDetail is the detail of EC2 Auto Scaling launch and
// terminate events.
type autoscalingDetail struct {
	ActivityID           string            `json:"ActivityId"`
	AutoScalingGroupName string            `json:"AutoScalingGroupName"`
	Cause                string            `json:"Cause"`
	Description          string            `json:"Description"`
	Details              map[string]string `json:"Details"`
	EC2InstanceID        string            `json:"EC2InstanceId"`
	StatusCode           string            `json:"StatusCode"`
	StatusMessage        string            `json:"StatusMessage"`
	Origin               string            `json:"Origin"`
	Destination          string            `json:"Destination"`
}

// autoscalingTypes are the detail-types that change a group's capacity,
// with the direction of the change and whether it succeeded.
var autoscalingTypes = map[string][2]string{
	"EC2 Instance Launch Successful":      {"up", "successful"},
	"EC2 Instance Launch Unsuccessful":    {"up", "unsuccessful"},
	"EC2 Instance Terminate Successful":   {"down", "successful"},
	"EC2 Instance Terminate Unsuccessful": {"down", "unsuccessful"},
}

// DecodeAutoscaling decodes Amazon EC2 Auto Scaling events delivered by
// EventBridge (source aws.autoscaling): each instance launch or terminate,
// successful or not, is a scale of the Auto Scaling group
// (detail.AutoScalingGroupName) at the envelope's time, with the envelope
// id as externalId. Other aws.autoscaling detail-types (lifecycle actions,
// instance refreshes) yield no items. One event or a JSON array of events
// is accepted.
func DecodeAutoscaling(body []byte, _ Headers, now time.Time) ([]Item, error) {
	raws, err := jsonList("EventBridge event", body)
	if err != nil {
		return nil, err
	}
	var items []Item
	for i, raw := range raws {
		what := fmt.Sprintf("event %d", i)
		var ev eventBridgeEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			if len(raws) == 1 {
				return nil, undecodable("EventBridge event: " + JSONError(err, raw))
			}
			items = append(items, Item{Err: itemError(what, undecodable(JSONError(err, raw)))})
			continue
		}
		if ev.Source != "aws.autoscaling" {
			msg := fmt.Sprintf("EventBridge source %q is not aws.autoscaling: only EC2 Auto Scaling events are read here", ev.Source)
			if len(raws) == 1 {
				return nil, undecodable(msg)
			}
			items = append(items, Item{Err: graph.Invalidf("%s: %s", what, msg)})
			continue
		}
		if ev.ID != "" {
			what = fmt.Sprintf("event %d (%s)", i, ev.ID)
		}
		change, ok := autoscalingTypes[ev.DetailType]
		if !ok {
			continue
		}
		items = append(items, autoscalingItem(what, ev, change, now))
	}
	return items, nil
}

func autoscalingItem(what string, ev eventBridgeEvent, change [2]string, now time.Time) Item {
	var d autoscalingDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return Item{Err: itemError(what, undecodable("detail: "+JSONError(err, ev.Detail)))}
	}
	if strings.TrimSpace(d.AutoScalingGroupName) == "" {
		return Item{Err: graph.Invalidf("%s: detail.AutoScalingGroupName is empty: it names the service", what)}
	}
	at, err := parseTime("time", ev.Time)
	if err != nil {
		return Item{Err: itemError(what, err)}
	}
	attrs := map[string]any{"detailType": ev.DetailType, "direction": change[0], "outcome": change[1]}
	setIf(attrs, "instanceId", d.EC2InstanceID)
	setIf(attrs, "activityId", d.ActivityID)
	setIf(attrs, "cause", d.Cause)
	setIf(attrs, "statusCode", d.StatusCode)
	setIf(attrs, "statusMessage", d.StatusMessage)
	setIf(attrs, "region", ev.Region)
	setIf(attrs, "account", ev.Account)
	setIf(attrs, "availabilityZone", d.Details["Availability Zone"])
	summary := d.Description
	if summary == "" {
		verb := map[string]string{"up": "launch", "down": "terminate"}[change[0]]
		summary = fmt.Sprintf("%s %s %s", d.AutoScalingGroupName, verb, d.EC2InstanceID)
		if change[1] == "unsuccessful" {
			summary += " failed"
		}
	}
	e := graph.Event{
		Kind:       graph.KindScale,
		Service:    d.AutoScalingGroupName,
		At:         at,
		Source:     "aws-autoscaling",
		ExternalID: ev.ID,
		Summary:    truncate(summary, graph.MaxSummaryLen),
		Attributes: attrs,
	}
	return eventItem(e, now, what)
}
