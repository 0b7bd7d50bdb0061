"""Local stand-ins for remote services, reached by the real SDK clients over HTTP."""
