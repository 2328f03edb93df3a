"""What the standards views share: the codes (codes.py), the public URL, JWT verification and replay."""
