"""Who is calling: local tokens and passwords, OIDC issuers, account checks, Svix signatures."""
