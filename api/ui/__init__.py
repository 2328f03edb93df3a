"""The staff workspace under /ui: server-rendered pages over the same service layer as the JSON API."""
