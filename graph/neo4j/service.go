package neo4j

import (
	"context"
	"fmt"
	"strings"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/sregraph/sregraph/graph"
)

// serviceFromRecord reads a service from a record with the columns the
// service statements return.
func serviceFromRecord(r *driver.Record) graph.Service {
	m := r.AsMap()
	sv := graph.Service{Name: str(m["name"]), Environment: str(m["environment"]), Owner: str(m["owner"])}
	if t, ok := m["firstSeen"].(time.Time); ok {
		sv.FirstSeen = t.UTC()
	}
	if t, ok := m["lastSeen"].(time.Time); ok {
		sv.LastSeen = t.UTC()
	}
	return sv
}

// Service returns one service by name.
func (s *Store) Service(ctx context.Context, name string) (graph.Service, error) {
	recs, err := s.read(ctx, cypherService, map[string]any{"name": name})
	if err != nil {
		return graph.Service{}, fmt.Errorf("neo4j: service %s: %w", name, err)
	}
	if len(recs) == 0 {
		return graph.Service{}, graph.NotFoundf("service %q not found", name)
	}
	return serviceFromRecord(recs[0]), nil
}

// Services lists services whose name contains the query (ignoring case),
// in name order.
func (s *Store) Services(ctx context.Context, f graph.ServiceFilter) (graph.Page[graph.Service], error) {
	if err := f.Validate(); err != nil {
		return graph.Page[graph.Service]{}, err
	}
	params := map[string]any{"query": strings.ToLower(f.Query), "after": nil, "limit": int64(f.First) + 1}
	if f.After != "" {
		after, err := graph.DecodeNameCursor(f.After)
		if err != nil {
			return graph.Page[graph.Service]{}, err
		}
		params["after"] = after
	}
	recs, err := s.read(ctx, cypherServices, params)
	if err != nil {
		return graph.Page[graph.Service]{}, fmt.Errorf("neo4j: services: %w", err)
	}
	page := graph.Page[graph.Service]{Items: make([]graph.Service, 0, min(len(recs), f.First))}
	for i, r := range recs {
		if i == f.First {
			page.HasNext = true
			break
		}
		page.Items = append(page.Items, serviceFromRecord(r))
	}
	return page, nil
}

// CountServices counts what Services would list, ignoring First and After.
func (s *Store) CountServices(ctx context.Context, f graph.ServiceFilter) (int, error) {
	f.After, f.First = "", 0
	if err := f.Validate(); err != nil {
		return 0, err
	}
	recs, err := s.read(ctx, cypherCountServices, map[string]any{"query": strings.ToLower(f.Query)})
	if err != nil {
		return 0, fmt.Errorf("neo4j: count services: %w", err)
	}
	return countOf(recs)
}
