"""Registry: regions, systems, organisations, sites, collaboratives and who belongs to what."""
