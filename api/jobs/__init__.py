"""Work a request leaves to the server's worker processes: jobs, claimed with a lease."""
