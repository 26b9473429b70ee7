"""Online serving on Ray Serve: thin deployments over the shared ``inference`` core."""
