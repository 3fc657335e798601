"""The bridge's HTTP side: webhooks, health, and later the public pages and Open311."""
