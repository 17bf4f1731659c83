"""Picture: the shared live view of a collaborative, as now or as at any past moment."""
