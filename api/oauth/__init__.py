"""SMART Backend Services: registered clients, the token endpoint (client_credentials + private_key_jwt)."""
