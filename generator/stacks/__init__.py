"""Stack assemblies: each composes components into one deployable template."""
