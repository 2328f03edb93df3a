"""Webhook delivery: Standard Webhooks signing, the deliverer and the worker process."""
