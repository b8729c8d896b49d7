package resolvers

import "github.com/sregraph/sregraph/graph"

// PageInfo is GitHub-style pagination state.
type PageInfo struct {
	HasNextPage bool    `json:"hasNextPage"`
	EndCursor   *string `json:"endCursor"`
}

// ServiceEdge is one service with its cursor.
type ServiceEdge struct {
	Cursor string        `json:"cursor"`
	Node   graph.Service `json:"node"`
}

// ServiceConnection is a page of services; its total is counted only when
// asked for.
type ServiceConnection struct {
	Nodes    []graph.Service `json:"nodes"`
	Edges    []ServiceEdge   `json:"edges"`
	PageInfo PageInfo        `json:"pageInfo"`
	filter   graph.ServiceFilter
}

// EventEdge is one event with its cursor.
type EventEdge struct {
	Cursor string      `json:"cursor"`
	Node   graph.Event `json:"node"`
}

// EventConnection is a page of events; its total is counted only when
// asked for.
type EventConnection struct {
	Nodes    []graph.Event `json:"nodes"`
	Edges    []EventEdge   `json:"edges"`
	PageInfo PageInfo      `json:"pageInfo"`
	filter   graph.EventFilter
}

// BreachEdge is one breach with its cursor.
type BreachEdge struct {
	Cursor string       `json:"cursor"`
	Node   graph.Breach `json:"node"`
}

// BreachConnection is a page of breaches; its total is counted only when
// asked for.
type BreachConnection struct {
	Nodes    []graph.Breach `json:"nodes"`
	Edges    []BreachEdge   `json:"edges"`
	PageInfo PageInfo       `json:"pageInfo"`
	filter   graph.EventFilter
}

func pageInfo(hasNext bool, last string) PageInfo {
	pi := PageInfo{HasNextPage: hasNext}
	if last != "" {
		pi.EndCursor = &last
	}
	return pi
}

func serviceConnection(p graph.Page[graph.Service], f graph.ServiceFilter) *ServiceConnection {
	c := &ServiceConnection{Nodes: p.Items, Edges: make([]ServiceEdge, len(p.Items)), filter: f}
	last := ""
	for i, s := range p.Items {
		last = graph.EncodeNameCursor(s.Name)
		c.Edges[i] = ServiceEdge{Cursor: last, Node: s}
	}
	c.PageInfo = pageInfo(p.HasNext, last)
	return c
}

func eventConnection(p graph.Page[graph.Event], f graph.EventFilter) *EventConnection {
	c := &EventConnection{Nodes: p.Items, Edges: make([]EventEdge, len(p.Items)), filter: f}
	last := ""
	for i, e := range p.Items {
		last = graph.EncodeCursor(e.At, e.ID)
		c.Edges[i] = EventEdge{Cursor: last, Node: e}
	}
	c.PageInfo = pageInfo(p.HasNext, last)
	return c
}

func breachConnection(p graph.Page[graph.Event], f graph.EventFilter) *BreachConnection {
	c := &BreachConnection{Nodes: make([]graph.Breach, len(p.Items)), Edges: make([]BreachEdge, len(p.Items)), filter: f}
	last := ""
	for i, e := range p.Items {
		b := graph.BreachOf(e)
		last = graph.EncodeCursor(e.At, e.ID)
		c.Nodes[i] = b
		c.Edges[i] = BreachEdge{Cursor: last, Node: b}
	}
	c.PageInfo = pageInfo(p.HasNext, last)
	return c
}
