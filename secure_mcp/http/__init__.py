"""The HTTP transports: bearer-token auth, Host/Origin checks, the health route."""
