package neo4j

import (
	"testing"

	"github.com/sregraph/sregraph/graph/graphtest"
)

// TestContract runs the store contract against a real Neo4j, each case on
// an emptied database.
func TestContract(t *testing.T) {
	testConfig(t)
	graphtest.Run(t, func(t *testing.T) graphtest.Store {
		return MustOpen(t, Options{Now: graphtest.Now})
	})
}
